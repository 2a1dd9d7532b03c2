// The vector primitives every kernel is written with, in SIMD128. The scalar flavour
// (kernels-scalar/simd.ts) provides the same functions in MVP instructions; multiply-adds go
// through fma.ts, which the relaxed-SIMD flavour replaces.
import { madd } from "./fma";
import {
  EXP_MAX,
  EXP_MIN,
  expf,
  LN2_HI,
  LN2_LO,
  LOG2E,
  TANH_P0,
  TANH_P1,
  TANH_P2,
  TANH_P3,
  TANH_P4,
  TANH_SMALL,
  tanhf,
} from "./math";

/** Byte offset of element i of an f32/i32 array. */
@inline export function at(i: i32): usize {
  return <usize>i << 2;
}

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** The largest of the four lanes. */
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** Lane i = the sum of a_i's four lanes: four horizontal sums in six instructions. */
@inline export function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const lo = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
  const hi = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(lo, hi, 0, 1, 4, 5), v128.shuffle<f32>(lo, hi, 2, 3, 6, 7));
}

/** The same for i32 lanes: [sum(a0), sum(a1), sum(a2), sum(a3)], exactly. */
@inline export function hsum4i(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const lo = i32x4.add(v128.shuffle<i32>(a0, a1, 0, 4, 1, 5), v128.shuffle<i32>(a0, a1, 2, 6, 3, 7));
  const hi = i32x4.add(v128.shuffle<i32>(a2, a3, 0, 4, 1, 5), v128.shuffle<i32>(a2, a3, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(lo, hi, 0, 1, 4, 5), v128.shuffle<i32>(lo, hi, 2, 3, 6, 7));
}

/** Two columns of four rows N floats apart: y[t, 0] = c0[t], y[t, 1] = c1[t] (a 4-token × 2-row matmul block's output). */
@inline export function storeColumns(y: usize, c0: v128, c1: v128, N: i32): void {
  store<f32>(y, f32x4.extract_lane(c0, 0)); store<f32>(y + at(1), f32x4.extract_lane(c1, 0));
  store<f32>(y + at(N), f32x4.extract_lane(c0, 1)); store<f32>(y + at(N + 1), f32x4.extract_lane(c1, 1));
  store<f32>(y + at(2 * N), f32x4.extract_lane(c0, 2)); store<f32>(y + at(2 * N + 1), f32x4.extract_lane(c1, 2));
  store<f32>(y + at(3 * N), f32x4.extract_lane(c0, 3)); store<f32>(y + at(3 * N + 1), f32x4.extract_lane(c1, 3));
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

/** Lane i = dot(a[0..n], b_i[0..n]) for n a multiple of 4: four dot products sharing each load of a. */
@inline export function dot4(a: usize, b0: usize, b1: usize, b2: usize, b3: usize, n: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const v = v128.load(a + at(i));
    a0 = madd(v, v128.load(b0 + at(i)), a0);
    a1 = madd(v, v128.load(b1 + at(i)), a1);
    a2 = madd(v, v128.load(b2 + at(i)), a2);
    a3 = madd(v, v128.load(b3 + at(i)), a3);
  }
  return hsum4(a0, a1, a2, a3);
}

/** y[i] += dot(a[0..n], b[i·stride ..]) for the four rows i = 0..3 of b; n a multiple of 4. */
@inline export function accumulateDot4(y: usize, a: usize, b: usize, stride: i32, n: i32): void {
  const b1 = b + at(stride), b2 = b1 + at(stride), b3 = b2 + at(stride);
  v128.store(y, f32x4.add(v128.load(y), dot4(a, b, b1, b2, b3, n)));
}

/** dot(a[0..n], q[0..n]) of f32 a and int8 q: sixteen weights per load, widened to four f32x4. */
@inline export function dotInt8(a: usize, q: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const v = v128.load(q + <usize>i);
    const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
    acc0 = madd(v128.load(a + at(i)), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), acc0);
    acc1 = madd(v128.load(a + at(i + 4)), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), acc1);
    acc0 = madd(v128.load(a + at(i + 8)), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), acc0);
    acc1 = madd(v128.load(a + at(i + 12)), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), acc1);
  }
  let s = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) s += load<f32>(a + at(i)) * <f32>load<i8>(q + <usize>i);
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

/** e^x in each lane: math.ts's expf, four at a time. */
@inline export function exp4(x: v128): v128 {
  const under = f32x4.lt(x, f32x4.splat(EXP_MIN)),
    over = f32x4.gt(x, f32x4.splat(EXP_MAX));
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const e = f32x4.add(madd(f32x4.mul(r, r), p, r), f32x4.splat(1));
  // 2^n as 2^⌊n/2⌋ · 2^⌈n/2⌉, each a float's exponent bits.
  const ni = i32x4.trunc_sat_f32x4_s(n),
    half = i32x4.shr_s(ni, 1),
    bias = i32x4.splat(127);
  const low = i32x4.shl(i32x4.add(half, bias), 23),
    high = i32x4.shl(i32x4.add(i32x4.sub(ni, half), bias), 23);
  const y = f32x4.mul(f32x4.mul(e, low), high);
  return v128.bitselect(f32x4.splat(Infinity), v128.andnot(y, under), over);
}

/** tanh in each lane: math.ts's tanhf, four at a time (both branches computed, one kept a lane). */
@inline export function tanh4(x: v128): v128 {
  const a = f32x4.abs(x),
    z = f32x4.mul(x, x);
  let p = madd(f32x4.splat(TANH_P0), z, f32x4.splat(TANH_P1));
  p = madd(p, z, f32x4.splat(TANH_P2));
  p = madd(p, z, f32x4.splat(TANH_P3));
  p = madd(p, z, f32x4.splat(TANH_P4));
  const small = madd(f32x4.mul(x, z), p, x);
  const large = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(exp4(f32x4.add(a, a)), f32x4.splat(1))));
  // The branch for each lane, then x's sign bit on it (−0 stays −0).
  return v128.bitselect(x, v128.bitselect(large, small, f32x4.ge(a, f32x4.splat(TANH_SMALL))), i32x4.splat(0x80000000));
}

/** y = 1 / (1 + e^−x) over n elements. */
@inline export function sigmoidVec(x: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(v128.load(x + at(i)))))));
  for (; i < n; i++) store<f32>(y + at(i), <f32>1 / (<f32>1 + expf(-load<f32>(x + at(i)))));
}

/** y = tanh x over n elements. */
@inline export function tanhVec(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), tanh4(v128.load(x + at(i))));
  for (; i < n; i++) store<f32>(y + at(i), tanhf(load<f32>(x + at(i))));
}

/** y = silu(gate) · up over n elements, silu(g) = g / (1 + e^−g). */
@inline export function swigluVec(gate: usize, up: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const g = v128.load(gate + at(i));
    v128.store(y + at(i), f32x4.mul(f32x4.div(g, f32x4.add(one, exp4(f32x4.neg(g)))), v128.load(up + at(i))));
  }
  for (; i < n; i++) {
    const g = load<f32>(gate + at(i));
    store<f32>(y + at(i), (g / (<f32>1.0 + expf(-g))) * load<f32>(up + at(i)));
  }
}

/** Four halves, each in the low 16 bits of an i32 lane, as f32: f16.ts's halfToF32 in four lanes at once. */
@inline export function halves(h: v128): v128 {
  const bits = v128.or(i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16), i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13));
  return f32x4.mul(bits, f32x4.splat(reinterpret<f32>(0x77800000)));
}
