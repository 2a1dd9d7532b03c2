/**
 * The seec runtime, bundled into every artifact as index.mjs.
 *
 *   import { load } from "./index.mjs";
 *   const model = await load();              // the directory this module sits in
 *   console.log(model.generate("Once upon a time", { maxTokens: 64, temperature: 0 }));
 */
import { SeecError } from "./errors.js";
import { directoryUrl, importAtRuntime, readBytes, readInto, readJson } from "./fetch.js";
import type { Manifest } from "./manifest.js";
import { GpuModel } from "./gpu-model.js";
import { Model } from "./model.js";
import { GpuEngine } from "./webgpu.js";
import type { GpuProgram } from "./webgpu-program.js";
import { createTokenizer, type TokenizerSpec } from "./tokenizers/index.js";

export { GpuModel, Model, SeecError };
export type { Feeds, GenerateOptions, Outputs } from "./model.js";
export type { Manifest } from "./manifest.js";

/** The fields the runtime relies on, checked before any of them is used. */
function checkManifest(m: Manifest, file: string): void {
  const bad = (what: string): never => {
    throw new SeecError("input.manifest", what, { file, hint: "rebuild the artifact with seec build" });
  };
  if (m?.format !== "seec/1") bad(`unsupported artifact format ${JSON.stringify(m?.format)}`);
  if (!Array.isArray(m.modules) || m.modules.length === 0 || !m.modules.every((x) => typeof x?.file === "string" && typeof x?.backend === "string")) bad("modules must list the compiled modules");
  for (const list of [m.inputs, m.outputs])
    if (!Array.isArray(list) || !list.every((t) => typeof t?.name === "string" && Number.isInteger(t?.address) && Array.isArray(t?.shape))) bad("inputs and outputs must list tensors with a name, a shape and an address");
  const regions = [m.memory?.weights, m.memory?.arena, m.memory?.state];
  if (!regions.every((r) => Number.isInteger(r?.address) && Number.isInteger(r?.bytes) && r.bytes >= 0)) bad("memory must give the address and size of weights, arena and state");
  if (!m.model || typeof m.model.config !== "object" || typeof m.dims !== "object") bad("model and dims are missing");
  // Every file the manifest names lies in the artifact's own directory: a plain name, nothing that
  // climbs out of it or points elsewhere.
  const named = [...m.modules.map((x) => x.file), m.webgpu?.file, m.tokenizer?.file].filter((f) => f !== undefined);
  for (const f of named) if (typeof f !== "string" || !/^[\w][\w.-]*$/.test(f) || f.includes("..")) bad(`the file name ${JSON.stringify(f)} is not a plain name inside the artifact`);
}

/**
 * The first module this engine validates (a relaxed-SIMD module falls back to the SIMD128 one).
 * A single module compiles while it downloads.
 */
async function instantiateFirst(modules: Manifest["modules"], base: URL): Promise<{ instance: WebAssembly.Instance; backend: string }> {
  if (modules.length === 1) return { instance: await instantiate(new URL(modules[0].file, base)), backend: modules[0].backend };
  for (const m of modules) {
    const bytes = await readBytes(new URL(m.file, base));
    if (WebAssembly.validate(bytes as BufferSource)) return { instance: (await WebAssembly.instantiate(bytes as BufferSource, {})).instance, backend: m.backend };
  }
  throw new SeecError("runtime.engine", `this engine runs none of the artifact's modules (${modules.map((m) => m.backend).join(", ")})`, { hint: "rebuild with --target wasm" });
}

/** Compiles while downloading where the server says application/wasm; reads then compiles otherwise. */
async function instantiate(url: URL): Promise<WebAssembly.Instance> {
  if (url.protocol !== "file:" && typeof WebAssembly.instantiateStreaming === "function") {
    try {
      return (await WebAssembly.instantiateStreaming(fetch(url), {})).instance;
    } catch {
      // A server that sends another MIME type: fall through to the plain path.
    }
  }
  return (await WebAssembly.instantiate((await readBytes(url)) as BufferSource, {})).instance;
}

export interface LoadOptions {
  /** false: run a webgpu artifact on its wasm module even where WebGPU is available. */
  webgpu?: boolean;
  /** The WebGPU entry point to use (default: navigator.gpu; in Node, the `webgpu` package where installed). */
  gpu?: GPU;
}

/**
 * Loads an artifact from a directory (URL or, in Node, a path); by default the one holding this
 * module. A webgpu artifact runs on WebGPU where it gives an adapter, on its wasm module otherwise.
 */
export async function load(dir?: string | URL, options: LoadOptions = {}): Promise<Model | GpuModel> {
  const base = await directoryUrl(dir ?? new URL("./", import.meta.url));
  const manifest = await readJson<Manifest>(new URL("manifest.json", base));
  checkManifest(manifest, new URL("manifest.json", base).href);
  let fallback: string | undefined;
  let weights: Uint8Array | undefined;
  if (manifest.webgpu && options.webgpu !== false) {
    const gpu = options.gpu ?? (await webgpu());
    if (gpu) {
      try {
        const [program, w, tokenizer] = await Promise.all([readJson<GpuProgram>(new URL(manifest.webgpu.file, base)), readWeights(manifest, base), readTokenizer(manifest, base)]);
        weights = w;
        return new GpuModel(manifest, await GpuEngine.create(gpu, program, w!), tokenizer);
      } catch (e) {
        if (e instanceof SeecError && e.code === "input.weights") throw e;
        fallback = e instanceof SeecError ? `${e.code}${e.at ? ` @ ${e.at}` : ""}: ${e.message}` : `WebGPU failed: ${(e as Error).message}`;
      }
    } else fallback = "this engine has no WebGPU (navigator.gpu, or in Node the webgpu package)";
  }
  const model = await loadWasm(manifest, base, weights);
  if (fallback) model.fallback = fallback;
  return model;
}

/**
 * WebGPU's entry point: navigator.gpu in browsers; in Node, which has none of its own, the
 * `webgpu` package (Dawn) where the application installed it. One Dawn instance serves every load.
 */
let dawn: Promise<GPU | undefined> | undefined;
async function webgpu(): Promise<GPU | undefined> {
  const g = globalThis as { navigator?: { gpu?: GPU }; process?: { versions?: { node?: string } } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  if (!g.process?.versions?.node) return undefined;
  dawn ??= importAtRuntime<{ create: (options: string[]) => GPU }>("webgpu").then(
    (m) => m.create([]),
    () => undefined,
  );
  return dawn;
}

/** weights.bin, checked against the manifest (undefined where the module carries its weights). */
async function readWeights(manifest: Manifest, base: URL): Promise<Uint8Array | undefined> {
  if (manifest.memory.weights.embedded === true) return undefined;
  const weights = await readBytes(new URL("weights.bin", base));
  if (weights.byteLength !== manifest.memory.weights.bytes) throw weightsSize(weights.byteLength, manifest, base);
  return weights;
}

function weightsSize(bytes: number, manifest: Manifest, base: URL): SeecError {
  return new SeecError("input.weights", `weights.bin has ${bytes} bytes; the manifest expects ${manifest.memory.weights.bytes}`, { file: new URL("weights.bin", base).href });
}

async function readTokenizer(manifest: Manifest, base: URL) {
  return manifest.tokenizer ? createTokenizer(await readJson<TokenizerSpec>(new URL(manifest.tokenizer.file, base))) : undefined;
}

/** The first module this engine runs, with the weights (read here, straight into its memory, unless the WebGPU attempt already did) in place. */
async function loadWasm(manifest: Manifest, base: URL, read?: Uint8Array): Promise<Model> {
  const [{ instance, backend }, tokenizer] = await Promise.all([instantiateFirst(manifest.modules, base), readTokenizer(manifest, base)]);
  const { weights } = manifest.memory;
  if (weights.embedded !== true) {
    const target = new Uint8Array((instance.exports as { memory: WebAssembly.Memory }).memory.buffer, weights.address, weights.bytes);
    if (read) target.set(read);
    else {
      const bytes = await readInto(new URL("weights.bin", base), target);
      if (bytes !== weights.bytes) throw weightsSize(bytes, manifest, base);
    }
  }
  (instance.exports as { init?: () => void }).init?.();
  return new Model(manifest, instance, tokenizer, backend);
}
