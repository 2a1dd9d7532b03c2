// The scalar flavour's vector primitives: the same functions as kernels/simd.ts in MVP
// instructions only, for engines without SIMD (and for C through wasm2c).
import { expf, tanhf } from "./math";

/** Byte offset of element i of an f32/i32 array. */
@inline export function at(i: i32): usize {
  return <usize>i << 2;
}

/** dot(a[0..n], b[0..n]) with two accumulators. */
@inline export function dot(a: usize, b: usize, n: i32): f32 {
  let s0: f32 = 0, s1: f32 = 0;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    s0 += load<f32>(a + at(i)) * load<f32>(b + at(i));
    s1 += load<f32>(a + at(i + 1)) * load<f32>(b + at(i + 1));
  }
  for (; i < n; i++) s0 += load<f32>(a + at(i)) * load<f32>(b + at(i));
  return s0 + s1;
}

/** y[i] += dot(a[0..n], b[i·stride ..]) for the four rows i = 0..3 of b. */
@inline export function accumulateDot4(y: usize, a: usize, b: usize, stride: i32, n: i32): void {
  for (let i = 0; i < 4; i++) store<f32>(y + at(i), load<f32>(y + at(i)) + dot(a, b + at(i * stride), n));
}

/** dot(a[0..n], q[0..n]) of f32 a and int8 q. */
@inline export function dotInt8(a: usize, q: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) s += load<f32>(a + at(i)) * <f32>load<i8>(q + <usize>i);
  return s;
}

/** y += a · x over n elements. */
@inline export function axpy(y: usize, x: usize, a: f32, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), load<f32>(y + at(i)) + a * load<f32>(x + at(i)));
}

/** y *= a over n elements. */
@inline export function scaleBy(y: usize, a: f32, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), load<f32>(y + at(i)) * a);
}

/** y = a + b over n elements. */
@inline export function addVec(a: usize, b: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), load<f32>(a + at(i)) + load<f32>(b + at(i)));
}

/** y = max(x, 0) over n elements. */
@inline export function reluVec(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), max(load<f32>(x + at(i)), <f32>0));
}

/** y = 1 / (1 + e^−x) over n elements. */
@inline export function sigmoidVec(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), <f32>1 / (<f32>1 + expf(-load<f32>(x + at(i)))));
}

/** y = tanh x over n elements. */
@inline export function tanhVec(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), tanhf(load<f32>(x + at(i))));
}

/** sum of x² over n elements. */
@inline export function sumSquares(x: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) s += load<f32>(x + at(i)) * load<f32>(x + at(i));
  return s;
}

/** y = w · (s · x) over n elements. */
@inline export function weightedScale(w: usize, x: usize, s: f32, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), load<f32>(w + at(i)) * (s * load<f32>(x + at(i))));
}

/** y = silu(gate) · up over n elements, silu(g) = g / (1 + e^−g). */
@inline export function swigluVec(gate: usize, up: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const g = load<f32>(gate + at(i));
    store<f32>(y + at(i), (g / (<f32>1.0 + expf(-g))) * load<f32>(up + at(i)));
  }
}
