import { finishRows, NONE } from "./epilogue";
import { at } from "./simd";

/**
 * y[t, n] = act(scale[n] · sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], with w int8 [N, K] (b = 0: no
 * bias; r = 0: no residual; act: epilogue.ts's NONE or RELU). Scalar, in f32: the SIMD kernels'
 * integer path would gain nothing here, so no scratch (0) is needed.
 */
export function qlinear(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  qlinearIn(x, w, scale, b, y, T, K, N, r, act, false);
}

/** qlinear over weights in layout "n4k16" (kernels/linear-q8.ts; the scalar targets' builds keep weights as written). */
export function qlinearN4(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  qlinearIn(x, w, scale, b, y, T, K, N, r, act, true);
}

@inline function qlinearIn(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize, act: i32, interleaved: bool): void {
  for (let n = 0; n < N; n++) {
    const s = load<f32>(scale + at(n));
    for (let t = 0; t < T; t++) {
      const xt = x + at(t * K);
      let sum: f32 = 0;
      for (let k = 0; k < K; k++) {
        const i = interleaved ? (n & ~3) * K + (k & ~15) * 4 + (n & 3) * 16 + (k & 15) : n * K + k;
        sum += load<f32>(xt + at(k)) * <f32>load<i8>(w + <usize>i);
      }
      store<f32>(y + at(t * N + n), sum * s);
    }
  }
  finishRows(y, b, r, act, T, N);
}
