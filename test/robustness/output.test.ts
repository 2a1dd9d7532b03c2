// Issue 26, part 1: no `-o` destroys data. Every output path is checked before any work and
// refused with usage.output (exit 2, one line); an artifact is still replaced, atomically.
// Every test writes only inside its own temporary directory.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkArtifactOutput, checkDirectoryOutput, checkFileOutput, isSeecArtifact, writeFileAtomic } from "../../compiler/output.js";
import { SeecError } from "../../runtime/errors.js";
import { seecIn, type CliResult } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

const refused = (r: CliResult, what = "") => {
  expect(r.code, `${what}: ${r.stderr}`).toBe(2);
  expect(r.stderr).toMatch(/^seec: error\[usage\.output\] /);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
};

const rejection = async (p: Promise<unknown>): Promise<SeecError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof SeecError)) throw new Error(`expected a SeecError, got ${e}`);
  return e;
};

/** Every file under dir with its contents, to show a directory survived untouched. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), "base64")]),
  );

describe("output paths (library)", () => {
  let work: string;
  beforeAll(async () => {
    work = await tmpDir();
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it("knows an artifact by its manifest's format, not by the file's name", async () => {
    const dir = (name: string, manifest?: string) => {
      mkdirSync(join(work, name));
      if (manifest !== undefined) writeFileSync(join(work, name, "manifest.json"), manifest);
      return join(work, name);
    };
    expect(await isSeecArtifact(dir("seec", '{"format":"seec/1","name":"x"}'))).toBe(true);
    expect(await isSeecArtifact(dir("webapp", '{"name":"My App","start_url":"/","display":"standalone"}'))).toBe(false);
    expect(await isSeecArtifact(dir("other-format", '{"format":"seec/0"}'))).toBe(false);
    expect(await isSeecArtifact(dir("not-json", "format: seec/1"))).toBe(false);
    expect(await isSeecArtifact(dir("null", "null"))).toBe(false);
    expect(await isSeecArtifact(dir("none"))).toBe(false);
    mkdirSync(join(work, "dir-manifest", "manifest.json"), { recursive: true });
    expect(await isSeecArtifact(join(work, "dir-manifest"))).toBe(false);
  });

  it("checks an artifact directory, a file and a directory of named outputs", async () => {
    const input = join(work, "in", "model.bin");
    mkdirSync(join(work, "in"));
    writeFileSync(input, "weights");
    writeFileSync(join(work, "seec", "index.mjs"), "");
    writeFileSync(join(work, "seec", "manifest.json"), '{"format":"seec/1","name":"x","files":{"index.mjs":{}}}');
    expect(await checkArtifactOutput(join(work, "seec"), [input])).toBe(join(work, "seec"));
    // A file of the user's beside the artifact's own would be deleted with it.
    mkdirSync(join(work, "seec", "notes"));
    writeFileSync(join(work, "seec", "notes", "NOTES.md"), "mine");
    expect((await rejection(checkArtifactOutput(join(work, "seec"), [input]))).message).toBe(
      `${join(work, "seec")} is a seec artifact that also holds notes/, which seec did not write; rebuilding would delete it`,
    );
    rmSync(join(work, "seec", "notes"), { recursive: true });
    expect(await checkArtifactOutput(join(work, "new", "deeper"), [input])).toBe(join(work, "new", "deeper"));
    expect((await rejection(checkArtifactOutput(join(work, "in"), [input]))).message).toMatch(/contains the input/);
    expect((await rejection(checkArtifactOutput(join(work, "in", "model.bin", "x"), [input]))).message).toMatch(
      /model\.bin is not a directory/,
    );
    expect((await rejection(checkFileOutput(input, [input]))).message).toMatch(/is the input/);
    expect((await rejection(checkFileOutput(join(work, "in"), []))).message).toMatch(/is an existing directory/);
    expect((await rejection(checkFileOutput(`${join(work, "new")}/`, []))).message).toMatch(/ends with a path separator/);
    expect(await checkFileOutput(join(work, "in", "out.see"), [input])).toBe(join(work, "in", "out.see"));
    expect((await rejection(checkDirectoryOutput(join(work, "webapp"), [], async () => false))).code).toBe("usage.output");
    expect(await checkDirectoryOutput(join(work, "webapp"), [], "any")).toBe(join(work, "webapp"));
    // A symbolic link does not hide an input: its real path is compared.
    symlinkSync(join(work, "in"), join(work, "in-link"));
    expect((await rejection(checkArtifactOutput(join(work, "in-link"), [input]))).message).toMatch(/contains the input/);
  });

  it("writes a file atomically, leaving no temporary file when the write fails", async () => {
    const target = join(work, "atomic", "f.bin");
    await writeFileAtomic(target, "one");
    await writeFileAtomic(target, "two");
    expect(readFileSync(target, "utf8")).toBe("two");
    expect(readdirSync(join(work, "atomic"))).toEqual(["f.bin"]);
    mkdirSync(join(work, "atomic", "a-dir", "inside"), { recursive: true });
    const e = await rejection(writeFileAtomic(join(work, "atomic", "a-dir"), "x"));
    expect(e.code).toBe("io.write");
    expect(readdirSync(join(work, "atomic")).sort()).toEqual(["a-dir", "f.bin"]);
    // A symbolic link is written through (it was replaced by a file, its target left as it was).
    symlinkSync(target, join(work, "atomic", "link.bin"));
    await writeFileAtomic(join(work, "atomic", "link.bin"), "three");
    expect([lstatSync(join(work, "atomic", "link.bin")).isSymbolicLink(), readFileSync(target, "utf8")]).toEqual([true, "three"]);
  });

  it("refuses a read-only file (a rename into place passed over its mode)", async () => {
    const file = join(work, "protected.see");
    writeFileSync(file, "mine");
    chmodSync(file, 0o444);
    const e = await rejection(checkFileOutput(file, []));
    expect([e.code, e.message]).toEqual(["usage.output", expect.stringMatching(/is read-only; seec will not replace it$/)]);
    chmodSync(file, 0o644);
    expect(await checkFileOutput(file, [])).toBe(file);
  });
});

describe.skipIf(!LLAMA2C)("seec -o refuses what it must not replace", () => {
  const m = LLAMA2C!;
  let work: string, cwd: string;
  const build = (dir: string, ...args: string[]) => seecIn(dir, "build", m.model, "--tokenizer", m.tokenizer, ...args);

  beforeAll(async () => {
    work = await tmpDir();
    // A project directory: what `-o ""` once replaced, .git included.
    cwd = join(work, "project", "sub");
    mkdirSync(join(cwd, ".git"), { recursive: true });
    writeFileSync(join(cwd, ".git", "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(cwd, "sentinel.txt"), "mine");
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it("refuses an empty path, ., the current directory and its ancestors", async () => {
    for (const out of ["", ".", "./", cwd, "..", join(work, "project"), "/"])
      refused(await build(cwd, "-o", out), `-o ${JSON.stringify(out)}`);
    expect((await build(cwd, "-o", "")).stderr).toMatch(/"" is empty/);
    expect((await build(cwd, "-o", ".")).stderr).toMatch(/\. is the current directory/);
    expect((await build(cwd, "-o", "..")).stderr).toMatch(/\.\. is an ancestor of the current directory/);
    expect(readFileSync(join(cwd, "sentinel.txt"), "utf8")).toBe("mine");
    expect(readFileSync(join(cwd, ".git", "HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
    expect(readdirSync(cwd).sort()).toEqual([".git", "sentinel.txt"]);
    expect(readdirSync(join(work, "project"))).toEqual(["sub"]);
  });

  it("refuses an input, and a directory holding one", async () => {
    const dir = join(work, "holder", "inputs");
    mkdirSync(dir, { recursive: true });
    copyFileSync(m.model, join(dir, "model.bin"));
    copyFileSync(m.tokenizer, join(dir, "tok.bin"));
    const before = snapshot(dir);
    for (const out of [dir, join(dir, "model.bin"), join(dir, "tok.bin"), join(work, "holder")]) {
      const r = await seecIn(cwd, "build", join(dir, "model.bin"), "--tokenizer", join(dir, "tok.bin"), "-o", out);
      refused(r, out);
      expect(r.stderr).toMatch(/(is|contains) the input/);
    }
    expect(snapshot(dir)).toEqual(before);
  });

  it("leaves a web app's folder that has a manifest.json, and any other non-empty folder, untouched", async () => {
    const app = join(work, "webapp");
    mkdirSync(join(app, "assets"), { recursive: true });
    writeFileSync(join(app, "manifest.json"), JSON.stringify({ name: "My App", start_url: "/", display: "standalone" }));
    writeFileSync(join(app, "index.html"), "<!doctype html><title>app</title>");
    writeFileSync(join(app, "assets", "app.js"), "console.log(1)");
    const notes = join(work, "notes");
    mkdirSync(notes);
    writeFileSync(join(notes, "todo.txt"), "keep me");
    const before = { ...snapshot(app), ...snapshot(notes) };
    const r = await build(cwd, "-o", app);
    refused(r);
    expect(r.stderr).toMatch(/webapp exists, is not empty and is not a seec artifact/);
    refused(await build(cwd, "-o", notes));
    expect({ ...snapshot(app), ...snapshot(notes) }).toEqual(before);
  });

  it("fails fast under /proc, /sys and /dev (mkdir under /proc never ended)", async () => {
    for (const out of ["/proc/x", "/proc/self/seec-out", "/sys/x", "/dev/x"]) {
      const t0 = performance.now();
      const r = await build(cwd, "-o", out);
      refused(r, out);
      expect(r.stderr).toMatch(/a special filesystem/);
      expect(performance.now() - t0).toBeLessThan(5000);
    }
  });

  it("still replaces a seec artifact, whole, and builds into an empty directory", async () => {
    const art = join(work, "art");
    mkdirSync(art);
    expect((await build(cwd, "-o", art)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(art, "manifest.json"), "utf8")).format).toBe("seec/1");
    // A file of the user's in it, or an artifact built inside it, would be deleted with the old artifact.
    writeFileSync(join(art, "NOTES.md"), "mine");
    expect((await build(cwd, "-o", join(art, "sub"))).code).toBe(0);
    const before = snapshot(art);
    const kept = await build(cwd, "-o", art);
    refused(kept, art);
    expect(kept.stderr).toContain(
      `is a seec artifact that also holds NOTES.md, sub/, which seec did not write; rebuilding would delete them`,
    );
    expect(snapshot(art)).toEqual(before);
    rmSync(join(art, "NOTES.md"));
    rmSync(join(art, "sub"), { recursive: true });
    const r = await build(cwd, "-o", art, "--demo");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}demo\.html +\d/m); // listed with the manifest's files
    expect(existsSync(join(art, "model.wasm"))).toBe(true);
    expect(readdirSync(work).filter((f) => f.startsWith(".art."))).toEqual([]);
    expect(readdirSync(cwd).sort()).toEqual([".git", "sentinel.txt"]);
    // Rebuilt, a --demo artifact holds only what seec wrote (demo.html beside the listed files).
    expect((await build(cwd, "-o", art)).code).toBe(0);
  });

  it("builds through a symbolic link into the directory it names, and refuses a broken one", async () => {
    const release = join(work, "rel", "v1");
    mkdirSync(release, { recursive: true });
    symlinkSync(release, join(work, "current"));
    expect((await build(cwd, "-o", join(work, "current"))).code).toBe(0);
    expect([lstatSync(join(work, "current")).isSymbolicLink(), existsSync(join(release, "manifest.json"))]).toEqual([true, true]);
    expect((await build(cwd, "-o", join(work, "current"))).code).toBe(0);
    expect(lstatSync(join(work, "current")).isSymbolicLink()).toBe(true);
    symlinkSync(join(work, "nowhere"), join(work, "dangling"));
    const r = await build(cwd, "-o", join(work, "dangling"));
    refused(r, join(work, "dangling"));
    expect(r.stderr).toMatch(/is a broken symbolic link; seec will not replace it/);
    expect(lstatSync(join(work, "dangling")).isSymbolicLink()).toBe(true);
  });

  it("factorize and export-onnx refuse a directory and their own input, before any work", async () => {
    const dir = join(work, "files");
    mkdirSync(join(dir, "a-dir"), { recursive: true });
    copyFileSync(m.model, join(dir, "model.bin"));
    copyFileSync(m.tokenizer, join(dir, "tok.bin"));
    writeFileSync(join(dir, "a-dir", "keep.txt"), "keep");
    const before = snapshot(dir);
    const model = join(dir, "model.bin"),
      tok = join(dir, "tok.bin");
    // export-onnx takes no tokenizer: the ONNX file holds the graph alone.
    for (const [cmd, inputs] of [
      ["factorize", ["--tokenizer", tok]],
      ["export-onnx", []],
    ] as const) {
      for (const out of [join(dir, "a-dir"), model, ...(inputs.length ? [tok] : []), "", "."]) {
        const t0 = performance.now();
        refused(await seecIn(cwd, cmd, model, ...inputs, "-o", out), `${cmd} -o ${out}`);
        expect(performance.now() - t0).toBeLessThan(5000);
      }
      refused(await seecIn(cwd, cmd, model, ...inputs, "-o", "/proc/x.out"));
    }
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(["a-dir", "model.bin", "tok.bin"]);
  });

  it("firmware and demo check their output directories before any work", async () => {
    const art = join(work, "art");
    const notes = join(work, "notes");
    const before = snapshot(notes);
    for (const out of [art, notes, "", ".", "/proc/fw"]) refused(await seecIn(cwd, "firmware", art, "-o", out), `firmware -o ${out}`);
    for (const out of ["", ".", "..", "/proc/demo"]) refused(await seecIn(cwd, "demo", "-o", out), `demo -o ${out}`);
    expect(snapshot(notes)).toEqual(before);
    expect(readdirSync(cwd).sort()).toEqual([".git", "sentinel.txt"]);
  });
});
