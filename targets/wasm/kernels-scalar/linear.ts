import { finishRows, NONE } from "./epilogue";
import { at, dot } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n]   (x: [T, K], w: [N, K] row-major, y: [T, N];
 * b = 0: no bias; r = 0: no residual; act: epilogue.ts's NONE or RELU).
 * Scalar: each weight row is read once per call and applied to every token while it is in cache.
 */
export function linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
  for (let n = 0; n < N; n++) {
    const wn = w + at(n * K);
    for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), dot(x + at(t * K), wn, K));
  }
  finishRows(y, b, r, act, T, N);
}
