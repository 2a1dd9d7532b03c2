/**
 * manifest.json checked before the runtime uses any of it: every field the runtime reads has its
 * type and range, every address lies inside the module's memory and is aligned for its elements,
 * every file it names is a plain name inside the artifact's directory. A damaged or tampered
 * manifest is input.manifest naming the field (`at`), never a TypeError, a RangeError from a typed
 * array, or a read outside the artifact.
 */
import { SeecError } from "./errors.js";
import type { Manifest } from "./manifest.js";
import { ELEMENT_ARRAYS } from "./tensor.js";

/** wasm32's linear memory: at most 65,536 pages of 64 KiB. */
const PAGE_BYTES = 65536;
const MAX_PAGES = 65536;
/** Every tensor the runtime exchanges is 4 bytes an element in the module (f32, i32). */
const ELEMENT_BYTES = 4;
const FAMILIES = ["decoder", "encoder", "graph"];
const DTYPES = ["f32", "i32"];
const ELEMENT_TYPES = Object.keys(ELEMENT_ARRAYS);
const TOKENIZERS = ["llama2c-bpe", "sentencepiece-unigram", "hf-tokenizer-json"];
const HINT = "rebuild the artifact with seec build";

/** The most threads a module may split across (seec build --threads). */
export const MAX_THREADS = 64;

/** A value as a message shows it: JSON, one line, clipped. */
export function shown(value: unknown): string {
  let s: string;
  try {
    s = typeof value === "number" || typeof value === "bigint" ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  s = s.replace(/\s+/g, " ");
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A file name the runtime may read: one plain name inside the artifact's directory. */
export function isPlainName(f: unknown): f is string {
  return typeof f === "string" && /^[\w][\w.-]*$/.test(f) && !f.includes("..");
}

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);

/** Throws input.manifest unless `m` is a manifest the runtime can use safely. `file` is manifest.json's URL. */
export function validateManifest(m: unknown, file: string): asserts m is Manifest {
  const bad = (at: string, what: string): never => {
    throw new SeecError("input.manifest", `${at} ${what}`, { file, at, hint: HINT });
  };
  const object = (x: unknown, at: string): Json => (isObject(x) ? x : bad(at, `must be an object, got ${shown(x)}`));
  const array = (x: unknown, at: string): unknown[] => (Array.isArray(x) ? x : bad(at, `must be a list, got ${shown(x)}`));
  const string = (x: unknown, at: string): string => (typeof x === "string" ? x : bad(at, `must be a string, got ${shown(x)}`));
  const oneOf = (x: unknown, at: string, allowed: string[]): string =>
    allowed.includes(x as string) ? (x as string) : bad(at, `must be one of ${allowed.join(", ")}, got ${shown(x)}`);
  const whole = (x: unknown, at: string, min = 0, max = Number.MAX_SAFE_INTEGER): number =>
    Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max
      ? (x as number)
      : bad(at, `must be a whole number from ${min} to ${max}, got ${shown(x)}`);
  const flag = (x: unknown, at: string): void => {
    if (x !== undefined && typeof x !== "boolean") bad(at, `must be true or false, got ${shown(x)}`);
  };
  const plainFile = (x: unknown, at: string): string =>
    isPlainName(x) ? x : bad(at, `${shown(x)} is not a plain file name inside the artifact`);

  if (!isObject(m)) throw new SeecError("input.manifest", `manifest.json must be an object, got ${shown(m)}`, { file, hint: HINT });
  if (m.format !== "seec/1") bad("format", `${shown(m.format)} is not an artifact format this runtime reads (seec/1)`);

  // Files: plain names inside the artifact's directory, nothing that climbs out of it or points elsewhere.
  const modules = array(m.modules, "modules");
  if (modules.length === 0) bad("modules", "must list the compiled modules");
  modules.forEach((x, i) => {
    const mod = object(x, `modules[${i}]`);
    string(mod.backend, `modules[${i}].backend`);
    plainFile(mod.file, `modules[${i}].file`);
    if (mod.threads !== undefined) whole(mod.threads, `modules[${i}].threads`, 2, MAX_THREADS);
  });
  if (m.tokenizer !== undefined) {
    const t = object(m.tokenizer, "tokenizer");
    plainFile(t.file, "tokenizer.file");
    oneOf(t.type, "tokenizer.type", TOKENIZERS);
  }
  if (m.webgpu !== undefined) plainFile(object(m.webgpu, "webgpu").file, "webgpu.file");
  if (m.files !== undefined)
    for (const [name, entry] of Object.entries(object(m.files, "files"))) {
      const at = `files[${shown(name)}]`;
      if (name.split("/").some((part) => !isPlainName(part))) bad(at, "is not a path inside the artifact");
      const e = object(entry, at);
      whole(e.bytes, `${at}.bytes`);
      string(e.sha256, `${at}.sha256`);
    }

  // The model: family, hyper-parameters, control tokens.
  const model = object(m.model, "model");
  const family = oneOf(model.family, "model.family", FAMILIES);
  const config = object(model.config, "model.config");
  for (const [k, v] of Object.entries(config))
    if (typeof v !== "number" || !Number.isFinite(v)) bad(`model.config.${k}`, `must be a number, got ${shown(v)}`);
  for (const k of ["bosId", "eosId"]) if (model[k] !== undefined) whole(model[k], `model.${k}`);
  if (model.eosIds !== undefined) {
    if (!Array.isArray(model.eosIds)) bad("model.eosIds", `must be a list of token ids, got ${shown(model.eosIds)}`);
    (model.eosIds as unknown[]).forEach((id, i) => whole(id, `model.eosIds[${i}]`));
  }

  // Memory: pages, then regions inside it, aligned and apart.
  const memory = object(m.memory, "memory");
  const pages = whole(memory.pages, "memory.pages", 1, MAX_PAGES);
  const total = whole(memory.totalBytes, "memory.totalBytes", 0, pages * PAGE_BYTES);
  flag(memory.fixed, "memory.fixed");
  const regions: { name: string; address: number; bytes: number }[] = [];
  for (const name of ["weights", "arena", "state", "scratch"]) {
    if (name === "scratch" && memory.scratch === undefined) continue;
    const r = object(memory[name], `memory.${name}`);
    const address = whole(r.address, `memory.${name}.address`, 0, total);
    if (address % ELEMENT_BYTES) bad(`memory.${name}.address`, `${address} is not aligned to ${ELEMENT_BYTES} bytes`);
    const bytes = whole(r.bytes, `memory.${name}.bytes`, 0, total);
    if (address + bytes > total) bad(`memory.${name}.bytes`, `${bytes} at ${address} runs past the module's ${total} bytes of memory`);
    if (name === "weights") flag(r.embedded, "memory.weights.embedded");
    for (const o of regions)
      if (bytes > 0 && o.bytes > 0 && address < o.address + o.bytes && o.address < address + bytes)
        bad(`memory.${name}.address`, `${name} (${address}, ${bytes} bytes) overlaps ${o.name} (${o.address}, ${o.bytes} bytes)`);
    regions.push({ name, address, bytes });
  }
  const arena = regions.find((r) => r.name === "arena")!;

  // Symbolic dimensions: the most a call binds.
  const dims = object(m.dims, "dims");
  const dimMax = new Map<string, number>();
  for (const [k, v] of Object.entries(dims)) dimMax.set(k, whole(object(v, `dims.${k}`).max, `dims.${k}.max`, 1, total));

  // Tensors: a shape of whole numbers and known dimensions, at an aligned address, its largest
  // call inside memory; inputs (which the runtime writes) inside the arena.
  const tensors = (list: unknown, kind: "inputs" | "outputs") => {
    const names = new Set<string>();
    return array(list, kind).map((x, i) => {
      const at = `${kind}[${i}]`;
      const t = object(x, at);
      const name = string(t.name, `${at}.name`);
      if (names.has(name)) bad(`${at}.name`, `${shown(name)} is listed twice`);
      names.add(name);
      oneOf(t.dtype, `${at}.dtype`, DTYPES);
      if (t.elementType !== undefined) oneOf(t.elementType, `${at}.elementType`, ELEMENT_TYPES);
      let elements = 1;
      array(t.shape, `${at}.shape`).forEach((d, j) => {
        const n =
          typeof d === "string"
            ? (dimMax.get(d) ?? bad(`${at}.shape[${j}]`, `names ${shown(d)}, which dims does not define`))
            : whole(d, `${at}.shape[${j}]`, 0, total);
        elements *= n;
        if (elements * ELEMENT_BYTES > total)
          bad(`${at}.shape`, `[${(t.shape as unknown[]).map(shown).join(", ")}] holds more than the module's ${total} bytes of memory`);
      });
      const address = whole(t.address, `${at}.address`, 0, total);
      if (address % ELEMENT_BYTES) bad(`${at}.address`, `${address} is not aligned to ${ELEMENT_BYTES} bytes (${t.dtype})`);
      const bytes = elements * ELEMENT_BYTES;
      const [from, to] = kind === "inputs" ? [arena.address, arena.address + arena.bytes] : [0, total];
      if (address < from || address + bytes > to)
        bad(
          `${at}.address`,
          `${name} (${bytes} bytes at ${address}) lies outside ${kind === "inputs" ? `the arena (${from} to ${to})` : `the module's ${total} bytes of memory`}`,
        );
      return { name, shape: t.shape as unknown[] };
    });
  };
  const inputs = tensors(m.inputs, "inputs");
  const outputs = tensors(m.outputs, "outputs");

  // What the runtime's own checks rely on: the vocabulary bounds token ids, the context bounds positions.
  if (inputs.some((t) => t.name === "tokens")) {
    const vocab = whole(config.vocabSize, "model.config.vocabSize", 1);
    const logits = outputs.find((t) => t.name === "logits")?.shape.at(-1);
    if (typeof logits === "number" && vocab > logits)
      bad("model.config.vocabSize", `${vocab} is more than the ${logits} logits the model computes`);
  }
  if (family === "decoder" && inputs.some((t) => t.name === "pos"))
    whole(config.contextLength, "model.config.contextLength", 1, 2 ** 31 - 1);
  if (family === "encoder" && config.maxLength !== undefined) whole(config.maxLength, "model.config.maxLength", 0);

  // A packed encoder: texts and tokens as dims B and T bound them, lengths [B] and tokens [T] in, a row per text out.
  if (model.batch !== undefined) {
    const batch = object(model.batch, "model.batch");
    const texts = whole(batch.texts, "model.batch.texts", 1),
      tokens = whole(batch.tokens, "model.batch.tokens", 1);
    if (family !== "encoder") bad("model.batch", `describes an encoder's texts, but model.family is ${shown(family)}`);
    if (dimMax.get("B") !== texts) bad("model.batch.texts", `${texts} is not dims.B.max (${shown(dimMax.get("B"))})`);
    if (dimMax.get("T") !== tokens) bad("model.batch.tokens", `${tokens} is not dims.T.max (${shown(dimMax.get("T"))})`);
    whole(config.maxLength, "model.config.maxLength", 0, tokens);
    const shape = (list: { name: string; shape: unknown[] }[], name: string) => list.find((t) => t.name === name)?.shape.join();
    if (shape(inputs, "lengths") !== "B" || shape(inputs, "tokens") !== "T")
      bad("model.batch", "needs the inputs tokens [T] and lengths [B]");
    if (outputs[0]?.shape[0] !== "B")
      bad("model.batch", `needs a row of output per text, [B, ...]; outputs[0] is [${outputs[0]?.shape.map(shown).join(", ")}]`);
  }

  // A batch run row by row: named inputs of one row each ([1, ...]), and a row of every output.
  if (model.rows !== undefined) {
    const rows = object(model.rows, "model.rows");
    if (typeof rows.name !== "string") bad("model.rows.name", `is ${shown(rows.name)}, not a dimension's name`);
    whole(rows.max, "model.rows.max", 1);
    if (!Array.isArray(rows.inputs) || rows.inputs.length === 0) bad("model.rows.inputs", "must list the inputs that carry the batch");
    (rows.inputs as unknown[]).forEach((name, i) => {
      const t = inputs.find((x) => x.name === name);
      if (!t || t.shape[0] !== 1) bad(`model.rows.inputs[${i}]`, `${shown(name)} is not an input of one row ([1, ...])`);
    });
    if (family === "decoder")
      bad("model.rows", "describes the batch of an imported graph, but model.family is decoder (one sequence, a KV cache)");
    for (const t of outputs)
      if (t.shape[0] !== 1) bad("model.rows", `needs a row of every output; ${t.name} is [${t.shape.map(shown).join(", ")}]`);
  }
}

/**
 * The instantiated module checked against the manifest: it exports its memory and forward(), the
 * memory holds every region, and (where the module says) calls and the context fit its plan.
 * `file` is the module's URL.
 */
export function validateInstance(manifest: Manifest, instance: WebAssembly.Instance, file: string, manifestFile: string): void {
  const exports = instance.exports as { memory?: unknown; forward?: unknown; MAX_T?: unknown; MAX_B?: unknown; CONTEXT_LENGTH?: unknown };
  const name = file.slice(file.lastIndexOf("/") + 1);
  if (!(exports.memory instanceof WebAssembly.Memory) || typeof exports.forward !== "function")
    throw new SeecError("input.wasm", `${name} does not export the memory and forward() of a seec module`, { file, hint: HINT });
  const bytes = exports.memory.buffer.byteLength;
  if (bytes < manifest.memory.totalBytes)
    throw new SeecError(
      "input.manifest",
      `memory.totalBytes ${manifest.memory.totalBytes} is more than the ${bytes} bytes of memory ${name} has`,
      { file: manifestFile, at: "memory.totalBytes", hint: HINT },
    );
  // What the module was planned for, where it says (it exports MAX_T, a packed encoder MAX_B, and a
  // decoder CONTEXT_LENGTH): a call of more tokens or texts would run past its activations, a
  // position past its context past its KV cache; a manifest that packs texts needs a module that does.
  const planned = (global: unknown): number | undefined => (global instanceof WebAssembly.Global ? Number(global.value) : undefined);
  const bad = (at: string, what: string): never => {
    throw new SeecError("input.manifest", `${at} ${what}`, { file: manifestFile, at, hint: HINT });
  };
  const maxT = planned(exports.MAX_T);
  const T = manifest.dims.T?.max;
  if (maxT !== undefined && T !== undefined && T > maxT)
    bad("dims.T.max", `${T} is more than ${name} was planned for (${maxT} tokens a call)`);
  const maxB = planned(exports.MAX_B);
  const B = manifest.dims.B?.max;
  if (B !== undefined && !(maxB !== undefined && B <= maxB))
    bad("dims.B.max", `${B} is more than ${name} was planned for (${maxB ?? "one text"} a call)`);
  const context = planned(exports.CONTEXT_LENGTH);
  if (context !== undefined) {
    if (manifest.model.family !== "decoder") bad("model.family", `${shown(manifest.model.family)} does not describe ${name}, a decoder`);
    const claim = manifest.model.config.contextLength;
    if (!(claim <= context))
      bad("model.config.contextLength", `${shown(claim)} is more than ${name} was planned for (${context} positions)`);
  }
}
