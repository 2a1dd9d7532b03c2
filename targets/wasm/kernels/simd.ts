// The vector primitives every kernel is written with, in SIMD128. The scalar flavour
// (kernels-scalar/simd.ts) provides the same functions in MVP instructions; multiply-adds go
// through fma.ts, which the relaxed-SIMD flavour replaces.
import { madd } from "./fma";

/** Byte offset of element i of an f32/i32 array. */
@inline export function at(i: i32): usize {
  return <usize>i << 2;
}

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** dot(a[0..n], b[0..n]) with two independent accumulators. */
@inline export function dot(a: usize, b: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = madd(v128.load(a + at(i)), v128.load(b + at(i)), acc0);
    acc1 = madd(v128.load(a + at(i + 4)), v128.load(b + at(i + 4)), acc1);
  }
  for (; i + 4 <= n; i += 4) acc0 = madd(v128.load(a + at(i)), v128.load(b + at(i)), acc0);
  let s = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) s += load<f32>(a + at(i)) * load<f32>(b + at(i));
  return s;
}

/** y += a · x over n elements. */
@inline export function axpy(y: usize, x: usize, a: f32, n: i32): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), madd(av, v128.load(x + at(i)), v128.load(y + at(i))));
  for (; i < n; i++) store<f32>(y + at(i), load<f32>(y + at(i)) + a * load<f32>(x + at(i)));
}

/** y *= a over n elements. */
@inline export function scaleBy(y: usize, a: f32, n: i32): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.mul(v128.load(y + at(i)), av));
  for (; i < n; i++) store<f32>(y + at(i), load<f32>(y + at(i)) * a);
}

/** y = a + b over n elements. */
@inline export function addVec(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.add(v128.load(a + at(i)), v128.load(b + at(i))));
  for (; i < n; i++) store<f32>(y + at(i), load<f32>(a + at(i)) + load<f32>(b + at(i)));
}

/** y = max(x, 0) over n elements. */
@inline export function reluVec(x: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.max(v128.load(x + at(i)), zero));
  for (; i < n; i++) store<f32>(y + at(i), max(load<f32>(x + at(i)), <f32>0));
}

/** sum of x² over n elements. */
@inline export function sumSquares(x: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + at(i));
    acc = madd(v, v, acc);
  }
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(x + at(i)) * load<f32>(x + at(i));
  return s;
}

/** y = w · (s · x) over n elements. */
@inline export function weightedScale(w: usize, x: usize, s: f32, y: usize, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.mul(v128.load(w + at(i)), f32x4.mul(sv, v128.load(x + at(i)))));
  for (; i < n; i++) store<f32>(y + at(i), load<f32>(w + at(i)) * (s * load<f32>(x + at(i))));
}
