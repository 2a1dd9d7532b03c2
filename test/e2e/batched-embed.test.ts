// USE-Lite embedding several texts a forward call (compiler/passes/pack-texts.ts) against the same
// model built to embed one text a call (--batch 1): the same vectors, whatever the texts.
import { readFileSync } from "node:fs";
import { seec } from "../helpers/cli.js";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { readStsb } from "../../compiler/eval/stsb.js";
import type { Model } from "../../runtime/model.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { sharedPath } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";
import { runNodeWasi } from "../helpers/wasi.js";

const STSB = sharedPath("eval/stsb/dev.tsv");
/**
 * The most a packed vector may differ from the one-text vector, element by element. The kernels
 * are the same; only sums are reordered (a matmul's token blocking, the pooled rows' matmul run
 * over B rows): measured 7.1e-8 over all 3,000 STS-B dev sentences.
 */
const TOLERANCE = 1e-6;

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  expect(a.map((v) => v.length)).toEqual(b.map((v) => v.length));
  return Math.max(0, ...a.map((v, i) => Math.max(...v.map((x, j) => Math.abs(x - b[i][j])))));
}

async function abortError(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "resolved",
    (e: Error) => e.name,
  );
}

describe("USE-Lite, several texts a call (wasm-simd)", () => {
  let work: string, packed: Model, small: Model, single: Model;
  /** Each text through the one-text build, a call each. */
  const oneByOne = async (texts: string[]) => {
    const out: Float32Array[] = [];
    for (const t of texts) out.push(...(await single.embed([t])));
    return out;
  };

  beforeAll(async () => {
    work = await tmpDir();
    const built = async (name: string, batch?: number) => {
      await build({ model: USE_DIR, target: "wasm-simd", out: join(work, name), batch });
      return loadWasm(join(work, name));
    };
    [packed, small, single] = [await built("packed"), await built("batch4", 4), await built("single", 1)];
  }, 120_000);

  it("packs by default: 32 texts, 1,024 tokens a call; --batch 1 builds the one-text encoder", () => {
    expect(packed.manifest.model.batch).toEqual({ texts: 32, tokens: 1024 });
    expect(packed.manifest.inputs.map((i) => [i.name, i.shape])).toEqual([
      ["tokens", ["T"]],
      ["lengths", ["B"]],
    ]);
    expect(packed.manifest.outputs[0].shape).toEqual(["B", 512]);
    // Four texts, and room for one at the model's maximum length (128 tokens).
    expect(small.manifest.model.batch).toEqual({ texts: 4, tokens: 128 });
    expect(single.manifest.model.batch).toBeUndefined();
    expect(single.manifest.inputs.map((i) => i.name)).toEqual(["tokens"]);
  });

  it.skipIf(!STSB)(
    `embeds every STS-B dev sentence as one text a call does (max difference < ${TOLERANCE})`,
    async () => {
      const sentences = readStsb(readFileSync(STSB!, "utf8")).flatMap((p) => [p.a, p.b]);
      const want = await oneByOne(sentences);
      expect(maxDiff(await packed.embed(sentences), want)).toBeLessThan(TOLERANCE);
      expect(maxDiff(await small.embed(sentences.slice(0, 101)), want.slice(0, 101))).toBeLessThan(TOLERANCE);
    },
    120_000,
  );

  it("one text, an empty text, texts of very different lengths, a text at the maximum length, more texts than a call holds", async () => {
    const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");
    const atMax = words(300); // clipped to the model's 128 tokens
    expect(packed.tokenizer!.encode(atMax).length).toBeGreaterThan(128);
    const cases: string[][] = [
      ["A man is playing the cello."],
      [""],
      ["", "A man is playing the cello.", ""],
      ["Hi.", words(60), "A dog runs.", words(200), "x"],
      [atMax, atMax, "A cat.", atMax],
      // 75 texts: more than 32 a call, and (with the long ones) more than 1,024 tokens.
      Array.from({ length: 75 }, (_, i) => (i % 9 === 0 ? words(150) : `Sentence number ${i} is ${"very ".repeat(i % 7)}short.`)),
    ];
    for (const texts of cases) {
      const want = await oneByOne(texts);
      expect(maxDiff(await packed.embed(texts), want)).toBeLessThan(TOLERANCE);
      expect(maxDiff(await small.embed(texts), want)).toBeLessThan(TOLERANCE);
    }
    expect(await packed.embed([])).toEqual([]);
  });

  it("hears an abort: before the call, and while it runs (between its forward calls)", async () => {
    const texts = Array.from({ length: 2000 }, (_, i) => `Text ${i} has a few words in it.`);
    expect(await abortError(packed.embed(texts, { signal: AbortSignal.abort() }))).toBe("AbortError");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const t0 = performance.now();
    expect(await abortError(packed.embed(texts, { signal: controller.signal }))).toBe("AbortError");
    // 2,000 texts take about 4 s; the abort is heard within a call or two.
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("refuses lengths that do not fit the call (run() with the packed inputs)", async () => {
    const tokens = Int32Array.of(5, 6, 7);
    const run = (lengths: number[]) =>
      packed.run({ tokens, lengths: Int32Array.from(lengths) }).then(
        () => "ok",
        (e: Error) => e.message,
      );
    expect(await run([1, 2])).toBe("ok");
    expect(await run([1, 1])).toMatch(/add up to 2 tokens, but "tokens" has 3/);
    expect(await run([4, -1])).toMatch(/lengths\[1\] is -1/);
    expect(await run([129, -126])).toMatch(/lengths\[0\] is 129; a text has 0 to 128 tokens/);
  });

  it("the wasi program packs its --text texts as embed() does: it prints what seec run prints, as does its --batch 1 build", async () => {
    const texts = ["A man is playing the cello.", "", "Someone plays an instrument.", "word ".repeat(150), "The stock market fell."];
    const args = ["--text", ...Array.from({ length: 9 }, (_, i) => texts[i % texts.length])];
    const printed = async (flags: string[]) => {
      const out = join(work, `wasi${flags.join("")}`);
      expect((await seec("build", USE_DIR, "--target", "wasi", ...flags, "-o", out)).code).toBe(0);
      return runNodeWasi(new Uint8Array(readFileSync(join(out, "model.wasm"))), args);
    };
    const want = (await seec("run", join(work, "batch4"), ...args)).stdout;
    expect(await printed(["--batch", "4"])).toEqual({ stdout: want, stderr: "", code: 0 });
    expect(await printed(["--batch", "1"])).toEqual({ stdout: want, stderr: "", code: 0 });
  }, 60_000);
});
