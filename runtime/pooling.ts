/**
 * embed() for an imported encoder (manifest.model.embedding, from seec build --pooling): a text's
 * ids padded to the length the graph was built for, with an attention mask over the padding, and
 * the graph's hidden state pooled into one vector as sentence-transformers pools it.
 */
import { SeecError } from "./errors.js";
import type { Feeds, Outputs, TextCall } from "./feeds.js";
import type { Manifest, TensorSpec } from "./manifest.js";
import { arrayOf } from "./tensor.js";
import type { Tokenizer } from "./tokenizers/index.js";
import { HfTokenizer } from "./tokenizers/hf/index.js";
import { shown } from "./validate-manifest.js";

/** The inputs embed() fills, by the names Hugging Face exporters give them; seec build refuses a graph with any other. */
export const EMBEDDING_INPUTS = ["input_ids", "attention_mask", "token_type_ids", "position_ids"];
const POOLINGS = ["mean", "cls", "none"];

export function pooledEmbedding(manifest: Manifest, tokenizer: Tokenizer | undefined): (text: string) => TextCall {
  const embedding = checkEmbedding(manifest);
  if (!(tokenizer instanceof HfTokenizer))
    throw new SeecError("runtime.family", "embed() needs the artifact's Hugging Face tokenizer", { hint: "rebuild with --tokenizer" });
  const ids = manifest.inputs.find((s) => s.name === "input_ids")!;
  // Built for one length (every text padded to it), or for any length up to a maximum (each text at its own).
  const symbolic = ids.shape[1];
  const length = typeof symbolic === "number" ? symbolic : manifest.dims[symbolic].max;
  const output = manifest.outputs.find((s) => s.name === embedding.output)!;
  const hidden = output.shape.at(-1) as number;
  return (text) => {
    const tokens = tokenizer.encode(text, { maxLength: length });
    const n = tokens.length;
    const row: Record<string, (i: number) => number> = {
      input_ids: (i) => (i < n ? tokens[i] : 0),
      attention_mask: (i) => (i < n ? 1 : 0),
      token_type_ids: () => 0,
      position_ids: (i) => i,
    };
    // At least one token a call: an empty text without special tokens is one masked pad.
    const fed = typeof symbolic === "number" ? length : Math.max(n, 1);
    const feeds: Feeds = Object.fromEntries(manifest.inputs.map((s) => [s.name, idArray(s, fed, row[s.name])]));
    return { feeds, vector: (outputs: Outputs) => pool(outputs[output.name] as Float32Array, n, hidden, output.shape.length, embedding) };
  };
}

/**
 * model.embedding checked where it is read (validate-manifest leaves it to this module, which only
 * artifacts with a Hugging Face tokenizer bundle): the inputs embed() fills, [1, length] each, and
 * an output of [1, hidden] or [1, length, hidden]; a bad one is input.manifest naming the field.
 */
function checkEmbedding({ model, inputs, outputs, dims }: Manifest): NonNullable<Manifest["model"]["embedding"]> {
  const bad = (at: string, what: string): never => {
    throw new SeecError("input.manifest", `${at} ${what}`, { at, hint: "rebuild the artifact with seec build" });
  };
  const e = model.embedding as unknown as Record<string, unknown>;
  if (typeof e !== "object" || e === null) bad("model.embedding", `must be an object, got ${shown(e)}`);
  if (!POOLINGS.includes(e.pooling as string))
    bad("model.embedding.pooling", `must be one of ${POOLINGS.join(", ")}, got ${shown(e.pooling)}`);
  if (typeof e.normalize !== "boolean") bad("model.embedding.normalize", `must be true or false, got ${shown(e.normalize)}`);
  const ids = inputs.find((t) => t.name === "input_ids");
  // [1, ...] of numbers, or of the symbolic length where the artifact was built for any length up to a maximum.
  const length = ids?.shape[1];
  const symbolic = typeof length === "string" && Object.hasOwn(dims ?? {}, length) ? length : undefined;
  const fixed = (shape: unknown[]) =>
    shape.every((d) => typeof d === "number" || (symbolic !== undefined && d === symbolic)) && shape[0] === 1;
  if (!ids || ids.shape.length !== 2 || !fixed(ids.shape)) return bad("model.embedding", "needs an input_ids input of shape [1, length]");
  for (const t of inputs)
    if (!EMBEDDING_INPUTS.includes(t.name) || t.shape.length !== 2 || t.shape[1] !== ids.shape[1] || !fixed(t.shape) || t.dtype !== "i32")
      bad("model.embedding", `cannot fill input ${shown(t.name)} [${t.shape.map(shown).join(", ")}]`);
  const out = outputs.find((t) => t.name === e.output);
  if (
    !out ||
    out.dtype !== "f32" ||
    !fixed(out.shape) ||
    !(out.shape.length === 2 || (out.shape.length === 3 && out.shape[1] === ids.shape[1]))
  )
    bad("model.embedding.output", `${shown(e.output)} is not an output of shape [1, hidden] or [1, ${ids.shape[1]}, hidden]`);
  return model.embedding!;
}

/** An id input of `length` elements as the array its element type is exchanged in. */
function idArray(spec: TensorSpec, length: number, at: (i: number) => number): Feeds[string] {
  const To = arrayOf(spec);
  const out = new To(length);
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let i = 0; i < length; i++) out[i] = big ? BigInt(at(i)) : at(i);
  return out;
}

/** The vector of a text of n tokens: from [1, length, hidden] by its pooling, or a [1, hidden] pooled output as it is. */
function pool(data: Float32Array, n: number, hidden: number, rank: number, { pooling, normalize }: Manifest["model"]["embedding"] & {}) {
  let v: Float32Array;
  if (rank === 2) v = data.slice(0, hidden);
  else if (pooling === "cls") v = data.slice(0, hidden);
  else if (pooling === "none") v = data.slice(0, n * hidden);
  else {
    // In doubles, divided by the token count (an empty text: a zero vector, as sentence-transformers' clamp gives).
    const sum = new Float64Array(hidden);
    for (let t = 0; t < n; t++) for (let j = 0; j < hidden; j++) sum[j] += data[t * hidden + j];
    v = Float32Array.from(sum, (x) => x / Math.max(n, 1));
  }
  // Each vector (each token row, unpooled) to unit length, as torch's F.normalize: divided by max(norm, 1e-12).
  if (normalize)
    for (let at = 0; at < v.length; at += hidden) {
      const row = v.subarray(at, at + hidden);
      const scale = 1 / Math.max(Math.hypot(...row), 1e-12);
      for (let j = 0; j < hidden; j++) row[j] *= scale;
    }
  return v;
}
