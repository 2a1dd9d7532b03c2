import { addVec, at, dot, scaleBy } from "./simd";

/** Columns of x averaged at a time: their means sit in a static buffer (AssemblyScript's static data). */
const CHUNK = 64;
const MEANS = memory.data(CHUNK * 4, 16);

/**
 * y[n] = mean_t(x[t]) · w[n] + b[n]: the mean of Linear's T output rows, as one row (zeros when
 * T = 0). x's columns are averaged CHUNK at a time and each chunk is dotted with every weight
 * row, so the work is one row's, not T's, and nothing beyond a small static buffer is needed.
 */
export function meanLinear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  memory.fill(y, 0, at(N));
  if (T == 0) return;
  for (let k0 = 0; k0 < K; k0 += CHUNK) {
    const width = min(CHUNK, K - k0);
    memory.fill(MEANS, 0, at(width));
    for (let t = 0; t < T; t++) addVec(MEANS, x + at(t * K + k0), MEANS, width);
    scaleBy(MEANS, <f32>1.0 / <f32>T, width);
    for (let n = 0; n < N; n++) store<f32>(y + at(n), load<f32>(y + at(n)) + dot(MEANS, w + at(n * K + k0), width));
  }
  if (b) addVec(y, b, y, N);
}
