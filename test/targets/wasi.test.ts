// --target wasi: a standalone WASI program whose _start does what `seec run` does, in the module.
// Decoders generate; encoders embed --text and print the similarity table.
// Its output must equal seec run's, byte for byte, under node:wasi, browser_wasi_shim in Node,
// and browser_wasi_shim in headless Chromium.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readStsb } from "../../compiler/eval/stsb.js";
import { ERROR_CLASSES } from "../../runtime/errors.js";
import { HAS_CHROMIUM } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";
import { runNodeWasi, runShim, runShimInChromium } from "../helpers/wasi.js";

const STSB = sharedPath("eval/stsb/dev.tsv");

const RUNS = [
  ["--prompt", "Once upon a time", "--max-tokens", "40", "--temperature", "0"],
  ["--prompt", "Lily and the dog", "-n", "60", "--seed", "7"],
  ["-p", "The sun héllo ☃", "-n", "50", "--temperature", "0.8", "--top-p", "0.95", "--seed", "123"],
];

describe.skipIf(!LLAMA2C)("the wasi target", () => {
  let work: string, wasm: Uint8Array<ArrayBuffer>;
  const expected: string[] = [];

  beforeAll(async () => {
    work = await tmpDir();
    const m = LLAMA2C!;
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "--target", "wasi", "-o", join(work, "wasi"))).code).toBe(0);
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "-o", join(work, "simd"))).code).toBe(0);
    wasm = new Uint8Array(readFileSync(join(work, "wasi", "model.wasm")));
    for (const args of RUNS) expected.push((await seec("run", join(work, "simd"), ...args)).stdout);
  });

  it("is one self-contained module: weights and tokenizer inside, WASI imports only", () => {
    const manifest = JSON.parse(readFileSync(join(work, "wasi", "manifest.json"), "utf8"));
    expect(manifest.memory.weights.embedded).toBe(true);
    expect(Object.keys(manifest.files).sort()).toEqual(["model.wasm", "src/model.ts", "tokenizer.json"]);
    const mod = new WebAssembly.Module(wasm);
    expect(new Set(WebAssembly.Module.imports(mod).map((i) => i.module))).toEqual(new Set(["wasi_snapshot_preview1"]));
    expect(
      WebAssembly.Module.exports(mod)
        .map((e) => e.name)
        .sort(),
    ).toEqual(["_start", "forward", "memory", "step"]);
  });

  it("under node:wasi prints llama2.c's documented greedy text", async () => {
    const r = await runNodeWasi(wasm, ["--temperature", "0"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
  });

  it("under node:wasi prints what seec run prints, prompts and sampling included", async () => {
    for (const [i, args] of RUNS.entries()) expect((await runNodeWasi(wasm, args)).stdout).toBe(expected[i]);
  });

  it("under browser_wasi_shim in Node prints the same", async () => {
    for (const [i, args] of RUNS.entries()) {
      const r = await runShim(wasm, args);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected[i]);
    }
  });

  it("reports bad flags and a prompt longer than the context as seec run does, with its exit codes", async () => {
    const cases: [string[], string][] = [
      [["--bogus", "1"], "usage.flag"],
      [["--max-tokens"], "usage.argument"],
      [["--temperature", "hot"], "usage.value"],
      [["--prompt", "a b ".repeat(400)], "runtime.context"],
      // 34 KB: refused from its length before the (quadratic) encoding, which took 20 s.
      [["--prompt", "once upon a time ".repeat(2000)], "runtime.context"],
    ];
    for (const [args, code] of cases) {
      const start = performance.now();
      const r = await runNodeWasi(wasm, args);
      expect(performance.now() - start).toBeLessThan(5000);
      if (args[1]?.length > 30_000) expect(r.stderr).toMatch(/the prompt is at least \d+ tokens; the context holds \d+/);
      expect(r.stderr).toMatch(new RegExp(`^seec: error\\[${code.replace(".", "\\.")}\\]: `));
      expect(r.code).toBe(ERROR_CLASSES[code.split(".")[0] as keyof typeof ERROR_CLASSES]);
    }
    const help = await runNodeWasi(wasm, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--max-tokens N");
  });

  it("exports the raw step API beside _start", async () => {
    const noop = () => 0;
    const instance = await WebAssembly.instantiate(new WebAssembly.Module(wasm), {
      wasi_snapshot_preview1: { args_get: noop, args_sizes_get: noop, fd_write: noop, proc_exit: noop },
    });
    const step = instance.exports.step as (token: number, pos: number) => number;
    const { pieces } = JSON.parse(readFileSync(join(work, "wasi", "tokenizer.json"), "utf8")) as { pieces: string[] };
    // After BOS, greedy decoding's first token is the first word of llama2.c's documented text.
    const firstWord = readFileSync(LLAMA2C!.greedy256, "utf8").split(" ")[0];
    expect(pieces[step(1, 0)].trim()).toBe(firstWord);
  });

  it.skipIf(!HAS_CHROMIUM)(
    "under browser_wasi_shim in headless Chromium prints the same",
    async () => {
      const results = await runShimInChromium(join(work, "wasi", "model.wasm"), RUNS, join(work, "page"));
      expect(results.map((r) => r.code)).toEqual(RUNS.map(() => 0));
      expect(results.map((r) => r.text)).toEqual(expected);
    },
    120_000,
  );
});

// Encoders: --text in, the similarity table out, tokenized (NFKC, SentencePiece unigram) inside the module.
const TEXTS = [
  ["--text", "A man is playing a guitar.", "Someone plays music on an instrument, for hours and hours in the old house."],
  ["-x", "ｆｕｌｌ　ｗｉｄｔｈ ﬁne ½ café", "--text", "cafe\u0301 Ḱ̇ 한국어", "", "𝒜".repeat(40)],
];

describe("the wasi target, for an encoder", () => {
  let work: string, wasm: Uint8Array<ArrayBuffer>;
  const expected: string[] = [];
  const sentences = STSB
    ? readStsb(readFileSync(STSB, "utf8"))
        .slice(0, 100)
        .flatMap((p) => [p.a, p.b])
    : [];

  beforeAll(async () => {
    work = await tmpDir();
    expect((await seec("build", USE_DIR, "--target", "wasi", "-o", join(work, "wasi"))).code).toBe(0);
    expect((await seec("build", USE_DIR, "-o", join(work, "simd"))).code).toBe(0);
    wasm = new Uint8Array(readFileSync(join(work, "wasi", "model.wasm")));
    for (const args of TEXTS) expected.push((await seec("run", join(work, "simd"), ...args)).stdout);
  }, 120_000);

  it("is one module with the vocabulary and NFKC tables inside, and exports forward beside _start", () => {
    const mod = new WebAssembly.Module(wasm);
    expect(new Set(WebAssembly.Module.imports(mod).map((i) => i.module))).toEqual(new Set(["wasi_snapshot_preview1"]));
    expect(
      WebAssembly.Module.exports(mod)
        .map((e) => e.name)
        .sort(),
    ).toEqual(["_start", "forward", "memory"]);
  });

  it("prints what seec run prints, under node:wasi and browser_wasi_shim in Node", async () => {
    for (const [i, args] of TEXTS.entries()) {
      expect(expected[i]).toContain("1.000");
      expect(await runNodeWasi(wasm, args)).toEqual({ stdout: expected[i], stderr: "", code: 0 });
      expect(await runShim(wasm, args)).toEqual({ stdout: expected[i], stderr: "", code: 0 });
    }
  });

  it.skipIf(!STSB)("tokenizes 200 STS-B sentences as seec run does (their 200 × 200 similarities agree)", async () => {
    const args = ["--text", ...sentences];
    const r = await runNodeWasi(wasm, args);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe((await seec("run", join(work, "simd"), ...args)).stdout);
  });

  it("reports bad flags and input too large for its working memory with seec's codes", async () => {
    const cases: [string[], string][] = [
      [["--bogus"], "usage.flag"],
      [["--text"], "usage.argument"],
      [[], "usage.text"],
      [["--text", "word ".repeat(200_000)], "runtime.memory"],
    ];
    for (const [args, code] of cases) {
      const r = await runNodeWasi(wasm, args);
      expect(r.stderr).toMatch(new RegExp(`^seec: error\\[${code.replace(".", "\\.")}\\]: `));
      expect(r.code).toBe(ERROR_CLASSES[code.split(".")[0] as keyof typeof ERROR_CLASSES]);
    }
    expect((await runNodeWasi(wasm, ["--help"])).stdout).toContain("--text TEXT");
  });

  it.skipIf(!HAS_CHROMIUM)(
    "under browser_wasi_shim in headless Chromium prints the same",
    async () => {
      const results = await runShimInChromium(join(work, "wasi", "model.wasm"), TEXTS, join(work, "page"));
      expect(results).toEqual(expected.map((text) => ({ code: 0, text })));
    },
    120_000,
  );
});
