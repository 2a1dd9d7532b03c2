/**
 * A model running on WebGPU: the same API as Model, asynchronous, because a GPU hands results
 * back asynchronously. `load()` returns one for a `--target webgpu` artifact when WebGPU gives an
 * adapter (the artifact's wasm module otherwise).
 */
import { SeecError } from "./errors.js";
import { checkFeeds, checkStep, elementsOf, embeddingFeeds, exchanged, type Feeds, type Outputs } from "./feeds.js";
import { generation, type GenerateOptions, type GenerationStats } from "./generation.js";
import type { Manifest } from "./manifest.js";
import type { Tokenizer } from "./tokenizers/index.js";
import type { GpuEngine } from "./webgpu.js";

const IN_FLIGHT = 16;

export class GpuModel {
  readonly backend = "webgpu";
  readonly stats: GenerationStats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };

  constructor(
    readonly manifest: Manifest,
    private readonly engine: GpuEngine,
    readonly tokenizer?: Tokenizer,
  ) {}

  /** The adapter the model runs on. */
  get adapter(): string {
    return this.engine.adapterName;
  }

  get contextLength(): number {
    return this.manifest.model.config.contextLength;
  }

  /** One call of the compiled graph on the GPU. */
  async run(feeds: Feeds): Promise<Outputs> {
    const { inputs, bound } = checkFeeds(this.manifest, feeds);
    const outputs = this.manifest.outputs.map((spec) => ({ spec, length: elementsOf(spec, bound) }));
    const data = await this.engine.run(inputs, outputs, bound.T ?? 0);
    return Object.fromEntries(
      outputs.map(({ spec }, i) => [spec.name, exchanged(spec, spec.dtype === "i32" ? new Int32Array(data[i].buffer) : data[i])]),
    );
  }

  /** Runs tokens at positions pos.. in the chunks the model was planned for; the last token's logits. */
  async step(tokens: readonly number[], pos: number): Promise<Float32Array> {
    checkStep(this.manifest, tokens, pos);
    const chunk = this.manifest.dims.T?.max ?? 1;
    let logits: Float32Array | undefined;
    for (let i = 0; i < tokens.length; i += chunk)
      logits = (await this.run({ tokens: Int32Array.from(tokens.slice(i, i + chunk)), pos: Int32Array.of(pos + i) }))
        .logits as Float32Array;
    if (!logits) throw new SeecError("runtime.input", "step() needs at least one token");
    return logits;
  }

  /** Streams text as Model.stream does. */
  async *stream(prompt: string, opts: GenerateOptions = {}): AsyncGenerator<string> {
    const loop = generation(this.tokenizer, prompt, opts, this.contextLength, this.stats);
    for (let event = loop.next(); !event.done;) {
      const e = event.value;
      if ("piece" in e) {
        yield e.piece;
        event = loop.next();
      } else event = loop.next(await this.step(e.step, e.pos));
    }
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<string> {
    let out = "";
    for await (const piece of this.stream(prompt, opts)) out += piece;
    return out;
  }

  /**
   * An encoder's embeddings of texts (one call each, tokens clipped to the model's maximum length).
   * Calls are queued IN_FLIGHT at a time before their results are awaited: the GPU runs them in
   * order, and the round trip to read one back is paid once per window instead of once per text.
   */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const { feeds, output } = embeddingFeeds(this.manifest, this.tokenizer);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += IN_FLIGHT) {
      const window = texts.slice(i, i + IN_FLIGHT).map((text) => this.run(feeds(text)));
      for (const outputs of await Promise.all(window)) vectors.push(outputs[output] as Float32Array);
    }
    return vectors;
  }

  dispose(): void {
    this.engine.dispose();
  }
}
