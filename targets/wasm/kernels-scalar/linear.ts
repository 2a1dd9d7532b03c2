import { addVec, at, dot } from "./simd";

/**
 * y[t, n] = sum_k x[t, k] · w[n, k] + b[n]   (x: [T, K], w: [N, K] row-major, y: [T, N]; b = 0: no bias).
 * Scalar: each weight row is read once per call and applied to every token while it is in cache.
 */
export function linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  for (let n = 0; n < N; n++) {
    const wn = w + at(n * K);
    for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), dot(x + at(t * K), wn, K));
  }
  if (b) for (let t = 0; t < T; t++) addVec(y + at(t * N), b, y + at(t * N), N);
}
