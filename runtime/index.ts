/**
 * The seec runtime, bundled into every artifact as index.mjs.
 *
 *   import { load } from "./index.mjs";
 *   const model = await load();              // the directory this module sits in
 *   console.log(await model.generate("Once upon a time", { maxTokens: 64, temperature: 0 }));
 */
import { SeecError } from "./errors.js";
import { directoryUrl, importAtRuntime, inNode, moduleDirectory, Reader, type ReadOptions } from "./fetch.js";
import type { Manifest } from "./manifest.js";
import { describe } from "./feeds.js";
import { Model } from "./model.js";
import { canShareMemory, startThreads, threadCount, type Threads } from "./threads.js";
import { WasmEngine } from "./wasm-engine.js";
import { validateInstance, validateManifest } from "./validate-manifest.js";
import { GpuEngine } from "./webgpu.js";
import type { GpuProgram } from "./webgpu-program.js";
import { createTokenizer, type TokenizerSpec } from "./tokenizers/index.js";
import { hostIfWorker } from "./worker-host.js";
import { loadInWorker } from "./worker-model.js";

export { Model, SeecError };
export type { CallOptions, Feeds, GenerateOptions, Outputs } from "./model.js";
export type { Manifest } from "./manifest.js";
export type { Progress } from "./fetch.js";
export type { Tensor, TensorData, TensorType } from "./tensor.js";

/**
 * The first module this engine validates (a relaxed-SIMD module falls back to the SIMD128 one),
 * skipping modules for threads where load() runs one thread or the engine cannot share memory.
 * A single module compiles while it downloads.
 */
async function instantiateFirst(
  manifest: Manifest,
  reader: Reader,
  options: LoadOptions,
): Promise<{ instance: WebAssembly.Instance; backend: string; url: URL; threads?: Threads }> {
  const share = canShareMemory();
  const count = async (most: number) => (share ? threadCount(most, options.threads) : 1);
  const modules: Manifest["modules"] = [];
  for (const m of manifest.modules) if (!m.threads || (await count(m.threads)) > 1) modules.push(m);
  if (modules.length === 1 && !modules[0].threads) {
    const url = reader.url(modules[0].file);
    return { instance: await instantiate(modules[0].file, reader), backend: modules[0].backend, url };
  }
  for (const m of modules) {
    const url = reader.url(m.file);
    const bytes = await reader.bytes(m.file);
    if (!WebAssembly.validate(bytes as BufferSource)) continue;
    if (!m.threads) return { instance: await engineCall(url, () => instantiateBytes(bytes)), backend: m.backend, url };
    const module = await engineCall(url, () => WebAssembly.compile(bytes as BufferSource));
    const n = await count(m.threads);
    try {
      const threads = await engineCall(url, () => startThreads(module, manifest.memory.pages, n));
      return { instance: threads.instance, backend: m.backend, url, threads };
    } catch (e) {
      // Workers this page may not start (a Content-Security-Policy without blob: workers): one thread, unless threads were asked for.
      if (options.threads !== undefined || !(e instanceof SeecError && e.code === "runtime.worker")) throw e;
    }
  }
  throw new SeecError("runtime.engine", `this engine runs none of the artifact's modules (${modules.map((m) => m.backend).join(", ")})`, {
    hint: "rebuild with --target wasm",
  });
}

/** Compiles while downloading where the server says application/wasm; reads then compiles otherwise. */
async function instantiate(file: string, reader: Reader): Promise<WebAssembly.Instance> {
  const { body, type } = await reader.stream(file);
  const streaming = type?.startsWith("application/wasm") && typeof WebAssembly.instantiateStreaming === "function";
  return engineCall(reader.url(file), async () =>
    streaming
      ? (await WebAssembly.instantiateStreaming(new Response(body, { headers: { "content-type": "application/wasm" } }), {})).instance
      : instantiateBytes(new Uint8Array(await new Response(body).arrayBuffer())),
  );
}

async function instantiateBytes(bytes: Uint8Array): Promise<WebAssembly.Instance> {
  return (await WebAssembly.instantiate(bytes as BufferSource, {})).instance;
}

/**
 * The engine's own errors on a module (CompileError, LinkError, RuntimeError) as SeecErrors naming
 * the file, in one line: input.wasm where it will not compile or link, runtime.trap where it traps.
 */
async function engineCall<T>(url: URL, f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof SeecError) throw e;
    const name = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
    const why = `${(e as Error)?.name ?? "Error"}: ${String((e as Error)?.message ?? e)}`.replace(/\s+/g, " ");
    if (e instanceof WebAssembly.RuntimeError)
      throw new SeecError("runtime.trap", `${name} trapped while loading (${why})`, {
        file: url.href,
        hint: "rebuild the artifact with seec build",
      });
    throw new SeecError("input.wasm", `${name} is not a module this engine can run (${why})`, {
      file: url.href,
      hint: "the file is damaged (rebuild the artifact with seec build), or this engine lacks a feature it needs (rebuild with --target wasm)",
    });
  }
}

export interface LoadOptions extends ReadOptions {
  /** false: run a webgpu artifact on its wasm module even where WebGPU is available. */
  webgpu?: boolean;
  /** The WebGPU entry point to use (default: navigator.gpu; in Node, the `webgpu` package where installed). */
  gpu?: GPU;
  /**
   * Run the model in a Web Worker (in Node, a worker_thread) that loads the artifact's own
   * index.mjs from its directory: the page's thread stays free. The same API; a `fetch` runs on
   * the page for the worker's reads; `gpu` cannot go to a worker.
   */
  worker?: boolean;
  /**
   * Threads for an artifact built with --threads n: how many split its matmuls (default: the
   * machine's cores in Node, all but one in a browser; at most n). 1, or an engine that cannot share memory (a browser page that is
   * not cross-origin isolated), runs the module built for one thread.
   */
  threads?: number;
}

/**
 * Loads an artifact from a directory (URL or, in Node, a path); by default the one holding this
 * module. A webgpu artifact runs on WebGPU where it gives an adapter, on its wasm module otherwise.
 */
export async function load(dir?: string | URL, options: LoadOptions = {}): Promise<Model> {
  try {
    if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1))
      throw new SeecError(
        "runtime.option",
        `load() option threads must be a whole number of at least 1, got ${describe(options.threads)}`,
        {
          at: "threads",
        },
      );
    const base = await directoryUrl(dir ?? moduleDirectory());
    // The same public API as a Model (its private members aside).
    if (options.worker) return (await loadInWorker(base, options)) as unknown as Model;
    return await loadFrom(new Reader(base, options), options);
  } catch (e) {
    // Whatever an abort interrupted (a read, a compile, the GPU), the caller hears the abort.
    options.signal?.throwIfAborted();
    throw dir === undefined ? movedRuntime(e) : e;
  }
}

/**
 * load()'s default is the directory index.mjs was served from. Where its manifest.json is not
 * there (a 404, or an app's HTML page instead), a bundler has most likely moved the runtime into a
 * file of its own: the error says what to do.
 */
function movedRuntime(e: unknown): unknown {
  if (!(e instanceof SeecError) || !e.file?.endsWith("/manifest.json") || !["io.read", "input.json"].includes(e.code)) return e;
  return new SeecError(e.code, e.message, {
    file: e.file,
    at: e.at,
    hint:
      "load() with no URL looks beside index.mjs, and a bundler may have moved it (esbuild, vite build, Vite's dev server " +
      "pre-bundling an installed artifact package): pass load() the URL the artifact's directory is served at, or for " +
      "Vite's dev server add the package to optimizeDeps.exclude",
  });
}

async function loadFrom(reader: Reader, options: LoadOptions): Promise<Model> {
  const manifest = await reader.json<unknown>("manifest.json");
  validateManifest(manifest, reader.url("manifest.json").href);
  reader.files = manifest.files;
  const model = await loadModel(manifest, reader, options);
  // A load that resolves has put its files into the cache: the next one reads them from there.
  await reader.kept();
  return model;
}

async function loadModel(manifest: Manifest, reader: Reader, options: LoadOptions): Promise<Model> {
  let fallback: string | undefined;
  let weights: Uint8Array | undefined;
  if (manifest.webgpu && options.webgpu !== false) {
    const gpu = options.gpu ?? (await webgpu());
    if (gpu) {
      try {
        const [program, w, tokenizer] = await Promise.all([
          reader.json<GpuProgram>(manifest.webgpu.file),
          readWeights(manifest, reader),
          readTokenizer(manifest, reader),
        ]);
        weights = w;
        return new Model(manifest, await GpuEngine.create(gpu, program, w!), tokenizer);
      } catch (e) {
        if (e instanceof SeecError && e.code === "input.weights") throw e;
        fallback = e instanceof SeecError ? `${e.code}${e.at ? ` @ ${e.at}` : ""}: ${e.message}` : `WebGPU failed: ${(e as Error).message}`;
      }
    } else fallback = "this engine has no WebGPU (navigator.gpu, or in Node the webgpu package)";
  }
  const model = await loadWasm(manifest, reader, options, weights);
  if (fallback) model.fallback = fallback;
  return model;
}

// In a worker that load(…, { worker: true }) started, this module serves the page's calls.
hostIfWorker((dir, options) => load(dir, { ...options, worker: false }));

/**
 * WebGPU's entry point: navigator.gpu in browsers; in Node, which has none of its own, the
 * `webgpu` package (Dawn) where the application installed it. One Dawn instance serves every load.
 */
let dawn: Promise<GPU | undefined> | undefined;
async function webgpu(): Promise<GPU | undefined> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  if (!inNode()) return undefined;
  dawn ??= importAtRuntime<{ create: (options: string[]) => GPU }>("webgpu").then(
    (m) => m.create([]),
    () => undefined,
  );
  return dawn;
}

/** weights.bin, checked against the manifest (undefined where the module carries its weights). */
async function readWeights(manifest: Manifest, reader: Reader): Promise<Uint8Array | undefined> {
  if (manifest.memory.weights.embedded === true) return undefined;
  const weights = await reader.bytes("weights.bin");
  if (weights.byteLength !== manifest.memory.weights.bytes) throw weightsSize(weights.byteLength, manifest, reader);
  return weights;
}

function weightsSize(bytes: number, manifest: Manifest, reader: Reader): SeecError {
  return new SeecError("input.weights", `weights.bin has ${bytes} bytes; the manifest expects ${manifest.memory.weights.bytes}`, {
    file: reader.url("weights.bin").href,
  });
}

/** tokenizer.json, checked field by field, and against the model's vocabulary. */
async function readTokenizer(manifest: Manifest, reader: Reader) {
  if (!manifest.tokenizer) return undefined;
  const url = reader.url(manifest.tokenizer.file);
  const tokenizer = createTokenizer(await reader.json<TokenizerSpec>(manifest.tokenizer.file), url.href);
  const vocab = manifest.model.config.vocabSize;
  if (vocab !== undefined && tokenizer.vocabSize > vocab)
    throw new SeecError("mismatch.tokenizer", `the tokenizer has ${tokenizer.vocabSize} pieces; the model's vocabulary has ${vocab}`, {
      file: url.href,
      at: "pieces",
      hint: "rebuild the artifact with seec build",
    });
  return tokenizer;
}

/**
 * The first module this engine runs, with the weights (read here, straight into its memory, unless
 * the WebGPU attempt already did) in place; a failure after a module for threads started ends its workers.
 */
async function loadWasm(manifest: Manifest, reader: Reader, options: LoadOptions, read?: Uint8Array): Promise<Model> {
  // Both settle before either's failure is thrown: threads a failed (or aborted) tokenizer read leaves are ended.
  const [instanced, tokenized] = await Promise.allSettled([instantiateFirst(manifest, reader, options), readTokenizer(manifest, reader)]);
  if (instanced.status === "rejected") throw instanced.reason;
  const { instance, backend, url, threads } = instanced.value;
  try {
    if (tokenized.status === "rejected") throw tokenized.reason;
    const tokenizer = tokenized.value;
    validateInstance(manifest, instance, url.href, reader.url("manifest.json").href);
    const { weights } = manifest.memory;
    if (weights.embedded !== true) {
      const target = new Uint8Array((instance.exports as { memory: WebAssembly.Memory }).memory.buffer, weights.address, weights.bytes);
      if (read) target.set(read);
      else {
        const bytes = await reader.into("weights.bin", target);
        if (bytes !== weights.bytes) throw weightsSize(bytes, manifest, reader);
      }
    }
    const init = (instance.exports as { init?: unknown }).init;
    if (typeof init === "function") await engineCall(url, () => init());
    return new Model(manifest, new WasmEngine(instance, backend, threads), tokenizer);
  } catch (e) {
    threads?.stop();
    throw e;
  }
}
