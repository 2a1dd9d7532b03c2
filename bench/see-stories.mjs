#!/usr/bin/env node
// stories260K: NLL on TinyStories validation text for each SEE method at 2x, 4x and 8x (by
// parameters) against the uncompressed model, through the CLI as a user runs it.
// Usage: node bench/see-stories.mjs [--limit N]   (writes bench/results/see-stories260K.json)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const shared = resolve(process.env.SEEC_SHARED ?? "../shared");
const model = [join(shared, "models/llama2c/stories260K.bin"), "--tokenizer", join(shared, "models/llama2c/tok512.bin")];
const text = join(shared, "eval/tinystories/val_a.txt");
const limit = process.argv.includes("--limit") ? ["--limit", process.argv[process.argv.indexOf("--limit") + 1]] : [];
const work = mkdtempSync(join(tmpdir(), "seec-bench-"));
const seec = (...args) => execFileSync(process.execPath, ["bin/seec.mjs", ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
const nll = (dir) => JSON.parse(seec("eval", dir, "--nll", text, ...limit, "--json")).nll;

seec("build", ...model, "-o", join(work, "dense"));
const rows = [
  {
    method: "uncompressed",
    ratio: 1,
    ratioByParameters: 1,
    ratioByBytes: 1,
    relativeError: 0,
    meanCosine: 1,
    nll: nll(join(work, "dense")),
    fitSeconds: 0,
  },
];
console.error(`uncompressed: ${rows[0].nll.toFixed(4)}`);
for (const ratio of [2, 4, 8])
  for (const method of ["see", "morphte", "word2ketxs", "svd", "pq"]) {
    const see = join(work, `${method}-${ratio}.see`),
      out = join(work, `${method}-${ratio}`);
    let report;
    try {
      report = JSON.parse(seec("factorize", ...model, "--method", method, "--ratio", String(ratio), "--seed", "0", "-o", see, "--json"));
    } catch (e) {
      rows.push({
        method,
        ratio,
        error: String(e.stderr ?? e)
          .trim()
          .split("\n")[0],
      });
      console.error(`${method} ${ratio}x: ${rows.at(-1).error}`);
      continue;
    }
    seec("build", ...model, "--see", see, "-o", out);
    const row = {
      method,
      ratio,
      rank: report.rank,
      ratioByParameters: report.ratioByParameters,
      ratioByBytes: report.ratioByBytes,
      relativeError: report.fidelity.relativeError,
      meanCosine: report.fidelity.meanCosine,
      overlap10: report.fidelity.neighbourOverlap10,
      nll: nll(out),
      fitSeconds: report.seconds,
    };
    rows.push(row);
    console.error(`${method} ${ratio}x: ${row.nll.toFixed(4)}`);
  }

const fmt = (x, d = 2) => (x === undefined ? "" : x.toFixed(d));
console.log("| method | target | rank | x params | x bytes | rel. error | mean cos | NLL | ΔNLL |\n|---|---|---|---|---|---|---|---|---|");
for (const r of rows)
  console.log(
    r.error
      ? `| ${r.method} | ${r.ratio}x | — | — | — | — | — | ${r.error} | |`
      : `| ${r.method} | ${r.ratio}x | ${r.rank ?? ""} | ${fmt(r.ratioByParameters)} | ${fmt(r.ratioByBytes)} | ${fmt(r.relativeError, 3)} | ${fmt(r.meanCosine, 3)} | ${fmt(r.nll, 4)} | ${fmt(r.nll - rows[0].nll, 4)} |`,
  );
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/see-stories260K.json", JSON.stringify({ text, limit: limit[1] ?? null, rows }, null, 2) + "\n");
