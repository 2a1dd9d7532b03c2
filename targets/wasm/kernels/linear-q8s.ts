import { NONE } from "./epilogue";
import { qlinear, qlinearN4 } from "./linear-q8";

/**
 * QLinear with its weight rows' sums (passes/row-sums.ts, for wasm-relaxed builds), which the
 * relaxed-SIMD kernel (kernels-relaxed/linear-q8s.ts) needs for the offset of its 7-bit
 * activations. This module's 16-bit activations carry no offset: the sums are not read, and the
 * SIMD128 fallback of a wasm-relaxed build computes as a wasm-simd build does.
 */
export function qlinearSums(x: usize, w: usize, scale: usize, sums: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  qlinear(x, w, scale, b, y, T, K, N, scratch, r, act);
}

/** qlinearSums over weights in layout "n4k16". */
export function qlinearSumsN4(x: usize, w: usize, scale: usize, sums: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  qlinearN4(x, w, scale, b, y, T, K, N, scratch, r, act);
}
