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

  it("quantizes Linear weights per output row and leaves a weight other ops read in f32", () => {
    const { graph: q, report } = quantizeInt8(graph());
    expect(q.nodes.map((n) => n.op)).toEqual(["Gather", "QLinear", "Linear"]);
    expect(q.values.get("w.int8")!.dtype).toBe("i8");
    expect(q.values.get("emb")!.dtype).toBe("f32");
    const scale = q.values.get("w.scale")!.data as Float32Array;
    const w = graph().values.get("w")!.data as Float32Array;
    for (let n = 0; n < 6; n++) expect(scale[n]).toBeCloseTo(Math.max(...Array.from(w.subarray(n * 8, n * 8 + 8), Math.abs)) / 127, 6);
    expect(report).toMatchObject({ tensors: 1, bytesBefore: 6 * 8 * 4, bytesAfter: 6 * 8 + 6 * 4 });
    expect(report.relativeError).toBeGreaterThan(0);
    expect(report.relativeError).toBeLessThan(0.01);
  });

  it("declares the new tensors as what they hold, and reports ||Ŵ − W|| / ||W|| exactly", () => {
    const { graph: q, report } = quantizeInt8(graph());
    expect(q.values.get("w.int8")).toMatchObject({ name: "w.int8", kind: "const", dtype: "i8", shape: [6, 8] });
    expect(q.values.get("w.scale")).toMatchObject({ name: "w.scale", kind: "const", dtype: "f32", shape: [6] });
    expect(q.values.has("w")).toBe(false);
    const w = graph().values.get("w")!.data as Float32Array;
    const qw = q.values.get("w.int8")!.data as Int8Array;
    const scale = q.values.get("w.scale")!.data as Float32Array;
    let err = 0,
      norm = 0;
    for (let i = 0; i < w.length; i++) {
      err += (qw[i] * scale[Math.floor(i / 8)] - w[i]) ** 2;
      norm += w[i] ** 2;
    }
    expect(report.relativeError).toBeCloseTo(Math.sqrt(err / norm), 12);
  });

  it("changes the outputs by no more than int8 rounding allows", () => {
    const g = graph();
    const ids = Int32Array.of(1, 4, 9);
    const before = new Interpreter(g).run({ ids }).proj.data;
    const after = new Interpreter(quantizeInt8(g).graph).run({ ids }).proj.data;
    expect(maxAbsDiff(before, after)).toBeLessThan(0.02);
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
