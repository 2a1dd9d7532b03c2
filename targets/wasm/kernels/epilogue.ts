// What follows a matmul in its own call (the Linear family's epilogue), for every flavour: it
// is written with simd.ts's primitives, which the scalar flavour provides in MVP instructions.
import { addVec, at, reluVec } from "./simd";

/** The epilogue's activation: none, or max(0, ·) (Linear's `activation: "relu"`). */
export const NONE: i32 = 0;
export const RELU: i32 = 1;

/**
 * y[t] = act(y[t] + b) + r[t] for T rows of N, row by row while the matmul's output is still in
 * cache (b = 0: no bias; r = 0: no residual).
 */
export function finishRows(y: usize, b: usize, r: usize, act: i32, T: i32, N: i32): void {
  if (!b && !r && act == NONE) return;
  for (let t = 0; t < T; t++) {
    const row = y + at(t * N);
    if (b) addVec(row, b, row, N);
    if (act == RELU) reluVec(row, row, N);
    if (r) addVec(row, r + at(t * N), row, N);
  }
}
