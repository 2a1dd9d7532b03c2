/** Linear: y[t, n] = sum_k x[t, k] · w[n, k] (+ b[n]). Weights are [out, in], as PyTorch and llama2.c store them. */
import type { OpDef } from "./op.js";
import { expectRank, f32, fail } from "./op.js";

export const Linear: OpDef = {
  infer([x, w, b], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    expectRank(node, "weight", w.shape, 2);
    if (x.shape[1] !== w.shape[1]) fail(node, `x has ${x.shape[1]} features but the weight expects ${w.shape[1]}`);
    if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) fail(node, `bias must be [${w.shape[0]}]`);
    return [{ dtype: "f32", shape: [x.shape[0], w.shape[0]] }];
  },
  run([x, w, b]) {
    const [T, K] = x.shape;
    const N = w.shape[0];
    const xs = f32(x), ws = f32(w), bs = b ? f32(b) : undefined;
    const y = new Float32Array(T * N);
    for (let t = 0; t < T; t++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += xs[t * K + k] * ws[n * K + k];
        y[t * N + n] = s + (bs ? bs[n] : 0);
      }
    return [{ shape: [T, N], data: y }];
  },
};

/**
 * MeanLinear: the mean of Linear's T output rows, as [1, N] (zeros when T = 0):
 * y[n] = sum_k mean_t(x[t, k]) · w[n, k] (+ b[n]). The mean commutes with the affine map, so
 * backends average x first and run one row, not T (passes/pool-early.ts makes these).
 */
export const MeanLinear: OpDef = meanOf(Linear);

/**
 * QLinear: Linear with int8 weights and one f32 scale per output row:
 * y[t, n] = scale[n] · sum_k x[t, k] · w[n, k] (+ b[n]).
 */
export const QLinear: OpDef = {
  infer([x, w, scale, b], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    expectRank(node, "weight", w.shape, 2);
    if (w.dtype !== "i8") fail(node, "weight must be i8");
    if (x.shape[1] !== w.shape[1]) fail(node, `x has ${x.shape[1]} features but the weight expects ${w.shape[1]}`);
    for (const [what, t] of [["scale", scale], ["bias", b]] as const)
      if (t && (t.shape.length !== 1 || t.shape[0] !== w.shape[0])) fail(node, `${what} must be [${w.shape[0]}]`);
    return [{ dtype: "f32", shape: [x.shape[0], w.shape[0]] }];
  },
  run([x, w, scale, b]) {
    const [T, K] = x.shape;
    const N = w.shape[0];
    const xs = f32(x), ws = w.data as Int8Array, ss = f32(scale), bs = b ? f32(b) : undefined;
    const y = new Float32Array(T * N);
    for (let t = 0; t < T; t++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += xs[t * K + k] * ws[n * K + k];
        y[t * N + n] = s * ss[n] + (bs ? bs[n] : 0);
      }
    return [{ shape: [T, N], data: y }];
  },
};

/** MeanQLinear: MeanLinear with QLinear's int8 weights and per-row scales. */
export const MeanQLinear: OpDef = meanOf(QLinear);

/** The op that gives the mean of `rows`' output rows, as [1, N] (zeros when there are none). */
function meanOf(rows: OpDef): OpDef {
  return {
    infer(inputs, attrs, node) {
      const [y] = rows.infer(inputs, attrs, node);
      return [{ dtype: "f32", shape: [1, y.shape[1]] }];
    },
    run(inputs, attrs) {
      const [{ shape: [T, N], data }] = rows.run(inputs, attrs);
      const y = new Float32Array(N);
      for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) y[n] += data[t * N + n];
      return [{ shape: [1, N], data: y.map((v) => v / Math.max(T, 1)) }];
    },
  };
}
