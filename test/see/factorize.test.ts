// factorize() in-process on stories260K (the CLI tests run `seec factorize` as a subprocess): the
// rank its budget buys, the report's counts, a fidelity that is the table's own, WordNet's knowledge,
// the fit's curve epoch by epoch, a corpus's frequencies, and the refusals.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { denseTable, parameterCount, shippedBytes, type SeeFactors } from "../../compiler/factors/factors.js";
import { loadModel } from "../../compiler/frontends/load.js";
import { factorize, findEmbedding, frequencyWeights } from "../../compiler/see/factorize.js";
import { decompose } from "../../compiler/see/decompose.js";
import { createTokenizer, plainIds } from "../../runtime/tokenizers/index.js";
import { lowerOnnxDecoder } from "../../compiler/frontends/onnx/index.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tmpDir } from "../helpers/compile.js";
import { int64, writeGraph, type Const, type NodeSpec } from "../helpers/onnx-model.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";

describe.skipIf(!LLAMA2C)("factorize() on stories260K, in-process", () => {
  const model = () => loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer });

  it("svd at 8x: the rank its budget buys, the report's counts and a fidelity that is the table's own", async () => {
    const m = await model();
    const E = findEmbedding(m.graph);
    expect([E.vocab, E.dim]).toEqual([512, 64]);
    const { factors: f, report } = await factorize(m, { method: "svd", ratio: 8, seed: 0, segmentation: "lexicon" });
    // 512 · 64 / 8 = 4096 parameters; a term costs 512 + 64.
    expect(report).toMatchObject({
      method: "svd",
      vocab: 512,
      dim: 64,
      rank: 7,
      sources: { token: { rows: 512, q: 1 }, basis: { rows: 1, q: 64 } },
      denseParameters: 32768,
      parameters: 4032,
      denseBytes: 131072,
      loss: [],
    });
    expect(report.ratioByParameters).toBeCloseTo(32768 / 4032, 10);
    expect(report.shippedBytes).toBe(shippedBytes(f));
    expect(report.ratioByBytes).toBeCloseTo(131072 / shippedBytes(f), 10);
    const A = denseTable(f);
    const rel = Math.sqrt(A.reduce((s, a, i) => s + (a - E.data[i]) ** 2, 0) / E.data.reduce((s, x) => s + x * x, 0));
    expect(report.fidelity.relativeError).toBeCloseTo(rel, 6);
    expect(report.seconds).toBeGreaterThan(0);
  });

  it("pq at 4x: one-hot blocks ⊗ k-means codewords, each token's block its nearest codeword, a byte a block shipped", async () => {
    const m = await model();
    const E = findEmbedding(m.graph);
    const { factors: f, report } = await factorize(m, { method: "pq", ratio: 4, seed: 0, segmentation: "lexicon" });
    // 16 blocks of 4 (dim/4); 8192 parameters buy (8192 - 16²) / (16 · 4) = 124 codewords a block.
    expect(report).toMatchObject({ method: "pq", rank: 16, sources: { block: { rows: 1, q: 16 }, code: { rows: 124, q: 4 } } });
    expect(report.parameters).toBe(16 * 16 + 16 * 124 * 4);
    expect(report.shippedBytes).toBe(4 * report.parameters + 512 + 16 * 512); // the block index and the codes, a byte each
    expect(f.spec.slots).toEqual([{ source: "block" }, { source: "code", perTerm: true }]);
    // The rebuilt row is its blocks' codewords side by side, and each is the nearest of its block's.
    const A = denseTable(f),
      code = f.tables.code,
      codes = (f.slots[1] as { index: Int32Array }).index;
    for (const t of [0, 7, 300, 511])
      for (let b = 0; b < 16; b++) {
        const c = codes[b * 512 + t];
        const at = (b * 124 + c) * 4;
        expect(Array.from(A.subarray(t * 64 + b * 4, t * 64 + b * 4 + 4))).toEqual(Array.from(code.subarray(at, at + 4)));
        const distance = (k: number) =>
          E.data.subarray(t * 64 + b * 4, t * 64 + b * 4 + 4).reduce((s, x, i) => s + (x - code[(b * 124 + k) * 4 + i]) ** 2, 0);
        for (let k = 0; k < 124; k++) expect(distance(c)).toBeLessThanOrEqual(distance(k) + 1e-9);
      }
    expect(report.fidelity.relativeError).toBeLessThan(0.5);
    // --rank sets the blocks, lowered where a block would lie wholly past dim: 24 of 64 -> blocks of 3 -> 22.
    for (const [rank, blocks, width] of [
      [24, 22, 3],
      [100, 64, 1],
    ])
      expect((await factorize(m, { method: "pq", ratio: 2, rank, seed: 0, segmentation: "lexicon" })).factors.spec).toMatchObject({
        rank: blocks,
        sources: { block: { rows: 1, q: blocks }, code: { q: width } },
      });
    const many = await rejectsSeec(() => factorize(m, { method: "pq", ratio: 8, rank: 64, seed: 0, segmentation: "lexicon" }));
    expect([many.code, many.at]).toEqual(["usage.ratio", "--rank"]);
    const e = await rejectsSeec(() => factorize(m, { method: "pq", ratio: 100, seed: 0, segmentation: "lexicon" }));
    expect([e.code, e.message]).toEqual([
      "usage.ratio",
      "--ratio 100 is out of reach for pq with 16 blocks: two codewords a block already take 384 parameters (ratio 85.3)",
    ]);
    // A table pq cannot shrink at all: its smallest layout (one block, two codewords) is as large.
    const tiny = catchSeec(() =>
      decompose(["a", "b"], 4, "emb", { method: "pq", ratio: 1, seed: 0, segmentation: "lexicon", isWord: () => false }),
    );
    expect([tiny.code, tiny.message, tiny.hint]).toEqual([
      "usage.ratio",
      "pq cannot compress a 2 × 4 embedding: even two codewords of the whole row take as many parameters as the table",
      "choose another method",
    ]);
  });

  it("refuses an embedding that is not finite, naming where, before fitting or writing anything", async () => {
    const m = await model();
    const emb = findEmbedding(m.graph);
    emb.data[3 * emb.dim + 5] = NaN;
    const e = await rejectsSeec(() => factorize(m, { method: "pq", ratio: 4, seed: 0, segmentation: "lexicon" }));
    expect([e.code, e.message]).toEqual([
      "input.embedding",
      `the token embedding ${emb.name} holds NaN at row 3, column 5: factors cannot be fitted to it`,
    ]);
  });

  it("see: knowledge from WordNet, the fit's curve reported epoch by epoch, a corpus's frequencies changing the fit", async () => {
    const m = await model();
    const seen: number[][] = [];
    const plain = await factorize(m, {
      method: "see",
      ratio: 4,
      seed: 0,
      segmentation: "lexicon",
      epochs: 3,
      onEpoch: (e, n, l) => seen.push([e, n, l]),
    });
    expect(seen.map(([e, n]) => [e, n])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    expect(plain.report.loss).toEqual(seen.map(([, , l]) => l));
    expect(Object.keys(plain.report.sources).sort()).toEqual(["morpheme", "sememe"]);
    expect(plain.factors.spec.knowledge?.sememes).toBe("wordnet-3.1");
    expect(plain.report.parameters).toBe(parameterCount(plain.factors.spec));
    expect(plain.report.ratioByParameters).toBeGreaterThanOrEqual(4);
    const corpus = join(await tmpDir(), "corpus.txt");
    writeFileSync(corpus, "Once upon a time there was a little cat.\n\nThe cat liked to play in the sun.\n");
    const weighted = await factorize(m, { method: "see", ratio: 4, seed: 0, segmentation: "lexicon", epochs: 3, frequencies: corpus });
    expect(weighted.report.loss).not.toEqual(plain.report.loss);
    const index = (f: SeeFactors) => Array.from((f.slots[0] as { index: Int32Array }).index);
    expect(index(weighted.factors)).toEqual(index(plain.factors));
  });

  it("weighs tokens by sqrt(1 + their count in a corpus of paragraphs), mean 1", async () => {
    const m = await model();
    const corpus = join(await tmpDir(), "corpus.txt");
    const paragraphs = ["Once upon a time there was a cat.", "The cat sat.\nThe cat ran."];
    writeFileSync(corpus, paragraphs.join("\n\n   \n"));
    const tok = createTokenizer(m.tokenizer!);
    const counts = new Array(512).fill(0);
    for (const p of paragraphs) for (const id of plainIds(tok, p)) counts[id]++;
    const raw = counts.map((c) => Math.sqrt(1 + c));
    const mean = raw.reduce((a, b) => a + b, 0) / 512;
    const w = await frequencyWeights(m, corpus);
    expect(w).toHaveLength(512);
    w.forEach((x, t) => expect(x, `token ${t}`).toBeCloseTo(raw[t] / mean, 6));
    expect(Math.max(...counts)).toBeGreaterThan(2);
  });

  it("see-xs reads WordNet's sememes too; an ONNX graph without a tokenizer factorizes by id", async () => {
    const xs = await factorize(await model(), { method: "see-xs", ratio: 4, seed: 0, segmentation: "lexicon", epochs: 1 });
    expect([Object.keys(xs.report.sources).sort(), xs.factors.spec.knowledge?.sememes]).toEqual([["digit0", "digit1"], "wordnet-3.1"]);
    const graph = await gathers([], "ids");
    const onnx = await factorize({ graph, format: "onnx" }, { method: "svd", ratio: 1, seed: 0, segmentation: "lexicon" });
    expect([onnx.report.vocab, onnx.report.dim, onnx.decomposition.knowledge[3].piece]).toEqual([6, 2, "<id:3>"]);
  });

  it("refuses a llama2.c model without its tokenizer, by name", async () => {
    const m = await model();
    const e = await rejectsSeec(() =>
      factorize({ ...m, tokenizer: undefined }, { method: "svd", ratio: 8, seed: 0, segmentation: "lexicon" }),
    );
    expect([e.code, e.message, e.at]).toEqual([
      "usage.tokenizer",
      "factorize needs the model's tokenizer for its vocabulary",
      "--tokenizer",
    ]);
  });
});

const LLAMA_ONNX = sharedPath("onnx/llama_tiny_fp16_genai_builder/model.onnx");
/** An ONNX graph: ids [1, 4] int64 through `path` nodes to `flat`, then a Gather from `table` (a constant unless fed). */
async function gathers(path: NodeSpec[], flat: string, fedTable = false) {
  const table: Const = { dims: [6, 2], floats: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
  const file = await writeGraph({
    nodes: [...path, { op: "Gather", inputs: ["table", flat], outputs: ["rows"], attrs: { axis: 0 } }],
    inputs: { ids: [1, 4], ...(fedTable ? { table: [6, 2] } : {}) },
    inputTypes: { ids: "int64" },
    constants: {
      shape: int64([1], [4]),
      starts: int64([1], [2]),
      ends: int64([1], [4]),
      axes: int64([1], [1]),
      ...(fedTable ? {} : { table }),
    },
    outputs: ["rows"],
  });
  return (await loadModel({ model: file })).graph;
}

describe("findEmbedding", () => {
  it("finds the table a Gather reads at the ids, directly or through reshapes", async () => {
    expect(findEmbedding(await gathers([], "ids"))).toMatchObject({ vocab: 6, dim: 2 });
    const reshaped = findEmbedding(await gathers([{ op: "Reshape", inputs: ["ids", "shape"], outputs: ["flat"] }], "flat"));
    expect([reshaped.vocab, reshaped.dim, Array.from(reshaped.data.slice(0, 4))]).toEqual([6, 2, [0, 1, 2, 3]]);
  });

  it("names the graph whose ids reach no constant table: a fed table, a slice of the ids, no Gather at all", async () => {
    for (const graph of [
      await gathers([], "ids", true),
      await gathers([{ op: "Slice", inputs: ["ids", "starts", "ends", "axes"], outputs: ["last"] }], "last"),
      await gathers([{ op: "Add", inputs: ["ids", "ids"], outputs: ["twice"] }], "twice"),
    ]) {
      const e = catchSeec(() => findEmbedding(graph));
      expect([e.code, e.message, e.file]).toEqual([
        "unsupported.no_embedding",
        "no token embedding found: no Gather reads the token ids from a constant table",
        graph.name,
      ]);
    }
  });

  it.skipIf(!LLAMA_ONNX)("reads the ids of a decoder built for chunks (a reshape whose size is the symbolic T)", async () => {
    for (const maxChunk of [1, 5]) {
      const { graph } = lowerOnnxDecoder(await readOnnx(LLAMA_ONNX!), "llama", {}, { context: 16, maxChunk });
      expect(Object.keys(graph.dims)).toEqual(maxChunk > 1 ? ["T"] : []);
      const { vocab, dim } = findEmbedding(graph);
      expect([vocab, dim]).toEqual([32000, 16]);
    }
  });
});

const ADD = sharedPath("onnx/backend-node/test_add/model.onnx");
describe.skipIf(!ADD)("findEmbedding on a graph without a Gather", () => {
  it("names the graph that has no Gather of token ids from a table", async () => {
    const m = await loadModel({ model: ADD! });
    const e = catchSeec(() => findEmbedding(m.graph));
    expect([e.code, e.message]).toEqual([
      "unsupported.no_embedding",
      "no token embedding found: no Gather reads the token ids from a constant table",
    ]);
  });
});
