import { finishRows, NONE } from "./epilogue";
import { halfToF32 } from "./f16";
import { q4BlockStep, q4Nibbles, q4Scales } from "./q4-rows";
import { at } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], with w N rows of Q4_0 blocks
 * (compiler/ir/ops/linear-q4.ts; b = 0: no bias; r = 0: no residual). Scalar, in f32: each
 * group's sum of activations times nibbles, then times the group's scale; a partial last group
 * reads x only up to K. No scratch (0) is needed.
 */
export function q4linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  q4linearIn(x, w, b, y, T, K, N, r, act, false);
}

/** q4linear for weights whose four rows' blocks are interleaved (layout "n4": per group, the four scales, then the four rows' 16 bytes of nibbles). */
export function q4linearN4(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  q4linearIn(x, w, b, y, T, K, N, r, act, true);
}

@inline function q4linearIn(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize, act: i32, n4: bool): void {
  const G = (K + 31) >> 5, R = <usize>(G * 18), BS = q4BlockStep(n4);
  for (let n = 0; n < N; n++) {
    const s0 = q4Scales(w, n, R, n4);
    const q0 = q4Nibbles(w, n, R, n4);
    for (let t = 0; t < T; t++) {
      const xt = x + at(t * K);
      let sum: f32 = 0;
      for (let g = 0; g < G; g++) {
        const q = q0 + <usize>g * BS, k0 = g << 5;
        const lo = min(16, K - k0), hi = min(16, K - k0 - 16);
        let s: f32 = 0;
        for (let j = 0; j < lo; j++) s += load<f32>(xt + at(k0 + j)) * <f32>(<i32>(load<u8>(q + <usize>j) & 15) - 8);
        for (let j = 0; j < hi; j++) s += load<f32>(xt + at(k0 + 16 + j)) * <f32>(<i32>(load<u8>(q + <usize>j) >> 4) - 8);
        sum += s * halfToF32(load<u16>(s0 + <usize>g * BS));
      }
      store<f32>(y + at(t * N + n), sum);
    }
  }
  finishRows(y, b, r, act, T, N);
}
