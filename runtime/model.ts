/** A loaded artifact: the compiled module, its memory, and the API people call. */
import { SeecError } from "./errors.js";
import type { Manifest, TensorSpec } from "./manifest.js";
import { Sampler, type SampleOptions } from "./sampler.js";
import type { Tokenizer } from "./tokenizers/index.js";
import { Llama2cTokenizer } from "./tokenizers/llama2c-bpe.js";
import { SentencePieceTokenizer } from "./tokenizers/sentencepiece.js";

export type Feeds = Record<string, Int32Array | Float32Array | BigInt64Array | Uint8Array>;
export type Outputs = Record<string, Float32Array | Int32Array | BigInt64Array | Uint8Array>;

export interface GenerateOptions extends SampleOptions {
  /** New tokens to generate after the prompt (default 256); generation also stops at BOS/EOS or the context's end. */
  maxTokens?: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  forward(T: number): void;
}

/** What the last stream()/generate() call did. */
export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  prefillSeconds: number;
  decodeSeconds: number;
}

const DISPOSED: Exports = new Proxy({} as Exports, {
  get() {
    throw new SeecError("runtime.disposed", "this model was disposed");
  },
});

export class Model {
  /** Which backend runs the model, e.g. "wasm-simd". */
  readonly backend: string;
  readonly stats: GenerationStats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };
  private exports: Exports;
  private readonly symbolic: Record<string, number>;

  constructor(
    readonly manifest: Manifest,
    instance: WebAssembly.Instance,
    readonly tokenizer?: Tokenizer,
    backend = manifest.target,
  ) {
    this.backend = backend;
    this.exports = instance.exports as unknown as Exports;
    this.symbolic = Object.fromEntries(Object.entries(manifest.dims).map(([k, v]) => [k, v.max]));
  }

  /** Lets the module and its memory go; the model cannot run afterwards. */
  dispose(): void {
    this.exports = DISPOSED;
  }

  get contextLength(): number {
    return this.manifest.model.config.contextLength;
  }

  /** One call of the compiled graph: named typed arrays in, named typed arrays (copies) out. */
  run(feeds: Feeds): Outputs {
    const bound: Record<string, number> = {};
    for (const name of Object.keys(feeds))
      if (!this.manifest.inputs.some((i) => i.name === name))
        throw new SeecError("runtime.input", `unknown input "${name}"; the model's inputs are ${this.manifest.inputs.map((i) => i.name).join(", ")}`);
    for (const spec of this.manifest.inputs) this.write(spec, feeds[spec.name], bound);
    this.checkPosition(feeds, bound);
    try {
      this.exports.forward(bound.T ?? 0);
    } catch (e) {
      throw new SeecError("runtime.trap", `the compiled model trapped in forward(): ${(e as Error).message}`, { hint: "this should not happen after the runtime's checks: please report it" });
    }
    return Object.fromEntries(this.manifest.outputs.map((o) => [o.name, this.read(o, bound)]));
  }

  /** Streams text: the prompt's pieces, then each generated piece, as llama2.c's `run` prints them. */
  *stream(prompt: string, opts: GenerateOptions = {}): Generator<string> {
    const tok = this.requireTokenizer();
    const sampler = new Sampler(opts);
    const maxTokens = opts.maxTokens ?? 256;
    const prompted = tok.encode(prompt, { bos: true });
    if (prompted.length > this.contextLength)
      throw new SeecError("runtime.context", `the prompt is ${prompted.length} tokens; the context holds ${this.contextLength}`, { hint: "shorten the prompt" });
    const text = new TextDecoder();
    const t0 = performance.now();
    let logits = this.prefill(prompted);
    const t1 = performance.now();
    Object.assign(this.stats, { promptTokens: prompted.length, generatedTokens: 0, prefillSeconds: (t1 - t0) / 1000, decodeSeconds: 0 });
    for (let i = 1; i < prompted.length; i++) yield text.decode(tok.pieceBytes(prompted[i - 1], prompted[i]), { stream: true });
    let token = prompted[prompted.length - 1];
    for (let n = 0, pos = prompted.length; n < maxTokens; n++, pos++) {
      const next = sampler.sample(logits);
      if (next === tok.bosId || next === tok.eosId) break;
      this.stats.generatedTokens++;
      yield text.decode(tok.pieceBytes(token, next), { stream: true });
      token = next;
      if (n + 1 === maxTokens || pos >= this.contextLength) break;
      const t = performance.now();
      logits = this.step([token], pos);
      this.stats.decodeSeconds += (performance.now() - t) / 1000;
    }
    const rest = text.decode();
    if (rest) yield rest;
  }

  generate(prompt: string, opts: GenerateOptions = {}): string {
    let out = "";
    for (const piece of this.stream(prompt, opts)) out += piece;
    return out;
  }

  /** Runs tokens at positions pos.. in chunks the module was planned for; returns the last token's logits. */
  step(tokens: readonly number[], pos: number): Float32Array {
    const chunk = this.symbolic.T ?? 1;
    let logits: Float32Array | undefined;
    for (let i = 0; i < tokens.length; i += chunk) {
      const ids = Int32Array.from(tokens.slice(i, i + chunk));
      logits = this.run({ tokens: ids, pos: Int32Array.of(pos + i) }).logits as Float32Array;
    }
    if (!logits) throw new SeecError("runtime.input", "step() needs at least one token");
    return logits;
  }

  private prefill(tokens: number[]): Float32Array {
    return this.step(tokens, 0);
  }

  private write(spec: TensorSpec, fed: Feeds[string] | undefined, bound: Record<string, number>): void {
    if (!fed) throw new SeecError("runtime.input", `missing input "${spec.name}"`);
    const data = toDtype(spec, fed);
    const fixed = spec.shape.reduce<number>((a, d) => (typeof d === "number" ? a * d : a), 1);
    const sym = spec.shape.find((d): d is string => typeof d === "string");
    const n = sym ? data.length / fixed : 1;
    const min = this.manifest.model.family === "encoder" ? 0 : 1;
    const ok = sym ? Number.isInteger(n) && n >= min && n <= this.symbolic[sym] && (bound[sym] ?? n) === n : data.length === fixed;
    if (!ok)
      throw new SeecError("runtime.input", `input "${spec.name}" has ${data.length} elements; shape [${spec.shape.join(", ")}] allows ${sym ? `${min} to ${this.symbolic[sym]} × ${fixed}` : fixed}`);
    if (sym) bound[sym] = n;
    if (spec.name === "tokens") this.checkTokens(data as Int32Array);
    new (data.constructor as Int32ArrayConstructor)(this.exports.memory.buffer, spec.address, data.length).set(data as Int32Array);
  }

  private read(spec: TensorSpec, bound: Record<string, number>): Outputs[string] {
    const n = spec.shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : bound[d]), 1);
    const view = spec.dtype === "i32" ? Int32Array : Float32Array;
    const data = new view(this.exports.memory.buffer, spec.address, n).slice();
    if (spec.elementType === "int64") return BigInt64Array.from(data as Int32Array, (x) => BigInt(x));
    if (spec.elementType === "bool") return Uint8Array.from(data as Int32Array);
    return data;
  }

  private checkTokens(ids: Int32Array): void {
    const vocab = this.manifest.model.config.vocabSize;
    for (const id of ids) if (id < 0 || id >= vocab) throw new SeecError("runtime.token", `token id ${id} is outside the vocabulary [0, ${vocab})`);
  }

  private checkPosition(feeds: Feeds, bound: Record<string, number>): void {
    if (this.manifest.model.family !== "decoder" || feeds.pos === undefined) return;
    const pos = Number(feeds.pos[0]);
    if (pos < 0 || pos + (bound.T ?? 1) > this.contextLength)
      throw new SeecError("runtime.context", `positions ${pos}..${pos + (bound.T ?? 1) - 1} are outside the context of ${this.contextLength} tokens`);
  }

  /** Embeddings of texts (an encoder artifact): one forward call per text, tokens clipped to the model's maximum length. */
  embed(texts: readonly string[]): Float32Array[] {
    if (this.manifest.model.family !== "encoder" || !(this.tokenizer instanceof SentencePieceTokenizer))
      throw new SeecError("runtime.family", "embed() needs an encoder artifact with its tokenizer", { hint: "a decoder generates: use generate()" });
    const max = this.manifest.model.config.maxLength;
    const output = this.manifest.outputs[0].name;
    return texts.map((text) => this.run({ tokens: Int32Array.from(this.tokenizer!.encode(text).slice(0, max)) })[output] as Float32Array);
  }

  private requireTokenizer(): Llama2cTokenizer {
    if (!(this.tokenizer instanceof Llama2cTokenizer))
      throw new SeecError("runtime.family", "generation needs a decoder artifact with its tokenizer", { hint: this.tokenizer ? "an encoder embeds: use embed()" : "rebuild with --tokenizer" });
    return this.tokenizer;
  }
}

/** A fed array as the dtype the module computes in, checking that its type is the one the input takes. */
function toDtype(spec: TensorSpec, fed: Feeds[string]): Int32Array | Float32Array {
  const want = spec.elementType === "int64" ? BigInt64Array : spec.elementType === "bool" ? Uint8Array : spec.dtype === "i32" ? Int32Array : Float32Array;
  if (!(fed instanceof want)) throw new SeecError("runtime.input", `input "${spec.name}" must be a ${want.name}, got ${fed.constructor.name}`);
  if (fed instanceof BigInt64Array) {
    const out = new Int32Array(fed.length);
    fed.forEach((x, i) => {
      if (x < -2147483648n || x > 2147483647n) throw new SeecError("runtime.input", `input "${spec.name}" holds ${x}, beyond the 32-bit range seec computes ids in`);
      out[i] = Number(x);
    });
    return out;
  }
  return fed instanceof Uint8Array ? Int32Array.from(fed) : fed;
}
