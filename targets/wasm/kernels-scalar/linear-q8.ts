import { at } from "./simd";

/**
 * y[t, n] = scale[n] · sum_k x[t, k] · w[n, k] + b[n], with w int8 [N, K] (b = 0: no bias). Scalar,
 * in f32: the SIMD kernels' integer path would gain nothing here, so no scratch (0) is needed.
 */
export function qlinear(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize): void {
  for (let n = 0; n < N; n++) {
    const wn = w + <usize>(n * K);
    const s = load<f32>(scale + at(n));
    const bias: f32 = b ? load<f32>(b + at(n)) : 0;
    for (let t = 0; t < T; t++) {
      const xt = x + at(t * K);
      let sum: f32 = 0;
      for (let k = 0; k < K; k++) sum += load<f32>(xt + at(k)) * <f32>load<i8>(wn + <usize>k);
      store<f32>(y + at(t * N + n), sum * s + bias);
    }
  }
}
