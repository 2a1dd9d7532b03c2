/**
 * load(dir, { worker: true }): the model runs in a Web Worker (in Node, a worker_thread), so the
 * page's main thread only posts calls and takes results; the Model API is the same (embed,
 * generate, stream, run, step; `signal` on each). The worker runs the artifact's own index.mjs
 * from the artifact's directory, so an app that bundled the runtime (esbuild, Vite) needs no
 * worker file of its own.
 */
import type { ChatMessage } from "./chat/index.js";
import { SeecError } from "./errors.js";
import { importAtRuntime, inNode, type Fetch, type Progress } from "./fetch.js";
import type { GenerateOptions, GenerationStats } from "./generation.js";
import type { Manifest } from "./manifest.js";
import type { CallOptions, Feeds, Outputs } from "./model.js";
import { tensor, type TensorData, type TensorType } from "./tensor.js";
import { createTokenizer, type Tokenizer } from "./tokenizers/index.js";
import { servePageFetches } from "./worker-fetch.js";
import { fromWire, NODE_PORT, WORKER_NAME, type Loaded, type Method, type Reply, type Request } from "./worker-protocol.js";

/** The page's end of a worker: the same calls on a browser Worker and a Node worker_thread. */
interface PagePort {
  post(request: Request, transfer?: Transferable[]): void;
  listen(on: (reply: Reply) => void, failed: (why: string) => void): void;
  terminate(): void;
  /** Node: whether the worker keeps the process alive (while calls are pending) or not (idle). */
  busy?(yes: boolean): void;
}

/** load()'s options as a worker takes them: the callbacks and the fetch stay on the page; a GPU object cannot cross. */
export interface WorkerLoadOptions {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  cache?: boolean;
  webgpu?: boolean;
  fetch?: Fetch;
  gpu?: unknown;
  threads?: number;
}

/** Starts the artifact's index.mjs in a worker and loads the model there. */
export async function loadInWorker(dir: URL, options: WorkerLoadOptions): Promise<WorkerModel> {
  if (options.gpu !== undefined)
    throw new SeecError("runtime.option", "load() option gpu cannot go to a worker (a GPU object cannot be sent to one)", {
      at: "gpu",
      hint: "load without worker: true (in a browser the worker finds navigator.gpu itself)",
    });
  options.signal?.throwIfAborted();
  const port = await startWorker(new URL("index.mjs", dir), options.signal);
  const model = new WorkerModel(port, options.fetch);
  try {
    const sent = { cache: options.cache, webgpu: options.webgpu, threads: options.threads, fetch: options.fetch !== undefined };
    const loaded = (await model.call("load", [dir.href, sent], options, options.onProgress)) as Loaded;
    model.loaded(loaded);
    return model;
  } catch (e) {
    model.dispose(); // the worker, and the page's fetches it asked for
    throw e;
  }
}

async function startWorker(script: URL, signal?: AbortSignal): Promise<PagePort> {
  const g = globalThis as { Worker?: typeof Worker; location?: Location };
  if (typeof g.Worker === "function") return ready(browserWorker(script, g.location?.origin), signal);
  if (inNode()) return ready(await nodeWorker(script), signal);
  throw new SeecError("runtime.worker", "this engine has no Web Workers", { hint: "load without worker: true" });
}

/**
 * A module Worker on the artifact's index.mjs. A worker's script must come from the page's own
 * origin: one elsewhere (a CDN serving it with CORS) is imported by a small script of the page's own.
 */
function browserWorker(script: URL, origin: string | undefined): PagePort {
  const url =
    script.origin === origin
      ? script
      : URL.createObjectURL(new Blob([`import ${JSON.stringify(script.href)};`], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module", name: WORKER_NAME });
  return {
    post: (r, t) => worker.postMessage(r, (t ?? []) as never),
    listen(on, failed) {
      worker.addEventListener("message", (e: MessageEvent<Reply>) => on(e.data));
      worker.addEventListener("error", (e) => (e.preventDefault(), failed(e.message || `${script.href} did not start as a worker`)));
      worker.addEventListener("messageerror", () => failed("a message from the worker could not be read"));
    },
    terminate: () => worker.terminate(),
  };
}

/** A worker_thread whose bootstrap hands index.mjs its port to the parent, then imports it. */
async function nodeWorker(script: URL): Promise<PagePort> {
  const { Worker: NodeWorker } = await importAtRuntime<typeof import("node:worker_threads")>("node:worker_threads");
  const bootstrap = `globalThis[Symbol.for(${JSON.stringify(NODE_PORT.description)})] = require("node:worker_threads").parentPort;
import(${JSON.stringify(script.href)}).catch((e) => { throw e; });`;
  const worker = new NodeWorker(bootstrap, { eval: true, name: WORKER_NAME });
  return {
    post: (r, t) => worker.postMessage(r, (t ?? []) as never),
    listen(on, failed) {
      worker.on("message", on);
      worker.on("error", (e) => failed(e.message));
      worker.on("exit", (code) => failed(`the worker exited (code ${code})`));
    },
    terminate: () => void worker.terminate(),
    busy: (yes) => (yes ? worker.ref() : worker.unref()),
  };
}

/**
 * Resolves once the worker's index.mjs says it serves calls (the port then handing its replies to
 * the one listener set next); rejects where the worker fails first, or where the signal aborts
 * (then ending the worker: a browser's worker on a script that never answers would wait forever).
 */
function ready(port: PagePort, signal?: AbortSignal): Promise<PagePort> {
  return new Promise((resolve, reject) => {
    const onAbort = () => (port.terminate(), reject(signal!.reason));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let on: ((reply: Reply) => void) | undefined;
    let failed = (why: string) => {
      signal?.removeEventListener("abort", onAbort);
      reject(new SeecError("runtime.worker", `the model's worker failed: ${why}`, { hint: "is index.mjs served beside manifest.json?" }));
    };
    port.listen(
      (reply) => {
        if (on) on(reply);
        else if ("ready" in reply) {
          signal?.removeEventListener("abort", onAbort);
          resolve({ ...port, listen: (o, f) => ((on = o), (failed = f)) });
        }
      },
      (why) => failed(why),
    );
  });
}

interface Pending {
  resolve(value: unknown): void;
  reject(e: unknown): void;
  progress?: (p: Progress) => void;
  piece?: (piece: string | number) => void;
}

/** A model in a worker: the Model API, each call a message. */
export class WorkerModel {
  manifest!: Manifest;
  backend = "";
  threads = 1;
  adapter?: string;
  fallback?: string;
  readonly stats: GenerationStats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };
  private spec?: Loaded["tokenizer"];
  private made?: Tokenizer;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private gone?: SeecError;

  /** Runs the caller's fetch for the worker's reads, where load() was given one. */
  private readonly fetches?: ReturnType<typeof servePageFetches>;

  constructor(
    private readonly port: PagePort,
    custom?: Fetch,
  ) {
    if (custom) this.fetches = servePageFetches(custom, (a, t) => port.post(a, t));
    port.listen(
      (reply) => this.reply(reply),
      (why) => this.fail(new SeecError("runtime.worker", `the model's worker failed: ${why}`)),
    );
  }

  /** @internal What the worker's load() found. */
  loaded(l: Loaded): void {
    Object.assign(this, {
      manifest: l.manifest,
      backend: l.backend,
      threads: l.threads,
      adapter: l.adapter,
      fallback: l.fallback,
      spec: l.tokenizer,
    });
  }

  get contextLength(): number {
    return this.manifest.model.config.contextLength;
  }

  /** The artifact's tokenizer, made on this thread (from the spec the worker read) the first time it is asked for. */
  get tokenizer(): Tokenizer | undefined {
    if (this.spec && !this.made) this.made = createTokenizer(this.spec);
    return this.made;
  }

  async run(feeds: Feeds, options: CallOptions = {}): Promise<Outputs> {
    // A postMessage keeps an object's own properties only: a typed array's dims and an onnxruntime
    // Tensor's data (a getter of its class) go as a plain { data, dims }.
    const carried =
      !feeds || typeof feeds !== "object"
        ? feeds
        : Object.fromEntries(
            Object.entries(feeds).map(([k, f]) => {
              const { data, dims } = (f ?? {}) as { data?: unknown; dims?: unknown };
              if (dims === undefined) return [k, f];
              return [k, { data: ArrayBuffer.isView(f) ? f : data, dims: Array.isArray(dims) ? [...dims] : dims }];
            }),
          );
    const sent = (await this.call("run", [carried], options)) as Record<string, { data: TensorData; dims: number[]; type: TensorType }>;
    return Object.fromEntries(Object.entries(sent).map(([k, t]) => [k, tensor(t.data, t.dims, t.type === "bool")]));
  }

  step(tokens: readonly number[], pos: number, options: CallOptions = {}): Promise<Float32Array> {
    return this.call("step", [Array.from(tokens), pos], options) as Promise<Float32Array>;
  }

  embed(texts: readonly string[], options: CallOptions = {}): Promise<Float32Array[]> {
    return this.call("embed", [Array.from(texts)], options) as Promise<Float32Array[]>;
  }

  /** Pieces as the worker generates them; leaving early (break) stops the worker's generation too. */
  stream(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    return this.pieces<string>("stream", prompt, options);
  }

  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<string> {
    let out = "";
    for await (const piece of this.stream(prompt, options)) out += piece;
    return out;
  }

  /** Ids as the worker generates them, as stream() hands out text. */
  streamTokens(prompt: readonly number[], options: GenerateOptions = {}): AsyncGenerator<number, void, undefined> {
    // A typed array goes as a list; anything else as it is, for the worker's streamTokens() to refuse by name.
    return this.pieces<number>(
      "streamTokens",
      ArrayBuffer.isView(prompt) ? Array.from(prompt as ArrayLike<number>) : (prompt as number[]),
      options,
    );
  }

  async generateTokens(prompt: readonly number[], options: GenerateOptions = {}): Promise<number[]> {
    const out: number[] = [];
    for await (const token of this.streamTokens(prompt, options)) out.push(token);
    return out;
  }

  private async *pieces<T extends string | number>(
    method: "stream" | "streamTokens",
    prompt: string | number[] | readonly ChatMessage[],
    options: GenerateOptions,
  ): AsyncGenerator<T, void, undefined> {
    const { signal, ...rest } = options;
    const pieces: T[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: { e: unknown } | undefined;
    const id = this.next;
    const call = this.call(method, [prompt, rest], { signal }, undefined, (piece) => (pieces.push(piece as T), wake?.()));
    call.then(
      () => ((done = true), wake?.()),
      (e) => ((failure = { e }), wake?.()),
    );
    try {
      for (;;) {
        if (pieces.length) yield pieces.shift()!;
        else if (failure) throw failure.e;
        else if (done) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (!done && !failure) this.abort(id);
    }
  }

  /** Ends the worker; the model cannot run afterwards. */
  dispose(): void {
    this.fail(new SeecError("runtime.disposed", "this model was disposed"));
  }

  /** @internal One call: its progress and pieces to the callbacks; an abort rejects it at once and stops it in the worker. */
  call(
    method: Method,
    args: unknown[],
    options: CallOptions,
    progress?: (p: Progress) => void,
    piece?: (p: string | number) => void,
  ): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.abort(id, signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle =
        <T>(f: (x: T) => void) =>
        (x: T) => {
          signal?.removeEventListener("abort", onAbort);
          this.pending.delete(id);
          if (!this.pending.size) this.port.busy?.(false);
          f(x);
        };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject), progress, piece });
      this.port.busy?.(true);
      try {
        this.port.post({ id, method, args });
      } catch (e) {
        // Arguments a message cannot carry (a function, ...): the call fails here, its pending entry with it.
        const why = `${method}()'s arguments cannot be sent to the model's worker: ${(e as Error).message}`;
        this.pending.get(id)!.reject(new SeecError("runtime.input", why));
      }
    });
  }

  /** Stops the call in the worker and rejects it here (which also takes its listener off the caller's signal). */
  private abort(id: number, reason: unknown = new DOMException("the call was stopped", "AbortError")): void {
    const p = this.pending.get(id);
    if (!this.gone) this.port.post({ id, abort: true });
    p?.reject(reason);
  }

  private reply(r: Reply): void {
    if ("ready" in r) return;
    if ("fetch" in r) return this.fetches?.serve(r);
    const p = this.pending.get(r.id);
    if (!p) return; // an aborted call's late answer
    if ("progress" in r) return p.progress?.(r.progress);
    if ("stats" in r && r.stats) Object.assign(this.stats, r.stats);
    if ("piece" in r) return p.piece?.(r.piece);
    if ("error" in r) return p.reject(fromWire(r.error));
    p.resolve(r.value);
  }

  /** The model cannot run any more (disposed, or its worker failed): the worker ends, whatever it was doing stops. */
  private fail(e: SeecError): void {
    this.gone ??= e;
    this.port.terminate(); // a browser's worker lives on after an error event, holding the model
    this.fetches?.stop();
    for (const p of [...this.pending.values()]) p.reject(e);
  }
}
