/** A call's inputs checked against the manifest, and outputs in the types callers exchange. */
import { SeecError } from "./errors.js";
import type { Manifest, TensorSpec } from "./manifest.js";
import type { Feeds, Outputs } from "./artifact.js";
import { arrayOf, type TensorData } from "./tensor.js";
import type { Tokenizer } from "./tokenizers/index.js";
import { SentencePieceTokenizer } from "./tokenizers/sentencepiece.js";

// Inputs and outputs by name, as the typings every artifact ships define them.
export type { Feeds, Outputs } from "./artifact.js";

export interface CheckedFeeds {
  /** Each input as the dtype the model computes in. */
  inputs: { spec: TensorSpec; data: Int32Array | Float32Array }[];
  /** The symbolic dimensions this call binds (T: its token count). */
  bound: Record<string, number>;
}

/** Every input present, of its type and a shape the model allows; token ids and positions in range. */
export function checkFeeds(manifest: Manifest, feeds: Readonly<Record<string, TensorData>>): CheckedFeeds {
  for (const name of Object.keys(feeds))
    if (!manifest.inputs.some((i) => i.name === name))
      throw new SeecError(
        "runtime.input",
        `unknown input "${name}"; the model's inputs are ${manifest.inputs.map((i) => i.name).join(", ")}`,
      );
  const bound: Record<string, number> = {};
  const inputs = manifest.inputs.map((spec) => {
    const fed = feeds[spec.name];
    if (!fed) throw new SeecError("runtime.input", `missing input "${spec.name}"`);
    const data = toDtype(spec, fed);
    const fixed = spec.shape.reduce<number>((a, d) => (typeof d === "number" ? a * d : a), 1);
    const sym = spec.shape.find((d): d is string => typeof d === "string");
    const n = sym ? data.length / fixed : 1;
    // A packed encoder's call may hold no text; an ONNX graph's (embed() included) runs at least one token.
    const min = manifest.model.family === "encoder" && !manifest.model.embedding ? 0 : 1;
    const max = sym ? manifest.dims[sym].max : 0;
    const ok = sym ? Number.isInteger(n) && n >= min && n <= max && (bound[sym] ?? n) === n : data.length === fixed;
    if (!ok)
      throw new SeecError(
        "runtime.input",
        `input "${spec.name}" has ${data.length} elements; shape [${spec.shape.join(", ")}] allows ${sym ? `${min} to ${max} × ${fixed}` : fixed}`,
      );
    if (sym) bound[sym] = n;
    if (spec.name === "tokens") checkTokens(data as Int32Array, manifest.model.config.vocabSize);
    return { spec, data };
  });
  checkPosition(manifest, feeds, bound);
  checkLengths(manifest, inputs, bound);
  return { inputs, bound };
}

/** Elements of a tensor in a call that binds `bound`. */
export function elementsOf(spec: TensorSpec, bound: Record<string, number>): number {
  return dimsOf(spec, bound).reduce((a, d) => a * d, 1);
}

/** A tensor's shape in a call that binds `bound` (the token count T, ...). */
export function dimsOf(spec: TensorSpec, bound: Record<string, number>): number[] {
  return spec.shape.map((d) => (typeof d === "number" ? d : bound[d]));
}

/** One text's call of an encoder: its feeds, and its embedding from the call's outputs. */
export interface TextCall {
  feeds: Feeds;
  vector(outputs: Outputs): Float32Array;
}

/** An encoder's call for one text (tokens clipped to the model's maximum length); its first output is the embedding. */
export function embeddingFeeds(manifest: Manifest, tokenizer: Tokenizer | undefined): (text: string) => TextCall {
  const encode = textTokens(manifest, tokenizer);
  const output = manifest.outputs[0].name;
  return (text) => ({ feeds: { tokens: encode(text) }, vector: (o) => o[output] as Float32Array });
}

/** A text's token ids as an encoder takes them, clipped to its maximum length; runtime.family unless it is one. */
export function textTokens(manifest: Manifest, tokenizer: Tokenizer | undefined): (text: string) => Int32Array {
  if (manifest.model.family !== "encoder" || !(tokenizer instanceof SentencePieceTokenizer))
    throw new SeecError("runtime.family", "embed() needs an encoder artifact with its tokenizer", {
      hint:
        manifest.model.family === "decoder"
          ? "a decoder generates: use generate()"
          : "an imported graph embeds when built with --tokenizer tokenizer.json --pooling mean|cls|none",
    });
  const max = manifest.model.config.maxLength;
  return (text) => Int32Array.from(tokenizer.encode(text).slice(0, max));
}

/**
 * An output as callers take it, in its element type's typed array (tensor.ts), wrapping as that
 * type's arithmetic does: uint8 300 is 44, int16 40000 is -25536; uint64 reads the i32 as unsigned.
 */
export function exchanged(spec: TensorSpec, data: Int32Array | Float32Array): TensorData {
  const To = arrayOf(spec);
  if (To === data.constructor) return data;
  if (To === BigInt64Array) return BigInt64Array.from(data, (x) => BigInt(x));
  if (To === BigUint64Array) return BigUint64Array.from(data, (x) => BigInt(x >>> 0));
  return (To as Float64ArrayConstructor).from(data);
}

/**
 * step()'s arguments, before they become Int32Arrays (which would wrap 2^32 to 0, NaN to 0, 1.5 to
 * 1 and 'x' to 0): token ids whole numbers in the vocabulary, the position a whole number, and
 * every position the call fills inside the context.
 */
export function checkStep(manifest: Manifest, tokens: readonly number[], pos: number): void {
  if (!Array.isArray(tokens) && !ArrayBuffer.isView(tokens))
    throw new SeecError("runtime.input", `step() takes a list of token ids, got ${describe(tokens)}`, { at: "tokens" });
  if (tokens.length === 0) throw new SeecError("runtime.input", "step() needs at least one token", { at: "tokens" });
  const vocab = manifest.model.config.vocabSize;
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i] as unknown;
    if (typeof id !== "number" || !Number.isInteger(id))
      throw new SeecError("runtime.token", `token ids must be whole numbers; tokens[${i}] is ${describe(id)}`, { at: `tokens[${i}]` });
    if (id < 0 || (vocab !== undefined && id >= vocab))
      throw new SeecError("runtime.token", `token id ${id} is outside the vocabulary [0, ${vocab})`, { at: `tokens[${i}]` });
  }
  if (typeof pos !== "number" || !Number.isInteger(pos) || pos < 0)
    throw new SeecError("runtime.input", `pos must be a whole number, 0 or more, got ${describe(pos)}`, { at: "pos" });
  const context = manifest.model.config.contextLength;
  if (context !== undefined && pos + tokens.length > context)
    throw new SeecError("runtime.context", `positions ${pos}..${pos + tokens.length - 1} are outside the context of ${context} tokens`, {
      at: "pos",
    });
}

/** A value as an input error shows it: a number or a short string as it is, otherwise its kind ("Set", "null"). */
export function describe(x: unknown): string {
  if (typeof x === "number" || typeof x === "bigint") return String(x);
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 37)}...` : x);
  return x === null || x === undefined ? String(x) : typeof x === "object" ? (x.constructor?.name ?? "an object") : typeof x;
}

function checkTokens(ids: Int32Array, vocab: number): void {
  for (const id of ids)
    if (id < 0 || id >= vocab) throw new SeecError("runtime.token", `token id ${id} is outside the vocabulary [0, ${vocab})`);
}

/**
 * A packed encoder's lengths (manifest.model.batch): each text within the model's maximum length
 * (its position table's rows), and all of them together the call's tokens.
 */
function checkLengths(manifest: Manifest, inputs: CheckedFeeds["inputs"], bound: Record<string, number>): void {
  const lengths = manifest.model.batch && inputs.find((i) => i.spec.name === "lengths")?.data;
  if (!lengths) return;
  const max = manifest.model.config.maxLength;
  let total = 0;
  for (const [i, n] of lengths.entries()) {
    if (!(n >= 0 && n <= max))
      throw new SeecError("runtime.input", `lengths[${i}] is ${n}; a text has 0 to ${max} tokens`, { at: `lengths[${i}]` });
    total += n;
  }
  if (total !== (bound.T ?? 0))
    throw new SeecError("runtime.input", `the lengths add up to ${total} tokens, but "tokens" has ${bound.T ?? 0}`, { at: "lengths" });
}

function checkPosition(manifest: Manifest, feeds: Readonly<Record<string, TensorData>>, bound: Record<string, number>): void {
  if (manifest.model.family !== "decoder" || feeds.pos === undefined) return;
  const pos = Number(feeds.pos[0]);
  const context = manifest.model.config.contextLength;
  if (pos < 0 || pos + (bound.T ?? 1) > context)
    throw new SeecError("runtime.context", `positions ${pos}..${pos + (bound.T ?? 1) - 1} are outside the context of ${context} tokens`);
}

/** A fed array as the dtype the module computes in, checking that its type is the one the input takes. */
function toDtype(spec: TensorSpec, fed: TensorData): Int32Array | Float32Array {
  const want = arrayOf(spec);
  if (!(fed instanceof want))
    throw new SeecError("runtime.input", `input "${spec.name}" must be a ${want.name}, got ${fed?.constructor?.name ?? typeof fed}`);
  if (spec.dtype === "f32") return fed instanceof Float32Array ? fed : Float32Array.from(fed as Float64Array);
  if (fed instanceof Int32Array) return fed;
  const out = new Int32Array(fed.length);
  for (let i = 0; i < fed.length; i++) {
    const x = fed[i];
    if (x < -2147483648 || x > 2147483647)
      throw new SeecError("runtime.input", `input "${spec.name}" holds ${x} at [${i}], beyond the 32-bit range seec computes integers in`, {
        at: `${spec.name}[${i}]`,
      });
    out[i] = Number(x);
  }
  return out;
}
