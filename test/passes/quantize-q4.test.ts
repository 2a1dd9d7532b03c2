// quantizeQ4 (--quantize q4): Q4_0 blocks re-derived here from their definition (packing, scales,
// rounding), partial groups, weights that only Linear reads, the report, and the op's semantics.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { dequantizeQ4Blocks, q4RowBytes, quantizeQ4Blocks } from "../../compiler/ir/ops/linear-q4.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { quantizeQ4 } from "../../compiler/passes/quantize-q4.js";
import { halfToFloat } from "../../compiler/util/float16.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

/** One Linear over [T, K] inputs with weights w [N, K] (and a bias). */
function linear(w: Float32Array, N: number, K: number, bias?: Float32Array) {
  const b = new GraphBuilder("q4", { family: "decoder", config: {} });
  b.dim("T", 3);
  const inputs = [b.input("x", "f32", ["T", K]), b.constant("w", w, [N, K]), ...(bias ? [b.constant("bias", bias, [N])] : [])];
  b.output(b.node("Linear", "proj", inputs));
  return b.finish();
}

/**
 * Q4_0 from its definition (ggml-quants.c, quantize_row_q4_0_ref): per group of 32 (zeros past K),
 * d = (the value of largest |.|) / -8, stored as f16; q = min(15, (int)(x · (1/d) + 8.5)), in f32.
 */
function rederive(w: Float32Array, N: number, K: number): { scales: number[][]; levels: number[][] } {
  const G = Math.ceil(K / 32);
  const scales: number[][] = [],
    levels: number[][] = [];
  for (let n = 0; n < N; n++) {
    scales.push([]);
    levels.push([]);
    for (let g = 0; g < G; g++) {
      const group = Array.from({ length: 32 }, (_, j) => (g * 32 + j < K ? w[n * K + g * 32 + j] : 0));
      const max = group.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0);
      const d = Math.fround(max / -8);
      const inv = d ? Math.fround(1 / d) : 0;
      scales[n].push(d);
      for (const v of group) levels[n].push(Math.min(15, Math.trunc(Math.fround(Math.fround(v * inv) + 8.5))));
    }
  }
  return { scales, levels };
}

describe("quantizeQ4", () => {
  it.each([
    [5, 64],
    [3, 40],
    [4, 7],
    [1, 33],
  ])(
    "packs N=%i rows of K=%i as Q4_0 blocks: f16 scale, low nibbles the first 16 values, high the last 16, partial groups zero-padded",
    (N, K) => {
      const w = randomF32(N * K, N * 100 + K, 0.7);
      const { graph, report } = quantizeQ4(linear(w, N, K));
      const q = graph.values.get("w.q4")!;
      expect(q).toMatchObject({ kind: "const", dtype: "i8", shape: [N, Math.ceil(K / 32) * 18] });
      expect(graph.values.has("w")).toBe(false);
      expect(graph.nodes.map((n) => [n.op, n.inputs])).toEqual([["Q4Linear", ["x", "w.q4"]]]);
      const bytes = new Uint8Array((q.data as Int8Array).buffer);
      const { scales, levels } = rederive(w, N, K);
      for (let n = 0; n < N; n++)
        for (let g = 0; g < scales[n].length; g++) {
          const at = n * q4RowBytes(K) + g * 18;
          // The f16 scale rounds the f32 one to nearest (11 significant bits).
          const d = halfToFloat(bytes[at] | (bytes[at + 1] << 8));
          expect(Math.abs(d - scales[n][g])).toBeLessThanOrEqual(Math.abs(scales[n][g]) * 2 ** -11);
          for (let j = 0; j < 16; j++) {
            expect(bytes[at + 2 + j] & 15, `row ${n} group ${g} value ${j}`).toBe(levels[n][g * 32 + j]);
            expect(bytes[at + 2 + j] >> 4, `row ${n} group ${g} value ${j + 16}`).toBe(levels[n][g * 32 + j + 16]);
          }
        }
      // Padding past K quantizes to level 8, zero.
      expect(levels[0].slice(K, Math.ceil(K / 32) * 32).every((l) => l === 8)).toBe(true);
      expect(report).toMatchObject({ tensors: 1, bytesBefore: N * K * 4, bytesAfter: N * Math.ceil(K / 32) * 18 });
    },
  );

  it("maps each group's value of largest magnitude, with its sign, to -8 and rounds halves up (ggml's Q4_0)", () => {
    // d = -2 / -8 = 0.25: values in units of d are exact, so the halves are halves.
    const K = 32;
    const w = new Float32Array(K);
    w[0] = -2; // -8 -> nibble 0
    w[1] = 0.375; // 1.5 -> 2 -> nibble 10
    w[2] = -0.375; // -1.5 -> -1 (half up, not away from zero) -> nibble 7
    w[3] = 1.75; // 7 -> nibble 15
    w[17] = -0.125; // -0.5 -> 0 -> nibble 8 (high nibble of byte 1)
    w[18] = 0.125; // 0.5 -> 1 -> nibble 9
    const { graph } = quantizeQ4(linear(w, 1, K));
    const bytes = new Uint8Array((graph.values.get("w.q4")!.data as Int8Array).buffer);
    expect(halfToFloat(bytes[0] | (bytes[1] << 8))).toBe(0.25);
    expect([bytes[2] & 15, bytes[3] & 15, bytes[4] & 15, bytes[5] & 15, bytes[3] >> 4, bytes[4] >> 4]).toEqual([0, 10, 7, 15, 8, 9]);
    // A positive largest value: d = 2 / -8 = -0.25, so 2 -> nibble 0 and -1.75 -> 7 -> nibble 15.
    const w2 = new Float32Array(K);
    w2[5] = 2;
    w2[6] = -1.75;
    const { graph: g2 } = quantizeQ4(linear(w2, 1, K));
    const b2 = new Uint8Array((g2.values.get("w.q4")!.data as Int8Array).buffer);
    expect(halfToFloat(b2[0] | (b2[1] << 8))).toBe(-0.25);
    expect([b2[2 + 5] & 15, b2[2 + 6] & 15, b2[2] & 15]).toEqual([0, 15, 8]);
  });

  it("re-quantizes its own dequantized weights to the same bytes: a GGUF Q4_0 tensor, read as f32, builds with --quantize q4 unchanged", () => {
    for (const [N, K, seed] of [
      [16, 64, 1],
      [5, 96, 2],
      [3, 40, 3],
    ]) {
      const blocks = quantizeQ4Blocks(randomF32(N * K, seed, 0.3), N, K);
      expect(quantizeQ4Blocks(dequantizeQ4Blocks(blocks, N, K), N, K)).toEqual(blocks);
    }
  });

  it("an all-zero group gets scale (-)0 and level 8 everywhere", () => {
    const { graph } = quantizeQ4(linear(new Float32Array(2 * 40), 2, 40));
    const bytes = new Uint8Array((graph.values.get("w.q4")!.data as Int8Array).buffer);
    for (let n = 0; n < 2; n++)
      for (let g = 0; g < 2; g++) {
        const at = n * 36 + g * 18;
        expect((bytes[at] | (bytes[at + 1] << 8)) & 0x7fff).toBe(0); // -0 (0 / -8), as ggml writes it
        expect(Array.from(bytes.subarray(at + 2, at + 18))).toEqual(new Array(16).fill(0x88));
      }
  });

  it("makes a tied embedding int8 (one copy for its Gather and its classifier) and reports ||Ŵ − W|| / ||W|| exactly", () => {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const emb = b.constant("emb", randomF32(10 * 64, 1), [10, 64]);
    const x = b.node("Gather", "embed", [emb, b.input("ids", "i32", ["T"])]);
    const w = randomF32(6 * 64, 2);
    b.output(b.node("Linear", "proj", [x, b.constant("w", w, [6, 64]), b.constant("bias", randomF32(6, 3), [6])]));
    b.output(b.node("Linear", "head", [x, emb]));
    const g = b.finish();
    const { graph: q, report } = quantizeQ4(g);
    expect(q.nodes.map((n) => [n.op, n.inputs])).toEqual([
      ["QGather", ["emb.int8", "emb.scale", "ids"]],
      ["Q4Linear", ["embed", "w.q4", "bias"]],
      ["QLinear", ["embed", "emb.int8", "emb.scale"]],
    ]);
    expect(q.values.has("emb")).toBe(false);
    const back = dequantizeQ4Blocks(q.values.get("w.q4")!.data as Int8Array, 6, 64);
    let err = 0,
      norm = 0;
    for (let i = 0; i < w.length; i++) {
      err += (back[i] - w[i]) ** 2;
      norm += w[i] ** 2;
    }
    // The table as --quantize int8 makes it: the same bytes, scales and report.
    const int8 = quantizeInt8(g);
    const table = int8.report.embeddings!;
    expect(report.embeddings).toEqual(table);
    for (const t of ["emb.int8", "emb.scale"]) expect(q.values.get(t)).toEqual(int8.graph.values.get(t));
    expect(report).toMatchObject({ tensors: 2, bytesBefore: 6 * 64 * 4 + table.bytesBefore, bytesAfter: 6 * 2 * 18 + table.bytesAfter });
    const embNorm = (g.values.get("emb")!.data as Float32Array).reduce((a, v) => a + v * v, 0);
    expect(report.relativeError).toBeCloseTo(Math.sqrt((err + table.relativeError ** 2 * embNorm) / (norm + embNorm)), 12);
    // The 4-bit part alone, as before: Q4Linear's weights.
    err = Math.sqrt(err / norm);
    // Uniform weights: 16 levels over the group's range, an error of about 1/(16·√3) / (1/√3) of the norm.
    expect(err).toBeGreaterThan(0.03);
    expect(err).toBeLessThan(0.12);
  });

  it("Q4Linear computes x · dequantized(w)ᵀ + b, and the model moves by no more than the weights' rounding allows", () => {
    const [N, K] = [7, 45];
    const w = randomF32(N * K, 5, 0.5),
      bias = randomF32(N, 6);
    const g = linear(w, N, K, bias);
    const q = quantizeQ4(g).graph;
    const x = randomF32(3 * K, 9);
    const y = new Interpreter(q).run({ x }).proj.data as Float32Array;
    const wq = dequantizeQ4Blocks(q.values.get("w.q4")!.data as Int8Array, N, K);
    const { scales, levels } = rederive(w, N, K);
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) {
        const d = scales[n][k >> 5];
        expect(Math.abs(wq[n * K + k] - d * (levels[n][k] - 8))).toBeLessThanOrEqual(8 * Math.abs(d) * 2 ** -11 + 1e-12);
      }
    for (let t = 0; t < 3; t++)
      for (let n = 0; n < N; n++) {
        let s = bias[n];
        for (let k = 0; k < K; k++) s += x[t * K + k] * wq[n * K + k];
        expect(y[t * N + n]).toBeCloseTo(s, 5);
      }
    const before = new Interpreter(g).run({ x }).proj.data;
    // Each weight moves by at most half a level, d/2 <= max|w| / 16.
    expect(maxAbsDiff(before, y)).toBeLessThan((K * 0.5) / 16);
  });
});
