/**
 * Where commands write: every `-o` is resolved and checked here before any work, so that no
 * command can replace the current directory, a directory holding its inputs, something under a
 * special filesystem, or a directory seec did not write. Failures are `usage.output`, one line
 * naming the path and the reason.
 *
 *   checkArtifactOutput  an artifact directory (replaced whole, atomically, by writeArtifact, when
 *                        it holds nothing seec did not write)
 *   checkDirectoryOutput a directory seec writes named files into (firmware, demo)
 *   checkFileOutput      a single file (.see, .onnx), then written with writeFileAtomic
 */
import type { Stats } from "node:fs";
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { SeecError } from "../runtime/errors.js";

/** Filesystems of the kernel: nothing seec writes belongs there (mkdir -p under /proc never ends). */
const SPECIAL = ["/proc", "/sys", "/dev"];
/** A manifest larger than this is not one seec wrote. */
const MAX_MANIFEST_BYTES = 64 << 20;

const show = (p: string): string => (p === "" ? '""' : /[\s"'\\]/.test(p) ? JSON.stringify(p) : p);

function refuse(out: string, why: string, hint?: string): never {
  throw new SeecError("usage.output", `${show(out)} ${why}`, { at: "-o", ...(hint ? { hint } : {}) });
}

/** `a` is `b` or a directory above it. */
function covers(a: string, b: string): boolean {
  return a === b || b.startsWith(a.endsWith(sep) ? a : a + sep);
}

const statOf = (p: string): Promise<Stats | undefined> => stat(p).catch(() => undefined);

/** The real path of `p`: its longest existing prefix through realpath, the rest as written. */
async function realOf(p: string): Promise<string> {
  const abs = resolve(p);
  const rest: string[] = [];
  for (let at = abs; ; at = dirname(at)) {
    const real = await realpath(at).catch(() => undefined);
    if (real !== undefined) return rest.length ? join(real, ...rest.reverse()) : real;
    if (dirname(at) === at) return abs;
    rest.push(basename(at));
  }
}

/** What a manifest tells about the files beside it. */
interface ArtifactFiles {
  files?: Record<string, unknown>;
}

/** The manifest.json of a directory seec build wrote: one that parses and says `format: "seec/1"` (else undefined). */
async function artifactManifest(dir: string): Promise<ArtifactFiles | undefined> {
  const file = join(dir, "manifest.json");
  const s = await statOf(file);
  if (!s?.isFile() || s.size > MAX_MANIFEST_BYTES) return undefined;
  try {
    const m = JSON.parse(await readFile(file, "utf8")) as unknown;
    return typeof m === "object" && m !== null && (m as { format?: unknown }).format === "seec/1" ? (m as ArtifactFiles) : undefined;
  } catch {
    return undefined;
  }
}

/** A directory seec build wrote: its manifest.json parses and says `format: "seec/1"`. */
export async function isSeecArtifact(dir: string): Promise<boolean> {
  return (await artifactManifest(dir)) !== undefined;
}

/**
 * The checks every output shares: not empty, not the current directory or above it, not an
 * input or a directory above one, not under a special filesystem, and a place a file can be
 * created (no existing file where a parent directory should be). Returns the resolved path and
 * what is there now.
 */
async function checkPlace(out: string, inputs: readonly (string | undefined)[]): Promise<{ path: string; stats?: Stats }> {
  if (typeof out !== "string" || out.trim() === "")
    refuse(out ?? "", "is empty: an empty output path would mean the current directory", "name a new path, e.g. -o out/model");
  const path = resolve(out);
  const real = await realOf(out);
  const cwd = process.cwd();
  const realCwd = await realpath(cwd).catch(() => cwd);
  for (const special of SPECIAL)
    if (covers(special, path) || covers(special, real)) refuse(out, `is under ${special}, a special filesystem, not a place for output`);
  if (path === cwd || real === realCwd)
    refuse(out, `is the current directory (${cwd}); seec will not replace it`, "name a new path inside it, e.g. -o out/model");
  if (covers(path, cwd) || covers(real, realCwd)) refuse(out, `is an ancestor of the current directory (${cwd}); seec will not replace it`);
  for (const input of inputs) {
    if (!input) continue;
    const inPath = resolve(input),
      inReal = await realOf(input);
    if (path === inPath || real === inReal) refuse(out, `is the input ${input}; seec will not overwrite its own input`);
    if (covers(path, inPath) || covers(real, inReal)) refuse(out, `contains the input ${input}; seec will not replace it`);
  }
  const stats = await statOf(path);
  if (!stats) {
    // Everything above must be (or become) a directory.
    for (let at = dirname(path); dirname(at) !== at; at = dirname(at)) {
      const s = await statOf(at);
      if (!s) {
        if ((await lstat(at).catch(() => undefined))?.isSymbolicLink()) refuse(out, `cannot be created: ${at} is a broken symbolic link`);
        continue;
      }
      if (!s.isDirectory()) refuse(out, `cannot be created: ${at} is not a directory`);
      break;
    }
  }
  return { path, stats };
}

/**
 * Refuses an `-o` for an artifact directory that writeArtifact must not replace: anything but a new
 * path, an empty directory, or an artifact holding only what seec wrote there (a file of the user's
 * put beside it, or another artifact built inside it, would go with the old artifact). A symbolic
 * link to a directory is checked, and then written, at its target.
 */
export async function checkArtifactOutput(out: string, inputs: readonly (string | undefined)[] = []): Promise<string> {
  const { path, stats } = await checkPlace(out, inputs);
  if (!stats) {
    if ((await lstat(path).catch(() => undefined))?.isSymbolicLink())
      refuse(out, "is a broken symbolic link; seec will not replace it", "point it at a directory, or choose another output directory");
    return path;
  }
  if (!stats.isDirectory()) refuse(out, "exists and is not a directory; seec will not replace it", "choose another output directory");
  if ((await readdir(path)).length === 0) return path;
  const manifest = await artifactManifest(path);
  if (!manifest)
    refuse(
      out,
      'exists, is not empty and is not a seec artifact (no manifest.json with format "seec/1"); seec will not replace it',
      "choose another output directory",
    );
  const foreign = await notWrittenBySeec(path, manifest);
  if (foreign.length)
    refuse(
      out,
      `is a seec artifact that also holds ${foreign.slice(0, 3).map(show).join(", ")}${foreign.length > 3 ? ` and ${foreign.length - 3} more` : ""}, which seec did not write; rebuilding would delete ${foreign.length === 1 ? "it" : "them"}`,
      "move them out of the artifact, or choose another output directory",
    );
  return path;
}

/** Written beside the files an artifact's manifest lists: the manifest itself, and what build --demo and --package add. */
const ARTIFACT_EXTRAS = ["manifest.json", "demo.html", "package.json"];

/** The entries of an artifact (paths relative to it) that are not files its manifest lists or ARTIFACT_EXTRAS. */
async function notWrittenBySeec(dir: string, manifest: ArtifactFiles): Promise<string[]> {
  const ours = new Set([...Object.keys(manifest.files ?? {}), ...ARTIFACT_EXTRAS]);
  const foreign: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && [...ours].some((f) => f.startsWith(`${name}/`))) await walk(name);
      else if (!(e.isFile() && ours.has(name))) foreign.push(e.isDirectory() ? `${name}/` : name);
    }
  };
  await walk("");
  return foreign.sort();
}

/**
 * Refuses an `-o` for a directory seec writes named files into, without removing anything else:
 * an existing one must be empty, or one `reuse` recognizes as seec's (or, with reuse "any", any
 * directory: the command only replaces entries it checks itself).
 */
export async function checkDirectoryOutput(
  out: string,
  inputs: readonly (string | undefined)[],
  reuse: "any" | ((dir: string) => Promise<boolean>),
): Promise<string> {
  const { path, stats } = await checkPlace(out, inputs);
  if (!stats) return path;
  if (!stats.isDirectory()) refuse(out, "exists and is not a directory", "choose another output directory");
  if (reuse === "any" || (await readdir(path)).length === 0 || (await reuse(path))) return path;
  refuse(out, "exists, is not empty and was not written by seec; seec will not write into it", "choose another output directory");
}

/** Refuses an `-o` for a single file: a directory, an input, or anything checkPlace refuses. */
export async function checkFileOutput(out: string, inputs: readonly (string | undefined)[] = []): Promise<string> {
  if (typeof out === "string" && /[\\/]$/.test(out) && out.trim() !== "")
    refuse(out, "ends with a path separator; the output is a file", "name the file, e.g. -o out/model.onnx");
  const { path, stats } = await checkPlace(out, inputs);
  if (stats?.isDirectory()) refuse(out, "is an existing directory; the output is a file", "name a file inside it");
  if (stats && !stats.isFile()) refuse(out, "exists and is not a regular file");
  // No one may write it: its owner protected it (a rename into place would pass over the mode).
  if (stats && (stats.mode & 0o222) === 0) refuse(out, "is read-only; seec will not replace it", "make it writable, or name another file");
  return path;
}

/**
 * Writes `bytes` to `path` through a temporary sibling renamed into place: the file is whole or
 * untouched, and the temporary file is removed when anything fails. A path that is a symbolic link
 * writes the file it links to.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  // Through a symbolic link to the file it names: the link stays, its file is replaced.
  const target = await realpath(path).catch(() => resolve(path));
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new SeecError("io.write", `cannot write ${path}: ${(e as Error).message}`, { file: path });
  }
}
