import { accumulateDot4, addVec, at, dot, dotInt8, scaleBy, weightedScale } from "./simd";

/**
 * Columns of x averaged at a time: their means sit in a static buffer (AssemblyScript's static
 * data, within the 8 KiB layout.ts reserves for it). Each chunk reads a 4 KiB run of every weight
 * row, long enough for the hardware prefetcher to follow: in chunks of 64 columns, USE-Lite's 3 MiB
 * conv2 was read 256 bytes a row at a time, 6 KiB apart, at half the memory's bandwidth.
 */
const CHUNK = 1024;
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
    const width = averageColumns(x, T, K, k0);
    let n = 0;
    // Four rows at a time share each load of the means (for a multiple of 4 columns).
    if ((width & 3) == 0) for (; n + 4 <= N; n += 4) accumulateDot4(y + at(n), MEANS, w + at(n * K + k0), K, width);
    for (; n < N; n++) store<f32>(y + at(n), load<f32>(y + at(n)) + dot(MEANS, w + at(n * K + k0), width));
  }
  if (b) addVec(y, b, y, N);
}

/** meanLinear with int8 weights w [N, K] and one scale per weight row: y[n] = scale[n] · mean_t(x[t]) · w[n] + b[n]. */
export function meanQLinear(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  memory.fill(y, 0, at(N));
  if (T == 0) return;
  for (let k0 = 0; k0 < K; k0 += CHUNK) {
    const width = averageColumns(x, T, K, k0);
    for (let n = 0; n < N; n++) store<f32>(y + at(n), load<f32>(y + at(n)) + dotInt8(MEANS, w + <usize>(n * K + k0), width));
  }
  weightedScale(scale, y, 1, y, N);
  if (b) addVec(y, b, y, N);
}

/** MEANS = the means of x's columns k0.. (at most CHUNK of them) over its T rows; returns how many. */
function averageColumns(x: usize, T: i32, K: i32, k0: i32): i32 {
  const width = min(CHUNK, K - k0);
  memory.fill(MEANS, 0, at(width));
  for (let t = 0; t < T; t++) addVec(MEANS, x + at(t * K + k0), MEANS, width);
  scaleBy(MEANS, <f32>1.0 / <f32>T, width);
  return width;
}
