/**
 * An artifact directory on disk: written atomically (everything goes to a temporary sibling
 * directory, which is then renamed into place, so a failed or interrupted build never leaves a
 * partial artifact and never destroys the previous one), and loaded through its own bundled
 * runtime, so that commands exercise exactly what ships.
 */
import { createHash, type Hash } from "node:crypto";
import { mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { SeecError } from "../runtime/errors.js";
import type { Model } from "../runtime/model.js";
import type { Manifest } from "../runtime/manifest.js";
import { validateManifest } from "../runtime/validate-manifest.js";
import { isLater, type FileContent, type Later } from "./util/file-content.js";

/**
 * Node's hash `update` refuses one buffer of 2 GiB or more ("data is too long"), so bytes are fed
 * in chunks of this size: a weights.bin of any size hashes the same as it would in one call.
 */
export const HASH_CHUNK_BYTES = 64 * 1024 ** 2;

export function sha256(content: FileContent): string {
  return sha256Chunks(chunksOf(content));
}

const chunksOf = (content: FileContent): Iterable<Uint8Array> =>
  typeof content === "string" ? [Buffer.from(content)] : content instanceof Uint8Array ? [content] : content.pieces();

/** The sha256 of the chunks' concatenation, read one at a time (a generator need never hold the whole input). */
export function sha256Chunks(chunks: Iterable<Uint8Array>): string {
  const hash = createHash("sha256");
  for (const _ of hashing(chunks, hash));
  return hash.digest("hex");
}

/** The chunks, each fed to `hash` as it passes. */
function* hashing(chunks: Iterable<Uint8Array>, hash: Hash): Generator<Uint8Array> {
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength; at += HASH_CHUNK_BYTES)
      hash.update(chunk.subarray(at, Math.min(at + HASH_CHUNK_BYTES, chunk.byteLength)));
    yield chunk;
  }
}

/**
 * Writes a file and returns its sha256, hashed as it is written: a file of pieces is made once (a
 * deferred weight is read, or quantized, again for each pass over it), piece by piece.
 */
async function writeHashed(file: string, content: FileContent): Promise<string> {
  const hash = createHash("sha256");
  await writeFile(file, hashing(chunksOf(content), hash)); // each chunk written whole
  return hash.digest("hex");
}

/**
 * An artifact's manifest.json, read for a command that works on the directory itself (inspect,
 * firmware): a path that is not there is io.not_found, a directory without a manifest is not an
 * artifact (usage.artifact), and the manifest must parse and validate as load() would have it.
 */
export async function readArtifactManifest(dir: string, command: string): Promise<Manifest> {
  await checkArtifactPath(dir, `seec ${command} takes`, "seec build <model> -o <dir> first");
  const file = join(dir, "manifest.json");
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new SeecError("input.json", `manifest.json is not valid JSON: ${(e as Error).message}`, {
      file,
      hint: "build the artifact again, or copy it again from where it was built",
    });
  }
  validateManifest(manifest, file);
  return manifest;
}

/** io.not_found for a path that is not there, usage.artifact for one with no manifest.json: `whoTakes` ("seec inspect takes") the directory seec build writes. */
async function checkArtifactPath(dir: string, whoTakes: string, hint: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (!s) throw new SeecError("io.not_found", "no such artifact (the path does not exist)", { file: dir });
  if (!s.isDirectory() || !(await stat(join(dir, "manifest.json")).catch(() => undefined))?.isFile())
    // A model given where its build belongs (the commonest slip), or a directory of something else.
    throw new SeecError("usage.artifact", `not an artifact: ${whoTakes} the directory seec build writes (no manifest.json there)`, {
      file: dir,
      hint,
    });
}

/** The files the manifest itself reads (modules, weights, tokenizer, WGSL) that its file list leaves out. */
export function unlistedFiles(m: Manifest): string[] {
  const used = [
    ...m.modules.map((x) => x.file),
    m.tokenizer?.file,
    m.webgpu?.file,
    m.memory.weights.embedded === true ? undefined : "weights.bin",
  ];
  return used.filter((f): f is string => f !== undefined && !(f in (m.files ?? {})));
}

/**
 * The manifest of an artifact a command is about to use whole (seec firmware), after every file it
 * lists is checked against its sha256 and every file it reads is found in that list.
 */
export async function readCheckedArtifact(dir: string, command: string): Promise<Manifest> {
  const manifest = await readArtifactManifest(dir, command);
  const damage = artifactDamage(dir, await checkArtifactFiles(dir, manifest.files ?? {}), unlistedFiles(manifest));
  if (damage) throw damage;
  return manifest;
}

/**
 * input.artifact for what is wrong with an artifact, where anything is: files not as its manifest
 * records them, else files it reads that the manifest's list leaves out.
 */
export function artifactDamage(dir: string, files: readonly FileCheck[], unlisted: readonly string[]): SeecError | undefined {
  const changed = files.filter((f) => f.state !== "ok");
  if (changed.length)
    return new SeecError(
      "input.artifact",
      `${changed.map((f) => `${f.name} (${f.state})`).join(", ")}: not as seec build wrote ${changed.length === 1 ? "it" : "them"}, by the manifest's record`,
      { file: dir, at: changed[0].name, hint: "build the artifact again, or copy it again from where it was built" },
    );
  if (unlisted.length)
    return new SeecError(
      "input.artifact",
      `the manifest's file list leaves out ${unlisted.join(", ")}, which the artifact reads: nothing to check ${unlisted.length === 1 ? "it" : "them"} against`,
      { file: join(dir, "manifest.json"), at: "files", hint: "build the artifact again: seec build lists every file it writes" },
    );
  return undefined;
}

/** A file an artifact's manifest lists, against what is there now: as seec wrote it, gone, or changed since. */
export interface FileCheck {
  name: string;
  /** Its size now (what the manifest records, where it is missing). */
  bytes: number;
  state: "ok" | "missing" | "not a file" | "size differs" | "sha256 differs";
}

/** Each file `files` lists, in name order, read and hashed as a stream (a weights.bin of any size). */
export async function checkArtifactFiles(dir: string, files: Manifest["files"]): Promise<FileCheck[]> {
  const checks: FileCheck[] = [];
  for (const name of Object.keys(files).sort()) {
    const want = files[name];
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (!s) checks.push({ name, bytes: want.bytes, state: "missing" });
    else if (!s.isFile())
      checks.push({ name, bytes: want.bytes, state: "not a file" }); // a directory, a FIFO, a device
    else if (s.size !== want.bytes) checks.push({ name, bytes: s.size, state: "size differs" });
    else {
      const hash = createHash("sha256");
      for await (const chunk of createReadStream(join(dir, name), { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      checks.push({ name, bytes: s.size, state: hash.digest("hex") === want.sha256.toLowerCase() ? "ok" : "sha256 differs" });
    }
  }
  return checks;
}

/** Writes `files` as the artifact at `out`: those made `Later` last, from the sha256 of each of the others as it was written. */
export async function writeArtifact(out: string, files: ReadonlyMap<string, FileContent | Later>): Promise<void> {
  // Through a symbolic link to the directory it names: the link stays, its directory is replaced.
  const target = await realpath(resolve(out)).catch(() => resolve(out));
  const parent = dirname(target);
  const tmp = join(parent, `.${basename(target)}.tmp-${process.pid}`);
  const old = join(parent, `.${basename(target)}.old-${process.pid}`);
  try {
    await mkdir(parent, { recursive: true });
    // What a killed build of the same artifact left behind is never part of a result.
    const stale = (await readdir(parent)).filter(
      (f) => f.startsWith(`.${basename(target)}.tmp-`) || f.startsWith(`.${basename(target)}.old-`),
    );
    for (const f of stale) if (f !== basename(old)) await rm(join(parent, f), { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
    const sha256s = new Map<string, string>();
    const later: [string, Later][] = [];
    for (const [name, data] of files) {
      if (isLater(data)) {
        later.push([name, data]);
        continue;
      }
      await mkdir(dirname(join(tmp, name)), { recursive: true });
      sha256s.set(name, await writeHashed(join(tmp, name), data));
    }
    for (const [name, data] of later) {
      await mkdir(dirname(join(tmp, name)), { recursive: true });
      await writeFile(join(tmp, name), data.made(sha256s));
    }
    // Two renames: the old artifact stays whole until the new one is complete.
    await rename(target, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await rename(tmp, target);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    // An input read while writing (a weight left in its file) failing is that input's error.
    if (e instanceof SeecError && e.code === "io.read") throw e;
    throw new SeecError("io.write", `cannot write the artifact: ${(e as Error).message}`, { file: out });
  }
}

type ArtifactModule = typeof import("../runtime/index.js");

/** The target a directory's manifest.json names, where it has one that parses. */
function builtFor(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { target?: string }).target;
  } catch {
    return undefined;
  }
}

/** The artifact on wasm; with webgpu, a webgpu artifact on WebGPU where there is an adapter; threads as load() takes them. */
export async function loadArtifact(dir: string, options: { webgpu?: boolean; threads?: number } = {}): Promise<Model> {
  await checkArtifactPath(
    dir,
    "seec run and seec eval take",
    "seec build <model> -o <dir> first (or score while building: seec build <model> --stsb | --nll ...)",
  );
  if (builtFor(dir) === "wasi")
    throw new SeecError(
      "usage.artifact",
      "a wasi build: a WASI host runs its model.wasm (its _start takes seec run's flags), not seec run or eval",
      {
        file: dir,
        hint: "node's WASI or wasmtime (README, --target wasi); for seec run and eval, build with --target wasm-simd",
      },
    );
  if (!existsSync(join(dir, "index.mjs")))
    throw new SeecError("input.artifact", "the artifact's runtime, index.mjs, is missing", {
      file: dir,
      hint: "seec inspect checks every file of the artifact; build it again, or copy it again from where it was built",
    });
  let mod: ArtifactModule;
  try {
    mod = (await import(pathToFileURL(resolve(dir, "index.mjs")).href)) as ArtifactModule;
  } catch (e) {
    throw new SeecError("io.read", `cannot load the artifact's runtime: ${(e as Error).message}`, {
      file: dir,
      hint: "is this a directory written by seec build?",
    });
  }
  return mod.load(resolve(dir), { webgpu: options.webgpu === true, threads: options.threads });
}
