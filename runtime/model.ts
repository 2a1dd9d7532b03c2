/** A loaded artifact: the compiled module, its memory, and the API people call. */
import { SeecError } from "./errors.js";
import type { Manifest, TensorSpec } from "./manifest.js";
import { checkFeeds, checkStep, elementsOf, embeddingFeeds, exchanged, type Feeds, type Outputs } from "./feeds.js";
import { generation, type GenerateOptions, type GenerationStats } from "./generation.js";
import type { Tokenizer } from "./tokenizers/index.js";

export type { Feeds, GenerateOptions, GenerationStats, Outputs };

interface Exports {
  memory: WebAssembly.Memory;
  forward(T: number): void;
}

const DISPOSED: Exports = new Proxy({} as Exports, {
  get() {
    throw new SeecError("runtime.disposed", "this model was disposed");
  },
});

export class Model {
  /** Which backend runs the model, e.g. "wasm-simd". */
  readonly backend: string;
  /** For a webgpu artifact running here instead: why WebGPU was not used. */
  fallback?: string;
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
    const { inputs, bound } = checkFeeds(this.manifest, feeds);
    for (const { spec, data } of inputs)
      new (data.constructor as Int32ArrayConstructor)(this.exports.memory.buffer, spec.address, data.length).set(data as Int32Array);
    try {
      this.exports.forward(bound.T ?? 0);
    } catch (e) {
      throw new SeecError("runtime.trap", `the compiled model trapped in forward(): ${(e as Error).message}`, {
        hint: "this should not happen after the runtime's checks: please report it",
      });
    }
    return Object.fromEntries(this.manifest.outputs.map((o) => [o.name, this.read(o, bound)]));
  }

  /** Streams text: the prompt's pieces, then each generated piece, as llama2.c's `run` prints them. */
  *stream(prompt: string, opts: GenerateOptions = {}): Generator<string> {
    const loop = generation(this.tokenizer, prompt, opts, this.contextLength, this.stats);
    for (let event = loop.next(); !event.done;) {
      const e = event.value;
      if ("piece" in e) {
        yield e.piece;
        event = loop.next();
      } else event = loop.next(this.step(e.step, e.pos));
    }
  }

  generate(prompt: string, opts: GenerateOptions = {}): string {
    let out = "";
    for (const piece of this.stream(prompt, opts)) out += piece;
    return out;
  }

  /** Runs tokens at positions pos.. in chunks the module was planned for; returns the last token's logits. */
  step(tokens: readonly number[], pos: number): Float32Array {
    checkStep(this.manifest, tokens, pos);
    const chunk = this.symbolic.T ?? 1;
    let logits: Float32Array | undefined;
    for (let i = 0; i < tokens.length; i += chunk) {
      const ids = Int32Array.from(tokens.slice(i, i + chunk));
      logits = this.run({ tokens: ids, pos: Int32Array.of(pos + i) }).logits as Float32Array;
    }
    if (!logits) throw new SeecError("runtime.input", "step() needs at least one token");
    return logits;
  }

  private read(spec: TensorSpec, bound: Record<string, number>): Outputs[string] {
    const view = spec.dtype === "i32" ? Int32Array : Float32Array;
    return exchanged(spec, new view(this.exports.memory.buffer, spec.address, elementsOf(spec, bound)).slice());
  }

  /** Embeddings of texts (an encoder artifact): one forward call per text, tokens clipped to the model's maximum length. */
  embed(texts: readonly string[]): Float32Array[] {
    const { feeds, output } = embeddingFeeds(this.manifest, this.tokenizer);
    return texts.map((text) => this.run(feeds(text))[output] as Float32Array);
  }
}
