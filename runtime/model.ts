/**
 * A loaded artifact and the API people call. One class for every backend: an Engine runs the
 * compiled graph (the wasm module synchronously, the WebGPU program asynchronously), and every
 * public method is async, so code written against one backend runs unchanged on the other.
 */
import { SeecError } from "./errors.js";
import type { Manifest, TensorSpec } from "./manifest.js";
import { checkFeeds, checkStep, describe, dimsOf, elementsOf, embeddingFeeds, exchanged, type Feeds, type Outputs } from "./feeds.js";
import { pooledEmbedding } from "./pooling.js";
import { checkDims, plainFeeds, runRows, type PlainFeeds } from "./rows.js";
import { textBatches } from "./batches.js";
import type { ChatMessage } from "./chat/index.js";
import { generation, isConversation, type GenerateOptions, type GenerationEvent, type GenerationStats, type Prompt } from "./generation.js";
import { tensor } from "./tensor.js";
import type { Tokenizer } from "./tokenizers/index.js";

export type { Feeds, GenerateOptions, GenerationStats, Outputs };

/** What runs the compiled graph: inputs in (already checked), the outputs' data out. */
export interface Engine {
  /** e.g. "wasm-simd", "webgpu". */
  readonly backend: string;
  /** The GPU adapter, on WebGPU. */
  readonly adapter?: string;
  /** Threads splitting the work (a wasm module built with --threads); 1 where none. */
  readonly threads?: number;
  /** `bound`: the call's symbolic dimensions (T: its tokens; B: its texts, where the artifact packs them). */
  run(
    inputs: { spec: TensorSpec; data: Int32Array | Float32Array }[],
    outputs: { spec: TensorSpec; length: number }[],
    bound: Readonly<Record<string, number>>,
  ): (Int32Array | Float32Array)[] | Promise<(Int32Array | Float32Array)[]>;
  dispose(): void;
}

/** Options of calls that can be cancelled. */
export interface CallOptions {
  /** An aborted signal rejects the call with its reason (an AbortError DOMException for a plain abort()). */
  signal?: AbortSignal;
}

const DISPOSED: Engine = new Proxy({} as Engine, {
  get() {
    throw new SeecError("runtime.disposed", "this model was disposed");
  },
});

/**
 * Ends the engine of a Model dropped without dispose() once it is collected: a module for threads
 * keeps its workers, and they its memory, until its engine ends them.
 */
const DROPPED = typeof FinalizationRegistry === "function" ? new FinalizationRegistry<Engine>((engine) => engine.dispose()) : undefined;

/** Embeddings queued before their results are awaited: a GPU runs them in order and pays one readback round trip per window. */
const IN_FLIGHT = 16;
/** Longest stretch of work between two returns to the event loop (ms), so pages repaint and abort() is heard. */
const BREATHE_MS = 30;

export class Model {
  /** Which backend runs the model, e.g. "wasm-simd" or "webgpu". */
  readonly backend: string;
  /** On WebGPU: the adapter the model runs on. */
  readonly adapter?: string;
  /** For a webgpu artifact running on wasm instead: why WebGPU was not used. */
  fallback?: string;
  /** Threads splitting the matmuls: more than 1 where a module built with --threads runs. */
  readonly threads: number;
  readonly stats: GenerationStats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };
  private engine: Engine;
  /** The generation (or a decoder's run or step) in progress, which later ones wait for. */
  private generating: Promise<void> = Promise.resolve();

  constructor(
    readonly manifest: Manifest,
    engine: Engine,
    readonly tokenizer?: Tokenizer,
  ) {
    this.engine = engine;
    this.backend = engine.backend;
    this.adapter = engine.adapter;
    this.threads = engine.threads ?? 1;
    DROPPED?.register(this, engine, this);
  }

  /** Lets the module (or GPU buffers) and its memory go; the model cannot run afterwards. */
  dispose(): void {
    const engine = this.engine;
    this.engine = DISPOSED;
    DROPPED?.unregister(this);
    if (engine !== DISPOSED) engine.dispose();
  }

  get contextLength(): number {
    return this.manifest.model.config.contextLength;
  }

  /**
   * One call of the compiled graph: named typed arrays in, named typed arrays (copies) out, each
   * also carrying `data`, `dims` and `type` as ONNX Runtime's tensors do. On a decoder it waits
   * for the generation (or the call) before it: they share the KV cache.
   */
  async run(feeds: Feeds, options: CallOptions = {}): Promise<Outputs> {
    return this.inTurn(() => this.call(feeds, options));
  }

  /** run() without waiting its turn. */
  private async call(feeds: Feeds, options: CallOptions): Promise<Outputs> {
    options.signal?.throwIfAborted();
    const plain = plainFeeds(feeds);
    if (this.manifest.model.rows) return runRows(this.manifest, plain, (row) => this.runOnce(row, options));
    return this.runOnce(plain, options);
  }

  /** One call of the module. */
  private async runOnce({ arrays, dims }: PlainFeeds, options: CallOptions): Promise<Outputs> {
    options.signal?.throwIfAborted();
    const { inputs, bound } = checkFeeds(this.manifest, arrays);
    for (const { spec } of inputs) checkDims(this.manifest, spec, dims[spec.name], bound);
    const outputs = this.manifest.outputs.map((spec) => ({ spec, length: elementsOf(spec, bound) }));
    const data = await this.engine.run(inputs, outputs, bound);
    return Object.fromEntries(
      outputs.map(({ spec }, i) => [
        spec.name,
        tensor(exchanged(spec, asDtype(spec, data[i])), dimsOf(spec, bound), spec.elementType === "bool"),
      ]),
    );
  }

  /**
   * Runs tokens at positions pos.. in the chunks the module was planned for; returns the last
   * token's logits. Waits for the generation (or the call) before it, as run() does.
   */
  async step(tokens: readonly number[], pos: number, options: CallOptions = {}): Promise<Float32Array> {
    return this.inTurn(() => this.stepIn(tokens, pos, options));
  }

  /** step() without waiting its turn: a generation's own steps. */
  private async stepIn(tokens: readonly number[], pos: number, options: CallOptions): Promise<Float32Array> {
    checkStep(this.manifest, tokens, pos);
    const chunk = this.manifest.dims.T?.max ?? 1;
    let logits: Float32Array | undefined;
    for (let i = 0; i < tokens.length; i += chunk) {
      const feeds = { tokens: Int32Array.from(tokens.slice(i, i + chunk)), pos: Int32Array.of(pos + i) };
      logits = (await this.call(feeds, options)).logits as Float32Array;
    }
    return logits!;
  }

  /**
   * The continuation of the prompt (not the prompt itself), piece by piece as it is generated.
   * Generations share the model's KV cache, so concurrent ones run one after another, in call
   * order (a stream left early with break or return() lets the next one go).
   */
  async *stream(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    if (typeof prompt !== "string" && !isConversation(prompt))
      throw new SeecError("runtime.input", "stream() and generate() take a text prompt or a conversation (a list of { role, content })", {
        at: "prompt",
        hint: "token ids go to streamTokens() or generateTokens()",
      });
    for await (const e of this.events(prompt, options)) if ("piece" in e) yield e.piece;
  }

  /** The generation loop's pieces and tokens; its steps answered here, one generation at a time. */
  private async *events(prompt: Prompt, options: GenerateOptions): AsyncGenerator<GenerationEvent, void, undefined> {
    const done = await this.turn();
    try {
      const breathe = pacer(options.signal);
      options.signal?.throwIfAborted();
      const loop = generation(this.tokenizer, prompt, options, this.contextLength, this.stats, this.manifest.model.eosIds);
      for (let event = loop.next(); !event.done;) {
        const e = event.value;
        if ("step" in e) event = loop.next(await this.stepIn(e.step, e.pos, options));
        else {
          yield e;
          await breathe();
          event = loop.next();
        }
      }
    } finally {
      done();
    }
  }

  /** The continuation of the prompt, whole. */
  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<string> {
    let out = "";
    for await (const piece of this.stream(prompt, options)) out += piece;
    return out;
  }

  /**
   * The continuation of a prompt given as token ids (taken as they are: no BOS is added), id by id,
   * with generate()'s options; ends at maxTokens, the context's end or an end token (build --eos or the
   * exporter's generation config, else the tokenizer's, if the artifact has one). Needs no tokenizer.
   */
  async *streamTokens(prompt: readonly number[], options: GenerateOptions = {}): AsyncGenerator<number, void, undefined> {
    // Checked here: events() reads a string as text, and an encoder would fail on its first step() with "unknown input".
    if (!Array.isArray(prompt) && !ArrayBuffer.isView(prompt))
      throw new SeecError(
        "runtime.input",
        `streamTokens() and generateTokens() take a list of token ids, got ${typeof prompt === "string" ? "a string" : String(prompt)}`,
        {
          at: "prompt",
          hint: "text goes to stream() or generate()",
        },
      );
    if (this.manifest.model.family !== "decoder")
      throw new SeecError(
        "runtime.family",
        "streamTokens() and generateTokens() continue a decoder's prompt; this artifact is not a decoder",
        {
          hint: "an encoder embeds: use embed()",
        },
      );
    for await (const e of this.events(prompt, options)) if ("token" in e) yield e.token;
  }

  /** streamTokens(), whole: the ids generated after the prompt. */
  async generateTokens(prompt: readonly number[], options: GenerateOptions = {}): Promise<number[]> {
    const out: number[] = [];
    for await (const token of this.streamTokens(prompt, options)) out.push(token);
    return out;
  }

  /**
   * Embeddings of texts (an encoder artifact), tokens clipped to the model's maximum length: as many
   * texts a forward call as the artifact packs (manifest.model.batch; runtime/batches.ts), else one.
   */
  async embed(texts: readonly string[], options: CallOptions = {}): Promise<Float32Array[]> {
    checkTexts(texts);
    const breathe = pacer(options.signal);
    const vectors: Float32Array[] = [];
    if (this.manifest.model.batch) {
      for (const batch of textBatches(this.manifest, this.tokenizer, texts)) {
        vectors.push(...batch.vectors(await this.call(batch.feeds, options)));
        await breathe();
      }
      return vectors;
    }
    const call = this.manifest.model.embedding
      ? pooledEmbedding(this.manifest, this.tokenizer)
      : embeddingFeeds(this.manifest, this.tokenizer);
    for (let i = 0; i < texts.length; i += IN_FLIGHT) {
      const window = texts.slice(i, i + IN_FLIGHT).map(async (text) => {
        const { feeds, vector } = call(text);
        return vector(await this.call(feeds, options));
      });
      vectors.push(...(await Promise.all(window)));
      await breathe();
    }
    return vectors;
  }

  /**
   * f() once the generation or call before it on a decoder has ended (they share its KV cache; an
   * encoder's calls share nothing between them and run as they come).
   */
  private async inTurn<T>(f: () => Promise<T>): Promise<T> {
    if (this.manifest.model.family !== "decoder") return f();
    const done = await this.turn();
    try {
      return await f();
    } finally {
      done();
    }
  }

  /** Waits for the generation before this one to end; call the function returned when this one ends. */
  private async turn(): Promise<() => void> {
    const previous = this.generating;
    let done!: () => void;
    this.generating = new Promise((resolve) => (done = resolve));
    await previous;
    return done;
  }
}

/** embed()'s texts: a list of strings (a string alone would be read as a list of its characters). */
function checkTexts(texts: unknown): void {
  if (!Array.isArray(texts))
    throw new SeecError("runtime.input", `embed() takes a list of texts, got ${describe(texts)}`, {
      at: "texts",
      hint: typeof texts === "string" ? "one text goes in a list of one: embed([text])" : undefined,
    });
  const i = texts.findIndex((t) => typeof t !== "string");
  if (i >= 0)
    throw new SeecError("runtime.input", `embed() takes texts (strings): texts[${i}] is ${describe(texts[i])}`, { at: `texts[${i}]` });
}

/**
 * A call's returns to the event loop (a macrotask, not a microtask) once BREATHE_MS have passed
 * since it started or last returned: a synchronous engine would otherwise hold the page (and an
 * abort() the user clicks) until the whole call ends, while a short call pays nothing. Each one
 * checks the signal.
 */
function pacer(signal?: AbortSignal): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last > BREATHE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      last = performance.now();
    }
    signal?.throwIfAborted();
  };
}

/** An engine's i32 outputs may come back as the bytes of a Float32Array (a GPU read-back). */
function asDtype(spec: TensorSpec, data: Int32Array | Float32Array): Int32Array | Float32Array {
  return spec.dtype === "i32" && !(data instanceof Int32Array) ? new Int32Array(data.buffer, data.byteOffset, data.length) : data;
}
