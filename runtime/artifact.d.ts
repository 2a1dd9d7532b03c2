// Typings for a seec artifact's index.mjs.

/**
 * Inputs by name: Float32Array, Int32Array, or, as ONNX Runtime takes them, BigInt64Array (int64),
 * BigUint64Array (uint64), Uint32Array (uint32), Int16Array (int16), Uint16Array (uint16),
 * Uint8Array (bool, uint8), Int8Array (int8), Float64Array (float64). float16 and bfloat16 are
 * given as Float32Array. An input may carry its shape: a typed array with `dims` (as run() returns
 * them) or an object with `data` and `dims` (onnxruntime-web's Tensor); the dims must be a shape the
 * model takes, and a batch run row by row (Manifest.model.rows) reads its row count from them.
 */
export type Feeds = Record<string, TensorData | { readonly data: TensorData; readonly dims: readonly number[] }>;

/** ONNX Runtime's names for the element types run() returns. */
export type TensorType = "float32" | "int32" | "int64" | "uint64" | "uint32" | "int16" | "uint16" | "bool" | "uint8" | "int8" | "float64";
export type TensorData =
  | Float32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Uint8Array
  | Int8Array
  | Float64Array;
/**
 * An output of run(): its typed array, which also carries, as onnxruntime-web's Tensor does,
 * `data` (the array itself), `dims` (this call's shape, symbolic dimensions bound) and `type`
 * (non-enumerable: the array compares, copies and prints as a plain one).
 */
export type Tensor<T extends TensorData = TensorData> = T & {
  readonly data: T;
  readonly dims: readonly number[];
  readonly type: TensorType;
};
/** Outputs by name, as tensors, each in the typed array ONNX Runtime gives its element type (Feeds). */
export type Outputs = Record<string, Tensor>;

/** Options of calls that can be cancelled. */
export interface CallOptions {
  /** Aborting rejects the call with the signal's reason: a DOMException named "AbortError" for a plain abort(). */
  signal?: AbortSignal;
}

export interface GenerateOptions extends CallOptions {
  /** New tokens after the prompt (default 256). Generation also stops at BOS/EOS or the end of the context. */
  maxTokens?: number;
  /** 0 picks the most likely token (greedy); default 1. */
  temperature?: number;
  /** Nucleus sampling threshold in (0, 1); other values sample from the whole distribution. Default 0.9. */
  topP?: number;
  /** Seed of llama2.c's xorshift generator: the same seed gives the same text. Default: a random one. */
  seed?: number;
  /**
   * Text that ends the generation where it appears: the text returned (and streamed) stops just
   * before it. One string or several (the first one completed ends it). Text prompts only.
   */
  stop?: string | readonly string[];
  /** For a conversation: tools (JSON schemas) and further variables its chat template reads, e.g. { enable_thinking: false }. */
  chat?: { tools?: readonly unknown[]; variables?: Record<string, unknown> };
}

/** One turn of a conversation: its role ("system", "user", "assistant", "tool"), content, and any other fields the chat template reads (tool_calls, ...). */
export interface ChatMessage {
  role: string;
  content?: unknown;
  [field: string]: unknown;
}

export interface ChatOptions {
  /** End with the opening of the assistant's turn (default true). */
  addGenerationPrompt?: boolean;
  tools?: readonly unknown[];
  variables?: Record<string, unknown>;
}

export interface TensorSpec {
  name: string;
  dtype: "f32" | "i32";
  shape: (number | string)[];
  address: number;
  /**
   * What callers exchange when it is not the dtype, in the typed arrays of Feeds. Integers compute in
   * 32 bits: values outside int32 are refused when fed, and integer outputs wrap to their type
   * (uint64's modulo 2^32).
   */
  elementType?: "int64" | "uint64" | "uint32" | "int16" | "uint16" | "bool" | "uint8" | "int8" | "float64" | "float16" | "bfloat16";
}

export interface Manifest {
  format: "seec/1";
  seec: string;
  command: string;
  name: string;
  target: string;
  /**
   * The compiled modules, in the order to try them: the first that WebAssembly.validate accepts runs.
   * A module with `threads` (seec build --threads) splits its matmuls across up to that many threads
   * over shared memory; it runs only where load() may start them (see LoadOptions.threads).
   */
  modules: { backend: string; file: string; threads?: number }[];
  model: {
    family: "decoder" | "encoder" | "graph";
    config: Record<string, number>;
    bosId?: number;
    eosId?: number;
    /** Set by build --eos: the ids generate()/stream() stop at, in place of the tokenizer's end tokens. */
    eosIds?: number[];
    /**
     * An imported encoder built with --pooling: embed() feeds input_ids (the text's tokens, padded to
     * the built length), attention_mask (1 for tokens, 0 for padding), token_type_ids (0) and
     * position_ids (0, 1, ...) where the graph has them, and pools `output`: [1, tokens, hidden] by the
     * mean of the text's rows, the first row ([CLS]), or none (the text's rows, concatenated); a
     * [1, hidden] pooled output as it is. `normalize`: scaled to unit length.
     */
    embedding?: { output: string; pooling: "mean" | "cls" | "none"; normalize: boolean };
    /**
     * An encoder that embeds several texts a call: embed() packs up to `texts` of them, `tokens` tokens
     * in all, end to end into `tokens`, their token counts in `lengths`, and reads a row of the output
     * per text. Absent: one text a call.
     */
    batch?: { texts: number; tokens: number };
    /**
     * An imported graph whose leading dimension `name` (its batch) runs row by row (seec build
     * --shape input_ids=?8x?128): run() takes 1 to `max` rows of each of `inputs`, whose shapes here
     * are one row's ([1, ...]); the rows are counted from the inputs' dims (without them, from their
     * length where the rest of the shape is fixed, else one row), the module runs once per row with
     * the other inputs whole, and every output is the rows' outputs stacked, [rows, ...].
     */
    rows?: { name: string; max: number; inputs: string[] };
  };
  dims: Record<string, { max: number }>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  memory: {
    pages: number;
    /** The module declares maximum = initial pages and never grows (mcu). */
    fixed?: boolean;
    totalBytes: number;
    /** `embedded`: the weights are in the module's data segment, not in weights.bin (wasi, mcu). */
    weights: { address: number; bytes: number; embedded?: boolean };
    arena: { address: number; bytes: number };
    state: { address: number; bytes: number };
    /** Working memory the SIMD kernels share (the int8 kernels' 16-bit activations), where they need any. */
    scratch?: { address: number; bytes: number };
  };
  tokenizer?: { file: string; type: "llama2c-bpe" | "sentencepiece-unigram" | "hf-tokenizer-json" };
  /** The WebGPU program (`--target webgpu`), run where WebGPU gives an adapter. */
  webgpu?: { file: string };
  files: Record<string, { bytes: number; sha256: string }>;
}

export declare class SeecError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly at?: string;
  readonly hint?: string;
  toLine(): string;
}

export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  prefillSeconds: number;
  /** Time in forward passes for generated tokens (sampling and decoding excluded). */
  decodeSeconds: number;
}

/**
 * A loaded artifact. The same asynchronous API on every backend (wasm or WebGPU): await each call.
 */
export declare class Model {
  readonly manifest: Manifest;
  /** What the last stream()/generate() call did. */
  readonly stats: GenerationStats;
  /** The backend running the model: "webgpu", "wasm-relaxed", "wasm-simd", "wasm" or "mcu". */
  readonly backend: string;
  /** On WebGPU: the adapter the model runs on. */
  readonly adapter?: string;
  /** Threads splitting the matmuls: more than 1 where a module built with --threads runs (see LoadOptions.threads). */
  readonly threads: number;
  /** For a webgpu artifact running on wasm: why WebGPU was not used. */
  readonly fallback?: string;
  readonly contextLength: number;
  /**
   * The artifact's tokenizer, where it carries one: encode() gives the ids the model is fed (llama2.c's
   * BOS, a Hugging Face tokenizer.json's special tokens included); decode() turns ids back into text
   * (not for a SentencePiece vocab.json).
   */
  readonly tokenizer?: {
    readonly vocabSize: number;
    encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
    decode?(ids: readonly number[]): string;
    /**
     * A tokenizer built with its chat template (a Hugging Face tokenizer's tokenizer_config.json or
     * chat_template.jinja beside tokenizer.json; a GGUF file's tokenizer.chat_template): a
     * conversation as the prompt text the model was trained on, as apply_chat_template renders it
     * (special tokens written out: encode a Hugging Face tokenizer's with addSpecialTokens false).
     * runtime.chat where the artifact carries no template.
     */
    applyChatTemplate?(messages: readonly ChatMessage[], options?: ChatOptions): string;
    readonly hasChatTemplate?: boolean;
  };
  /**
   * One call of the compiled graph. A decoder takes `tokens` (Int32Array, 1..maxChunk ids) and `pos` (Int32Array of 1) and returns `logits`.
   * Each output is a typed array with `.data`, `.dims` and `.type`, as onnxruntime-web's tensors.
   */
  run(feeds: Feeds, options?: CallOptions): Promise<Outputs>;
  /** Feeds tokens at positions pos.. and returns the last token's logits. */
  step(tokens: readonly number[], pos: number, options?: CallOptions): Promise<Float32Array>;
  /**
   * The prompt's continuation (not the prompt), piece by piece as it is generated. Generations share
   * the model's KV cache: concurrent ones run one after another, in call order (leave a stream early
   * with break or return(), which lets the next one go).
   */
  stream(prompt: string | readonly ChatMessage[], options?: GenerateOptions): AsyncGenerator<string, void, undefined>;
  /**
   * The prompt's continuation (not the prompt), whole. A conversation ([{ role, content }, ...]) is
   * rendered by the artifact's chat template with the assistant's turn opened, and the reply is the
   * continuation.
   */
  generate(prompt: string | readonly ChatMessage[], options?: GenerateOptions): Promise<string>;
  /**
   * A prompt of token ids continued id by id (no BOS added, no tokenizer needed), with generate()'s
   * options; it ends at maxTokens, the context's end, or an end token (build --eos or the exporter's
   * generation config, else the tokenizer's).
   */
  streamTokens(prompt: readonly number[], options?: GenerateOptions): AsyncGenerator<number, void, undefined>;
  /** streamTokens(), whole: the ids after the prompt. */
  generateTokens(prompt: readonly number[], options?: GenerateOptions): Promise<number[]>;
  /**
   * An encoder's embeddings of texts, tokens clipped to the model's maximum length: several texts a
   * forward call where the artifact packs them (`manifest.model.batch`), else one text a call.
   */
  embed(texts: readonly string[], options?: CallOptions): Promise<Float32Array[]>;
  /** Lets the module and its memory go; the model cannot run afterwards. */
  dispose(): void;
}

/** Bytes of one file so far; `total` is its size as the manifest lists it. */
export interface Progress {
  file: string;
  loaded: number;
  total: number;
}

export interface LoadOptions {
  /** Called as each file the manifest lists downloads (a first event with loaded 0, then one per chunk). */
  onProgress?: (progress: Progress) => void;
  /** Aborting rejects load() with the signal's reason (a DOMException named "AbortError" for a plain abort()) and stops its downloads. */
  signal?: AbortSignal;
  /** Used for every file where given (file: URLs too), e.g. to add headers or serve from a cache. */
  fetch?: (url: string, init: { signal?: AbortSignal }) => Promise<Response>;
  /**
   * Keep the files in the Cache API (browsers; a cache named "seec"), keyed by their sha256 in the
   * manifest: a later load reads them from there. A file is kept only whole and with its hash checked.
   */
  cache?: boolean;
  /** false: run a webgpu artifact on its wasm module even where WebGPU is available. */
  webgpu?: boolean;
  /** The WebGPU entry point (default: navigator.gpu; in Node, the `webgpu` package where installed). */
  gpu?: unknown;
  /**
   * Run the model in a Web Worker (in Node, a worker_thread) started on this artifact's own index.mjs
   * (from its directory), so the page's main thread stays free; the Model API is the same, `signal`
   * included (an abort rejects the call at once and stops the worker's work at its next pause).
   * A `fetch` given here runs on the page for the worker's reads; `gpu` cannot go to a worker
   * (runtime.option). `dispose()` ends the worker.
   */
  worker?: boolean;
  /**
   * An artifact built with `seec build --threads n`: how many threads split its matmuls (default: the
   * machine's cores in Node, all but one in a browser; at most n). 1, or an engine that cannot share memory (a browser page that is not
   * cross-origin isolated), runs the module built for one thread. `dispose()` ends the threads.
   */
  threads?: number;
}

/**
 * Loads an artifact from a directory URL or (in Node) path; by default the directory of this module.
 * A `--target webgpu` artifact runs on WebGPU where it has an adapter (navigator.gpu, or
 * `options.gpu` in Node), on its wasm module otherwise (`model.fallback` says why).
 */
export declare function load(dir?: string | URL, options?: LoadOptions): Promise<Model>;
