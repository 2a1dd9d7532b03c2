// seec build's contracts with the person building: a llama2.c checkpoint without its tokenizer is
// refused when it is built (not when it is first run), --json errors are one JSON object on stderr,
// and the manifest records the command without the build machine's absolute paths.
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

describe.skipIf(!LLAMA2C)("seec build", () => {
  const m = LLAMA2C!;
  let work: string;
  beforeAll(async () => {
    work = await tmpDir();
  });

  it("refuses a llama2.c checkpoint without --tokenizer, naming the flag, and writes nothing", async () => {
    const r = await seec("build", m.model, "-o", join(work, "a"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^seec: error\[usage\.tokenizer\] .* @ --tokenizer: .*--tokenizer/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(work, "a"))).toBe(false);
  });

  it("with --json, prints the error as one JSON object on stderr, with the same exit code", async () => {
    const r = await seec("build", m.model, "-o", join(work, "a"), "--json");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const { error } = JSON.parse(r.stderr);
    expect(error).toMatchObject({ code: "usage.tokenizer", exitCode: 2, at: "--tokenizer", file: m.model });
    expect(error.message).toMatch(/llama2\.c/);
    expect(error.hint).toMatch(/--no-tokenizer/);
  });

  it("builds a tokenizer-less artifact when asked with --no-tokenizer", async () => {
    const r = await seec("build", m.model, "--no-tokenizer", "-o", join(work, "ids"));
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(work, "ids", "manifest.json"), "utf8"));
    expect(manifest.tokenizer).toBeUndefined();
    expect(manifest.files["tokenizer.json"]).toBeUndefined();
  });

  it("records the command with no absolute path of the build machine", async () => {
    const out = join(work, "stories");
    const r = await seec("build", m.model, `--tokenizer=${m.tokenizer}`, "-o", out, "--context", "64");
    expect(r.code).toBe(0);
    const { command } = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(command).toBe(`seec build ${basename(m.model)} --tokenizer=${basename(m.tokenizer)} -o stories --context 64`);
    expect(command).not.toContain(work);
  });
});
