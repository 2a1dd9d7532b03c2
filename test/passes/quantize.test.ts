// quantizeInt8 and quantizeTablesInt8 (and quantizeQ4's parts): per-row scales, which weights are quantized (only f32 constants
// that Linear reads as its weight or Gather looks up by the input ids), and what they report.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { isDeferred, type DeferredData } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { q4RowBytes, quantizeQ4Blocks } from "../../compiler/ir/ops/linear-q4.js";
import { quantizeInt8, quantizeTablesInt8 } from "../../compiler/passes/quantize.js";
import { quantizeQ4 } from "../../compiler/passes/quantize-q4.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

describe("quantizeInt8", () => {
  function graph() {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const emb = b.constant("emb", randomF32(10 * 8, 1), [10, 8]);
    const x = b.node("Gather", "embed", [emb, b.input("ids", "i32", ["T"])]);
    const h = b.node("Linear", "proj", [x, b.constant("w", randomF32(6 * 8, 2), [6, 8]), b.constant("bias", randomF32(6, 3), [6])]);
    b.output(h);
    b.output(b.node("Linear", "head", [x, emb])); // a tied head: the table is read by Gather too
    return b.finish();
  }

  it("quantizes Linear weights per output row, and a tied embedding once for its Gather and its classifier", () => {
    const { graph: q, report } = quantizeInt8(graph());
    expect(q.nodes.map((n) => [n.op, n.inputs])).toEqual([
      ["QGather", ["emb.int8", "emb.scale", "ids"]],
      ["QLinear", ["embed", "w.int8", "w.scale", "bias"]],
      ["QLinear", ["embed", "emb.int8", "emb.scale"]],
    ]);
    expect(q.values.get("w.int8")!.dtype).toBe("i8");
    expect(q.values.has("emb")).toBe(false);
    expect([...q.values.values()].filter((v) => v.kind === "const").map((v) => v.name)).toEqual([
      "bias",
      "emb.int8",
      "emb.scale",
      "w.int8",
      "w.scale",
    ]);
    const scale = q.values.get("w.scale")!.data as Float32Array;
    const w = graph().values.get("w")!.data as Float32Array;
    for (let n = 0; n < 6; n++) expect(scale[n]).toBeCloseTo(Math.max(...Array.from(w.subarray(n * 8, n * 8 + 8), Math.abs)) / 127, 6);
    const both = { bytesBefore: (6 * 8 + 10 * 8) * 4, bytesAfter: 6 * 8 + 6 * 4 + 10 * 8 + 10 * 4 };
    expect(report).toMatchObject({ tensors: 2, ...both });
    expect(report.embeddings).toMatchObject({ tensors: 1, tied: 1, bytesBefore: 10 * 8 * 4, bytesAfter: 10 * 8 + 10 * 4 });
    expect(report.relativeError).toBeGreaterThan(0);
    expect(report.relativeError).toBeLessThan(0.01);
  });

  it("leaves in f32 a weight or table that another op also reads, and reports no embedding when none is quantized", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const emb = b.constant("emb", randomF32(8 * 8, 1), [8, 8]);
    const w = b.constant("w", randomF32(8 * 8, 2), [8, 8]);
    const x = b.node("Gather", "embed", [emb, b.input("ids", "i32", ["T"])]);
    b.output(b.node("Linear", "a", [x, w]));
    b.output(b.node("Linear", "b", [emb, x])); // the table read as activations: not a weight
    b.output(b.node("Linear", "c", [w, x])); // the weight too
    const { graph: q, report } = quantizeInt8(b.finish());
    expect(q.nodes.map((n) => n.op)).toEqual(["Gather", "Linear", "Linear", "Linear"]);
    expect(report).toEqual({ tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 });
  });

  it("leaves in f32 a table looked up by computed indices (positions, a RoPE table), not the graph's input ids", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const ids = b.input("ids", "i32", ["T"]);
    const tokens = b.node("Gather", "embed", [b.constant("emb", randomF32(10 * 8, 1), [10, 8]), ids]);
    const positions = b.node("Gather", "pos", [
      b.constant("table", randomF32(4 * 8, 2), [4, 8]),
      b.constant("at", Int32Array.of(0, 1, 2), [3]),
    ]);
    b.output(tokens);
    b.output(positions);
    const { graph: q, report } = quantizeInt8(b.finish());
    expect(q.nodes.map((n) => n.op)).toEqual(["QGather", "Gather"]);
    expect(report.embeddings).toMatchObject({ tensors: 1, bytesBefore: 10 * 8 * 4 });
  });

  it("an untied embedding becomes an int8 table with one scale per token, re-derived here, rounding halves away from zero", () => {
    const [V, D] = [9, 20];
    const table = randomF32(V * D, 33, 0.7);
    // Row 3 holds exact halves of its scale (max 127 · 0.25): 2.5 and −2.5 levels round to 3 and −3.
    table.set([127 * 0.25, 2.5 * 0.25, -2.5 * 0.25, 0.5 * 0.25, -0.5 * 0.25, -126.5 * 0.25], 3 * D);
    table.fill(0, 5 * D, 6 * D); // an all-zero row: scale 1, levels 0
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 4);
    b.output(b.node("Gather", "embed", [b.constant("emb", table, [V, D]), b.input("ids", "i32", ["T"])]));
    const { graph: q, report } = quantizeInt8(b.finish());
    expect(q.nodes.map((n) => n.op)).toEqual(["QGather"]);
    const qt = q.values.get("emb.int8")!,
      qs = q.values.get("emb.scale")!;
    expect(qt).toMatchObject({ kind: "const", dtype: "i8", shape: [V, D] });
    expect(qs).toMatchObject({ kind: "const", dtype: "f32", shape: [V] });
    const levels = qt.data as Int8Array,
      scales = qs.data as Float32Array;
    let err = 0,
      norm = 0;
    for (let v = 0; v < V; v++) {
      let max = 0;
      for (let d = 0; d < D; d++) max = Math.max(max, Math.abs(table[v * D + d]));
      const s = Math.fround(max / 127) || 1;
      expect(scales[v], `scale of row ${v}`).toBe(s);
      for (let d = 0; d < D; d++) {
        const r = table[v * D + d] / s;
        const want = r < 0 ? -Math.floor(-r + 0.5) : Math.floor(r + 0.5);
        expect(levels[v * D + d], `row ${v}, column ${d}`).toBe(want === 0 ? 0 : want);
        err += (want * s - table[v * D + d]) ** 2;
        norm += table[v * D + d] ** 2;
      }
    }
    expect(Array.from(levels.subarray(3 * D, 3 * D + 6))).toEqual([127, 3, -3, 1, -1, -127]);
    expect(scales[5]).toBe(1);
    expect(report.embeddings).toEqual({
      tensors: 1,
      tied: 0,
      bytesBefore: V * D * 4,
      bytesAfter: V * D + V * 4,
      relativeError: report.relativeError,
    });
    expect(report.relativeError).toBeCloseTo(Math.sqrt(err / norm), 12);
    // QGather looks up the dequantized rows: scale[id] · q[id, :], in f32.
    const ids = Int32Array.of(3, 0, 8, 3);
    const y = new Interpreter(q).run({ ids }).embed.data as Float32Array;
    ids.forEach((id, t) => {
      for (let d = 0; d < D; d++) expect(y[t * D + d]).toBe(Math.fround(levels[id * D + d] * scales[id]));
    });
    expect(() => new Interpreter(q).run({ ids: Int32Array.of(0, 1, 9, 2) })).toThrow(/outside the vocabulary/);
  });

  it("declares the new tensors as what they hold, and reports ||Ŵ − W|| / ||W|| exactly (the embedding's too)", () => {
    const { graph: q, report } = quantizeInt8(graph());
    expect(q.values.get("w.int8")).toMatchObject({ name: "w.int8", kind: "const", dtype: "i8", shape: [6, 8] });
    expect(q.values.get("w.scale")).toMatchObject({ name: "w.scale", kind: "const", dtype: "f32", shape: [6] });
    expect(q.values.has("w")).toBe(false);
    const sums = (name: string) => {
      const w = graph().values.get(name)!.data as Float32Array;
      const qw = q.values.get(`${name}.int8`)!.data as Int8Array;
      const scale = q.values.get(`${name}.scale`)!.data as Float32Array;
      let err = 0,
        norm = 0;
      for (let i = 0; i < w.length; i++) {
        err += (qw[i] * scale[Math.floor(i / 8)] - w[i]) ** 2;
        norm += w[i] ** 2;
      }
      return [err, norm];
    };
    const [[ew, nw], [ee, ne]] = [sums("w"), sums("emb")];
    expect(report.relativeError).toBeCloseTo(Math.sqrt((ew + ee) / (nw + ne)), 12);
    expect(report.embeddings!.relativeError).toBeCloseTo(Math.sqrt(ee / ne), 12);
  });

  it("changes the outputs by no more than int8 rounding allows", () => {
    const g = graph();
    const ids = Int32Array.of(1, 4, 9);
    const [envBefore, envAfter] = [new Map(), new Map()];
    const before = new Interpreter(g).run({ ids }, envBefore),
      after = new Interpreter(quantizeInt8(g).graph).run({ ids }, envAfter);
    expect(maxAbsDiff(before.proj.data, after.proj.data)).toBeLessThan(0.02);
    // The looked-up rows (uniform in ±1): half a level of 1/127 at most.
    expect(maxAbsDiff(envBefore.get("embed").data, envAfter.get("embed").data)).toBeLessThanOrEqual(0.5 / 127);
    expect(maxAbsDiff(before.head.data, after.head.data)).toBeLessThan(0.03);
  });

  it("rounds each weight to the nearest level of its row's scale (max|w| / 127), not toward zero", () => {
    // Levels 0.3 or 0.7 from a whole one, either sign: truncation would differ on every 0.7.
    const levels = [
      [127, 3.7, -3.7, 50.3, -50.6, 0.4, -0.6, 126.7],
      [-127, 1.7, -0.3, 99.7, -99.3, 12.6, -12.4, -126.6],
    ];
    const rowScale = [0.02, 0.5];
    const w = Float32Array.from(levels.flatMap((row, n) => row.map((l) => l * rowScale[n])));
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 1);
    b.output(b.node("Linear", "proj", [b.input("x", "f32", ["T", 8]), b.constant("w", w, [2, 8])]));
    const q = quantizeInt8(b.finish()).graph;
    const scale = q.values.get("w.scale")!.data as Float32Array;
    expect(Array.from(scale)).toEqual(rowScale.map((s) => Math.fround(Math.fround(127 * s) / 127)));
    expect(Array.from(q.values.get("w.int8")!.data as Int8Array)).toEqual(
      [
        [127, 4, -4, 50, -51, 0, -1, 127],
        [-127, 2, 0, 100, -99, 13, -12, -127],
      ].flat(),
    );
  });

  it("keeps the levels within ±127 when a row's largest weight is subnormal (its scale rounds down)", () => {
    // max / 127 rounds down to 1.4e-45 here, so the largest weight's level came out as 178 and an
    // Int8Array wrapped it to −78: the wrong sign.
    const w = Float32Array.of(2.5e-43, -1e-44, 1.2e-43, 0, 1, -0.5, 0.25, 0, -2.5e-43, 1e-44, -1.2e-43, 0);
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 1);
    b.output(b.node("Linear", "proj", [b.input("x", "f32", ["T", 4]), b.constant("w", w, [3, 4])]));
    const q = Array.from(quantizeInt8(b.finish()).graph.values.get("w.int8")!.data as Int8Array);
    expect(q.slice(0, 4)).toEqual([127, -7, 86, 0]);
    expect(q.slice(4, 8)).toEqual([127, -64, 32, 0]);
    expect(q.slice(8)).toEqual([-127, 7, -86, 0]); // and a negative largest weight at −127
  });

  it("the quantized Linear computes exactly scale[n] · sum_k x[k] · q[n, k]", () => {
    const [N, K] = [5, 12];
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 2);
    const w = randomF32(N * K, 21, 0.3);
    b.output(b.node("Linear", "proj", [b.input("x", "f32", ["T", K]), b.constant("w", w, [N, K])]));
    const q = quantizeInt8(b.finish()).graph;
    const qw = q.values.get("w.int8")!.data as Int8Array;
    const scale = q.values.get("w.scale")!.data as Float32Array;
    // The weights re-derived here: per-row scale max|w| / 127, round to nearest.
    for (let n = 0; n < N; n++) {
      const s = Math.fround(Math.max(...Array.from(w.subarray(n * K, (n + 1) * K), Math.abs)) / 127);
      expect(scale[n]).toBe(s);
      for (let k = 0; k < K; k++) expect(qw[n * K + k]).toBe(Math.round(w[n * K + k] / s));
    }
    // Whole-number inputs make every integer sum exact: y = scale[n] · that sum, to f32 rounding.
    const x = Float32Array.from({ length: 2 * K }, (_, i) => (i % 7) - 3);
    const y = new Interpreter(q).run({ x }).proj.data as Float32Array;
    for (let t = 0; t < 2; t++)
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += x[t * K + k] * qw[n * K + k];
        expect(Math.abs(y[t * N + n] - scale[n] * sum)).toBeLessThanOrEqual(1e-6 * Math.abs(scale[n] * sum) + 1e-9);
      }
  });
});

// Which weights are quantized: only f32 constants that every reader reads as a Linear's weight
// (as written, once) or as a Gather's table looked up by the graph's input ids.
describe("quantizeInt8 leaves as they are", () => {
  /** The ops, each node's inputs and the constants after quantizeInt8, with its report. */
  function after(g: ReturnType<GraphBuilder["finish"]>) {
    const { graph: q, report } = quantizeInt8(g);
    return {
      nodes: q.nodes.map((n) => [n.op, ...n.inputs].join(" ")),
      consts: [...q.values.values()].filter((v) => v.kind === "const").map((v) => `${v.name} ${v.dtype} [${v.shape.join(", ")}]`),
      report,
      graph: q,
    };
  }
  const none = { tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 };

  it("a weight that is not a constant (fed as an input, or computed), beside a Relu", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 2);
    const x = b.input("x", "f32", ["T", 4]);
    const w = b.input("w", "f32", [3, 4]); // a weight the caller feeds
    const a = b.node("Linear", "a", [x, w]);
    const r = b.node("Relu", "r", [b.input("m", "f32", [4, 4])]); // computed: [4, 4] f32
    b.output(a);
    b.output(b.node("Linear", "c", [x, r]));
    const g = b.finish();
    const { nodes, consts, report, graph } = after(g);
    expect(nodes).toEqual(["Linear x w", "Relu m", "Linear x r"]);
    expect(consts).toEqual([]);
    expect(report).toEqual(none);
    expect(graph.values).toEqual(g.values);
  });

  it("a constant weight or table that is int8 or i32, not f32", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 2);
    const x = b.input("x", "f32", ["T", 4]);
    b.output(b.node("Linear", "a", [x, b.constant("w8", Int8Array.of(1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12), [3, 4])]));
    b.output(b.node("Gather", "e", [b.constant("t32", Int32Array.of(1, 2, 3, 4, 5, 6), [3, 2]), b.input("ids", "i32", ["T"])]));
    const { nodes, consts, report } = after(b.finish());
    expect(nodes).toEqual(["Linear x w8", "Gather t32 ids"]);
    expect(consts).toEqual(["w8 i8 [3, 4]", "t32 i32 [3, 2]"]);
    expect(report).toEqual(none);
  });

  it("a weight that a Linear also reads as its input x, or adds as its residual", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    const x = b.input("x", "f32", [4, 4]);
    const sq = b.constant("sq", randomF32(4 * 4, 5), [4, 4]);
    b.output(b.node("Linear", "self", [sq, sq])); // sq · sqᵀ: the weight is x too
    const r = b.constant("r", randomF32(4 * 4, 6), [4, 4]);
    b.output(b.node("Linear", "res", [x, r, r], { residual: 1 })); // x · rᵀ + r
    const { nodes, consts, report } = after(b.finish());
    expect(nodes).toEqual(["Linear sq sq", "Linear x r r"]);
    expect(consts).toEqual(["sq f32 [4, 4]", "r f32 [4, 4]"]);
    expect(report).toEqual(none);
  });

  it("a weight stored transposed already (layout kn), whose rows are not output rows", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 2);
    b.output(b.node("Linear", "a", [b.input("x", "f32", ["T", 4]), b.constant("wt", randomF32(4 * 3, 7), [4, 3])], { layout: "kn" }));
    const { nodes, consts, report } = after(b.finish());
    expect(nodes).toEqual(["Linear x wt"]);
    expect(consts).toEqual(["wt f32 [4, 3]"]);
    expect(report).toEqual(none);
  });

  it("a Linear's weight that a MeanLinear or an Add also reads, while the Linear beside them is quantized", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const x = b.input("x", "f32", ["T", 4]);
    const m = b.constant("m", randomF32(3 * 4, 8), [3, 4]);
    const a = b.constant("a", randomF32(3 * 4, 9), [3, 4]);
    const w = b.constant("w", randomF32(3 * 4, 10), [3, 4]);
    b.output(b.node("Linear", "lm", [x, m]));
    b.output(b.node("MeanLinear", "pooled", [x, m])); // an op ending in Linear is not a Linear
    b.output(b.node("Linear", "la", [x, a]));
    b.output(b.node("Add", "plus", [b.input("z", "f32", [3, 4]), a])); // a read second, as Linear's weight is
    b.output(b.node("Linear", "lw", [x, w]));
    const { nodes, consts, report } = after(b.finish());
    expect(nodes).toEqual(["Linear x m", "MeanLinear x m", "Linear x a", "Add z a", "QLinear x w.int8 w.scale"]);
    expect(consts).toEqual(["m f32 [3, 4]", "a f32 [3, 4]", "w.int8 i8 [3, 4]", "w.scale f32 [3]"]);
    expect(report).toMatchObject({ tensors: 1, bytesBefore: 3 * 4 * 4, bytesAfter: 3 * 4 + 3 * 4 });
    expect(report.embeddings).toBeUndefined();
  });

  it("a table that another op also reads beside one of the graph's inputs, or that its Gather reads twice", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const ids = b.input("ids", "i32", ["T"]);
    const emb = b.constant("emb", randomF32(5 * 4, 11), [5, 4]);
    b.output(b.node("Gather", "e", [emb, ids]));
    b.output(b.node("Add", "shifted", [emb, b.input("shift", "f32", [5, 4])])); // the table first, an input second
    const twice = b.constant("twice", randomF32(5 * 4, 12), [5, 4]);
    b.output(b.node("Gather", "e2", [twice, ids, twice])); // Gather ignores a third input; the builder allows it
    const { nodes, consts, report } = after(b.finish());
    expect(nodes).toEqual(["Gather emb ids", "Add emb shift", "Gather twice ids twice"]);
    expect(consts).toEqual(["emb f32 [5, 4]", "twice f32 [5, 4]"]);
    expect(report).toEqual(none);
  });
});

describe("quantizeTablesInt8", () => {
  it("quantizes the embedding tables (and a classifier tied to one) and leaves Linear-only weights in f32", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const emb = b.constant("emb", randomF32(10 * 8, 1), [10, 8]);
    const x = b.node("Gather", "embed", [emb, b.input("ids", "i32", ["T"])]);
    const w = b.constant("w", randomF32(6 * 8, 2), [6, 8]);
    b.output(b.node("Linear", "proj", [x, w]));
    b.output(b.node("Linear", "head", [x, emb]));
    const g = b.finish();
    const { graph: q, report, sums } = quantizeTablesInt8(g);
    expect(q.nodes.map((n) => [n.op, ...n.inputs].join(" "))).toEqual([
      "QGather emb.int8 emb.scale ids",
      "Linear embed w",
      "QLinear embed emb.int8 emb.scale",
    ]);
    expect(q.values.get("w")).toBe(g.values.get("w"));
    expect(q.values.has("emb")).toBe(false);
    expect(q.values.get("emb.int8")).toMatchObject({ kind: "const", dtype: "i8", shape: [10, 8] });
    expect(q.values.get("emb.scale")).toMatchObject({ kind: "const", dtype: "f32", shape: [10] });
    // The same int8 table and scales as quantizeInt8 makes of it.
    const full = quantizeInt8(g).graph;
    expect(q.values.get("emb.int8")!.data).toEqual(full.values.get("emb.int8")!.data);
    expect(q.values.get("emb.scale")!.data).toEqual(full.values.get("emb.scale")!.data);
    // The sums, re-derived in the pass's order: row by row, (q · scale − w)² and w².
    const table = g.values.get("emb")!.data as Float32Array;
    const levels = q.values.get("emb.int8")!.data as Int8Array,
      scales = q.values.get("emb.scale")!.data as Float32Array;
    let errSq = 0,
      normSq = 0;
    for (let i = 0; i < table.length; i++) {
      errSq += (levels[i] * scales[Math.floor(i / 8)] - table[i]) ** 2;
      normSq += table[i] * table[i];
    }
    expect(sums).toEqual({ errSq, normSq });
    expect(errSq).toBeGreaterThan(0);
    const bytes = { tensors: 1, bytesBefore: 10 * 8 * 4, bytesAfter: 10 * 8 + 10 * 4, relativeError: Math.sqrt(errSq / normSq) };
    expect(report).toEqual({ ...bytes, embeddings: { ...bytes, tied: 1 } });
  });

  it("leaves a graph without a table as it was, with nothing reported", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 2);
    b.output(b.node("Linear", "proj", [b.input("x", "f32", ["T", 8]), b.constant("w", randomF32(6 * 8, 2), [6, 8])]));
    const g = b.finish();
    const { graph: q, report, sums } = quantizeTablesInt8(g);
    expect(q.nodes).toEqual(g.nodes);
    expect(q.values).toEqual(g.values);
    expect(report).toEqual({ tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 });
    expect(sums).toEqual({ errSq: 0, normSq: 0 });
  });
});

describe("quantizing part by part, and weights left in their file", () => {
  // 1100 rows of 1024: 4.3 MiB of f32, past the 4 MiB the quantizers read at once, so the rows come in two parts.
  const [N, K] = [1100, 1024];
  const w = randomF32(N * K, 41, 0.5);

  /** A Linear over w: held, or left in a "file" that counts its reads (as frontends/input-file.ts's source does). */
  function graph(file?: { reads: number }) {
    const source: DeferredData = {
      length: N * K,
      read: () => (file!.reads++, w.slice()),
      readRange: (from, count, into) => {
        file!.reads++;
        return into ? (into.set(w.subarray(from, from + count)), into) : w.slice(from, from + count);
      },
    };
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 1);
    b.output(b.node("Linear", "proj", [b.input("x", "f32", ["T", K]), b.constant("w", file ? source : w, [N, K])]));
    return b.finish();
  }

  it("int8: every row at its own scale across the parts, the same held or left in the file, made again at each read", () => {
    const held = quantizeInt8(graph());
    expect(isDeferred(held.graph.values.get("w.int8")!)).toBe(false);
    const levels = held.graph.values.get("w.int8")!.data as Int8Array;
    const scales = held.graph.values.get("w.scale")!.data as Float32Array;
    for (const n of [0, 1023, 1024, 1025, N - 1]) {
      const row = w.subarray(n * K, (n + 1) * K);
      const s = Math.fround(Math.max(...Array.from(row, Math.abs)) / 127);
      expect(scales[n], `row ${n}`).toBe(s);
      const want = Array.from(row, (v) => Math.sign(v) * Math.round(Math.abs(v / s)) || 0);
      expect(Array.from(levels.subarray(n * K, (n + 1) * K)), `row ${n}`).toEqual(want);
    }
    // The reported error counts both parts: ||Ŵ − W|| / ||W|| over the whole weight.
    let errSq = 0,
      normSq = 0;
    for (let i = 0; i < N * K; i++) {
      errSq += (levels[i] * scales[Math.floor(i / K)] - w[i]) ** 2;
      normSq += w[i] ** 2;
    }
    expect(held.report.relativeError).toBeCloseTo(Math.sqrt(errSq / normSq), 12);
    const file = { reads: 0 };
    const left = quantizeInt8(graph(file));
    expect(file.reads).toBe(2); // measured, in two parts
    expect(left.report).toEqual(held.report);
    const q = left.graph.values.get("w.int8")!;
    expect([isDeferred(q), q.dtype, q.shape]).toEqual([true, "i8", [N, K]]);
    expect(q.data).toEqual(levels);
    expect(file.reads).toBe(4); // and again for the read
    expect(left.graph.values.get("w.scale")!.data).toEqual(scales);
  });

  it("q4: the blocks across the parts, the same held or left in the file, made again at each read", () => {
    const held = quantizeQ4(graph());
    expect(isDeferred(held.graph.values.get("w.q4")!)).toBe(false);
    const blocks = held.graph.values.get("w.q4")!.data as Int8Array;
    expect(new Uint8Array(blocks.buffer, blocks.byteOffset, blocks.byteLength)).toEqual(quantizeQ4Blocks(w, N, K));
    const file = { reads: 0 };
    const left = quantizeQ4(graph(file));
    expect(file.reads).toBe(2);
    expect(left.report).toEqual(held.report);
    const q = left.graph.values.get("w.q4")!;
    expect([isDeferred(q), q.dtype, q.shape]).toEqual([true, "i8", [N, q4RowBytes(K)]]);
    expect(q.data).toEqual(blocks);
    expect(file.reads).toBe(4);
  });

  it("q4 leaves a weight fed as an input, or already int8, as it is, and reports no embedding where none is quantized", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 1);
    const x = b.input("x", "f32", ["T", 32]);
    b.output(b.node("Linear", "a", [x, b.input("w", "f32", [4, 32])]));
    b.output(b.node("Linear", "b", [x, b.constant("v", new Int8Array(4 * 32), [4, 32])]));
    b.output(b.node("Linear", "c", [x, b.constant("u", randomF32(4 * 32, 5), [4, 32])]));
    const { graph: q, report } = quantizeQ4(b.finish());
    expect(q.nodes.map((n) => [n.op, n.inputs[1]])).toEqual([
      ["Linear", "w"],
      ["Linear", "v"],
      ["Q4Linear", "u.q4"],
    ]);
    expect(report.tensors).toBe(1);
    expect("embeddings" in report).toBe(false);
  });
});
