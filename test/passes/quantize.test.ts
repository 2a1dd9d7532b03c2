// quantizeInt8: per-row scales, weights that only Linear reads, and what the build reports.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
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
