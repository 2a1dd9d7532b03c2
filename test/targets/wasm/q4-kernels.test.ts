// The Q4Linear kernels (kernels/linear-q4.ts, kernels-scalar/linear-q4.ts) against the reference
// interpreter: K not a multiple of 32 (a partial last group, and K under one group), N not a
// multiple of the 4-row block, T from 1 to 7 (the one-token-by-four-rows and four-tokens-by-one-row
// blocks and their remainders), the epilogue (bias, ReLU, residual), and extreme weights.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../compiler/ir/builder.js";
import type { Attrs } from "../../../compiler/ir/graph.js";
import { Interpreter } from "../../../compiler/ir/interpreter.js";
import { dequantizeQ4Blocks, q4RowBytes, quantizeQ4Blocks, storeQ4Blocks, type Q4Layout } from "../../../compiler/ir/ops/linear-q4.js";
import { compileArtifact } from "../../../compiler/build.js";
import { SeecError } from "../../../runtime/errors.js";
import { compileAndLoad } from "../../helpers/compile.js";
import { maxAbsDiff, randomF32, rng } from "../../helpers/random.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

// Past 7 the kernels' block of four tokens runs from token 4 as well.
const TOKENS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/**
 * One Q4Linear over x [T, K] (T symbolic, at most 11), weights from `w` [N, K] quantized to Q4_0
 * blocks, stored in `layout` where given (the targets' layout pass then leaves them so; otherwise
 * it interleaves those whose N is a multiple of 4).
 */
function q4Graph(
  w: Float32Array,
  N: number,
  K: number,
  extra: { bias?: Float32Array; residual?: boolean; relu?: boolean; layout?: Q4Layout } = {},
) {
  const b = new GraphBuilder("q4", { family: "decoder", config: {} });
  b.dim("T", 11);
  const x = b.input("x", "f32", ["T", K]);
  const blocks = quantizeQ4Blocks(w, N, K);
  const inputs = [x, b.constant("w", new Int8Array(storeQ4Blocks(blocks, N, K, extra.layout ?? "nk").buffer), [N, q4RowBytes(K)])];
  if (extra.bias) inputs.push(b.constant("b", extra.bias, [N]));
  if (extra.residual) inputs.push(b.input("r", "f32", ["T", N]));
  const attrs: Attrs = {
    ...(extra.relu ? { activation: "relu" } : {}),
    ...(extra.residual ? { residual: 1 } : {}),
    ...(extra.layout ? { layout: extra.layout } : {}),
  };
  b.output(b.node("Q4Linear", "out", inputs, attrs));
  return { graph: b.finish(), wq: dequantizeQ4Blocks(blocks, N, K) };
}

describe.each(["wasm-simd", "wasm-relaxed", "wasm"] as const)("%s Q4Linear matches the reference interpreter", (target) => {
  /**
   * Allowed error: f32 sums (the kernels add in another order than the interpreter's doubles),
   * and the activations' rounding, half a level times the dequantized weight row's sum of |w|: on
   * wasm-simd 32767 levels of each row's largest |x|, on wasm-relaxed 127 of each group's (at most
   * the row's; kernels-relaxed/linear-q4.ts).
   */
  const slack = (x: Float32Array, T: number, K: number, wq: Float32Array, N: number) => {
    let most = 0,
      xmax = 0;
    for (let n = 0; n < N; n++)
      most = Math.max(
        most,
        wq.subarray(n * K, (n + 1) * K).reduce((a, v) => a + Math.abs(v), 0),
      );
    for (let i = 0; i < T * K; i++) xmax = Math.max(xmax, Math.abs(x[i]));
    const levels = { wasm: Infinity, "wasm-simd": 32767, "wasm-relaxed": 127 }[target];
    return (0.5 * xmax * most) / levels + 1e-6 * xmax * most;
  };

  it.each([
    [32, 4],
    [64, 9],
    [45, 7],
    [7, 3],
    [161, 1],
    [100, 5],
  ])("K=%i, N=%i with a bias for T = 1 to 11", async (K, N) => {
    const w = randomF32(N * K, K * 31 + N, 0.5);
    const { graph, wq } = q4Graph(w, N, K, { bias: randomF32(N, 2) });
    const model = await compileAndLoad(graph, target);
    expect(model.backend).toBe(target);
    const ref = new Interpreter(graph);
    for (const T of TOKENS) {
      const x = randomF32(T * K, T + K, 2);
      const want = ref.run({ x }).out.data as Float32Array;
      const got = (await model.run({ x })).out as Float32Array;
      expect(got.length).toBe(T * N);
      expect(maxAbsDiff(got, want), `T=${T}`).toBeLessThanOrEqual(
        2e-6 * Math.max(1, ...Array.from(want, Math.abs)) + slack(x, T, K, wq, N),
      );
    }
  });

  it.each([
    ["nk", 45, 8],
    ["nk", 7, 4],
    ["n4", 45, 8],
    ["n4", 100, 12],
    ["n4", 161, 4],
    ["n4", 32, 16],
  ] as const)("weights stored %s, K=%i, N=%i, with a bias, for T = 1 to 11", async (layout, K, N) => {
    const w = randomF32(N * K, K * 17 + N, 0.5),
      bias = randomF32(N, 5);
    const { graph, wq } = q4Graph(w, N, K, { bias, layout });
    const model = await compileAndLoad(graph, target);
    // The reference reads the layout too: its products are those of the blocks as written.
    const [ref, written] = [graph, q4Graph(w, N, K, { bias, layout: "nk" }).graph].map((g) => new Interpreter(g));
    for (const T of TOKENS) {
      const x = randomF32(T * K, T * 3 + K, 2);
      const want = ref.run({ x }).out.data as Float32Array;
      expect(maxAbsDiff(want, written.run({ x }).out.data)).toBe(0);
      const got = (await model.run({ x })).out as Float32Array;
      expect(maxAbsDiff(got, want), `T=${T}`).toBeLessThanOrEqual(
        2e-6 * Math.max(1, ...Array.from(want, Math.abs)) + slack(x, T, K, wq, N),
      );
    }
  });

  it("the epilogue: ReLU and a residual, K=70, N=6, T = 1 to 11", async () => {
    const [K, N] = [70, 6];
    const { graph, wq } = q4Graph(randomF32(N * K, 77, 0.5), N, K, { bias: randomF32(N, 3), residual: true, relu: true });
    const model = await compileAndLoad(graph, target);
    const ref = new Interpreter(graph);
    for (const T of TOKENS) {
      const feeds = { x: randomF32(T * K, T, 2), r: randomF32(T * N, T + 50) };
      const want = ref.run(feeds).out.data as Float32Array;
      expect(Array.from(want).some((v, i) => v === feeds.r[i])).toBe(true); // ReLU cut something
      const got = (await model.run(feeds)).out as Float32Array;
      expect(maxAbsDiff(got, want), `T=${T}`).toBeLessThanOrEqual(
        2e-6 * Math.max(1, ...Array.from(want, Math.abs)) + slack(feeds.x, T, K, wq, N),
      );
    }
  });

  it("extreme weights (every value at -8 or 7 levels) and inputs at each row's largest, K=4099: no integer overflow", async () => {
    const [K, N] = [4099, 3];
    const w = Float32Array.from({ length: N * K }, (_, i) => (i % 3 ? 0.875 : -1) * (i < K ? 1 : 0.01));
    const { graph, wq } = q4Graph(w, N, K);
    const model = await compileAndLoad(graph, target);
    const ref = new Interpreter(graph);
    for (const T of [1, 5]) {
      const x = Float32Array.from({ length: T * K }, (_, i) => (i % 3 ? 3 : -3));
      const want = ref.run({ x }).out.data as Float32Array;
      const got = (await model.run({ x })).out as Float32Array;
      expect(maxAbsDiff(got, want), `T=${T}`).toBeLessThanOrEqual(
        2e-6 * Math.max(1, ...Array.from(want, Math.abs)) + slack(x, T, K, wq, N),
      );
    }
  });
});

/**
 * kernels-relaxed/linear-q4.ts rounds each group of 32 of each row of x to 127 levels of the group's
 * largest |x| (scale xs = top / 127), then y = Σ_g xs_g · d_g · Σ_j xq_j · (nibble_j − 8), in which
 * d_g · (nibble − 8) is the dequantized weight exactly. Re-derived here to f32 rounding: inputs sit
 * 0.3 or 0.7 of a level from a whole one, and row 0's first scale has a low byte near 0xff, so that
 * losing that byte (a group written one byte too long, over the scales after the int8 rows) shows.
 */
describe("wasm-relaxed Q4Linear's int8 arithmetic, re-derived exactly", () => {
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  /** A largest |x| near `near` whose scale fround(top / 127) ends in a byte of at least 0xf0. */
  const topNear = (near: number) => {
    for (let i = 0; ; i++) {
      const top = Math.fround(near + i * 1e-7);
      if ((bits(Math.fround(top / 127)) & 0xff) >= 0xf0) return top;
    }
  };

  it.each([5, 8])("K=45 (a full group and one of 13), N=%i (8: the rows interleaved), for T = 1, 5 and 9", async (N) => {
    const K = 45;
    const { graph, wq } = q4Graph(randomF32(N * K, 451, 0.5), N, K, N % 4 ? {} : { layout: "n4" });
    const model = await compileAndLoad(graph, "wasm-relaxed");
    expect(model.backend).toBe("wasm-relaxed");
    const r = rng(452);
    for (const T of [1, 5, 9]) {
      const x = new Float32Array(T * K);
      const xq: number[] = [];
      const xs: number[] = [];
      for (let t = 0; t < T; t++)
        for (let g = 0; g * 32 < K; g++) {
          const top = t === 0 && g === 0 ? topNear(1) : Math.fround(0.3 + r());
          const inv = Math.fround(127 / top);
          xs.push(Math.fround(top / 127));
          for (let k = g * 32; k < Math.min(K, g * 32 + 32); k++) {
            const level = Math.floor(r() * 60) + (r() < 0.5 ? 0.3 : 0.7);
            x[t * K + k] = (r() < 0.5 ? -1 : 1) * Math.fround((level * top) / 127);
          }
          x[t * K + g * 32] = top;
          for (let k = g * 32; k < Math.min(K, g * 32 + 32); k++) xq.push(Math.round(Math.fround(x[t * K + k] * inv)));
        }
      const got = (await model.run({ x })).out as Float32Array;
      for (let t = 0; t < T; t++)
        for (let n = 0; n < N; n++) {
          let want = 0,
            size = 0;
          for (let k = 0; k < K; k++) {
            const term = xs[t * 2 + (k >> 5)] * xq[t * K + k] * wq[n * K + k];
            want += term;
            size += Math.abs(term);
          }
          expect(Math.abs(got[t * N + n] - want), `T=${T} t=${t} n=${n}`).toBeLessThan(1e-6 * size);
        }
    }
  });
});

describe("--quantize q4 where a target has no kernel", () => {
  it("webgpu refuses a Q4Linear graph by name (the build refuses --quantize q4 before reading anything: test/e2e/q4.test.ts)", async () => {
    const { graph } = q4Graph(randomF32(4 * 32, 1), 4, 32);
    const err = await compileArtifact({ graph, format: "graph" }, { target: "webgpu" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SeecError);
    expect((err as SeecError).code).toBe("unsupported.quantize");
    expect((err as SeecError).message).toMatch(/webgpu/);
  });
});
