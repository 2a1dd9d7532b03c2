import { finishRows, NONE } from "./epilogue";
import { at } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n] with w in groups of four rows interleaved
 * by four columns (kernels/linear-n4.ts): element (n, k) at (n & ~3) · K + (k & ~3) · 4 + (n & 3) · 4
 * + (k & 3). Scalar: the builds of scalar targets keep weights [N, K] (passes/weight-layout.ts), so
 * this is the layout's reference more than a hot path.
 */
export function linearN4(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      const row = w + at((n & ~3) * K + ((n & 3) << 2));
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += load<f32>(x + at(t * K + k)) * load<f32>(row + at(((k & ~3) << 2) + (k & 3)));
      store<f32>(y + at(t * N + n), s);
    }
  finishRows(y, b, r, act, T, N);
}
