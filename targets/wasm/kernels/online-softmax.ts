// The online softmax every attention kernel runs, one query row at a time: out accumulates
// Σ e^(s − max) · value over the keys while the running max and sum of weights live here between
// calls, and out is rescaled whenever the max grows. attendKeys takes keys one by one; the SIMD
// flavour's attendRow (simd.ts) takes a chunk of keys at a time through softmaxRaise and softmaxWeigh.
import { expf } from "./math";
import { at, axpy, dot, scaleBy } from "./simd";

let runningMax: f32 = 0;
let runningSum: f32 = 0;

@inline export function softmaxStart(out: usize, n: i32): void {
  memory.fill(out, 0, at(n));
  runningMax = -Infinity;
  runningSum = 0;
}

/** Raises the running max to at least top (rescaling out and the sum); the max after. */
@inline export function softmaxRaise(out: usize, top: f32, n: i32): f32 {
  if (top > runningMax) {
    const rescale = expf(runningMax - top);
    runningSum *= rescale;
    scaleBy(out, rescale, n);
    runningMax = top;
  }
  return runningMax;
}

/** Counts weights the caller has added to out itself. */
@inline export function softmaxWeigh(weights: f32): void {
  runningSum += weights;
}

/** Adds a value row with score s (−∞ adds nothing). */
@inline export function softmaxAdd(out: usize, value: usize, s: f32, n: i32): void {
  if (s == -Infinity) return;
  const p = expf(s - softmaxRaise(out, s, n));
  runningSum += p;
  axpy(out, value, p, n);
}

@inline export function softmaxEnd(out: usize, n: i32): void {
  scaleBy(out, <f32>1.0 / runningSum, n);
}

/** Keys from..n-1 (rows `stride` floats apart) against query q, one at a time. */
@inline export function attendKeys(q: usize, keys: usize, values: usize, stride: i32, from: i32, n: i32, headDim: i32, scale: f32, out: usize): void {
  for (let j = from; j < n; j++) softmaxAdd(out, values + at(j * stride), dot(q, keys + at(j * stride), headDim) * scale, headDim);
}
