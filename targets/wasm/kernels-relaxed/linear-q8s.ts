import { finishRows, NONE } from "./epilogue";
import { qlinear, qlinearN4 } from "./linear-q8";
import { at, hmax, storeColumns } from "./simd";

/** The widest rows whose sums stay exact in i32 (K · 127 · 127 < 2^31); wider ones take the SIMD128 kernel. */
const MAX_K = 131072;

/**
 * kernels/linear-q8s.ts for relaxed SIMD: y[t, n] = act(scale[n] · sum_k x[t, k] · w[n, k] + b[n]) + r[t, n],
 * with w int8 [N, K] and sums[n] = sum_k w[n, k] (passes/row-sums.ts).
 *
 * i16x8.relaxed_dot_i8x16_i7x16_s multiplies sixteen int8 lanes by sixteen 7-bit ones and adds
 * them in pairs: one instruction (pmaddubsw, or sdot's half) where the SIMD128 kernel widens the
 * weights twice and multiplies twice. Its second operand must lie in 0..127 for every engine to
 * agree, so each row of x is rounded to 7 bits, q = round(x · 63 / max|x|) in -63..63, and stored
 * as u = q + 64; sum_k w · u = sum_k w · q + 64 · sums[n], and the kernel starts each sum at
 * -64 · sums[n]. No i16 pair can saturate (2 · 127 · 127 < 32767). Zeros (u = 0) pad each row to a
 * multiple of 16, so that the bytes read past a weight row count for nothing.
 *
 * The activations keep 7 bits (the SIMD128 kernel 15): what that costs a model is printed by
 * `seec build --quantize int8 -t wasm-relaxed --nll/--stsb` (see the README's int8 section).
 * Blocking as in kernels/linear-q8.ts: four tokens by two weight rows, then the last one to three
 * tokens two by four and one by four. Each output's integer sum is exact (in i32, the offset
 * included) and scaled once. scratch holds the T rows of u, then T f32 scales.
 */
export function qlinearSums(x: usize, w: usize, scale: usize, sums: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  if (K > MAX_K) qlinear(x, w, scale, b, y, T, K, N, scratch, r, act);
  else qlinearIn(x, w, scale, sums, b, y, T, K, N, scratch, r, act, K, 1);
}

/** qlinearSums over weights in layout "n4k16" (kernels/linear-q8.ts's qlinearN4). */
export function qlinearSumsN4(x: usize, w: usize, scale: usize, sums: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  if (K > MAX_K) qlinearN4(x, w, scale, b, y, T, K, N, scratch, r, act);
  else qlinearIn(x, w, scale, sums, b, y, T, K, N, scratch, r, act, 16, 4);
}

/** The kernel for either layout (RS, KS as in kernels/linear-q8.ts's qlinearIn). */
@inline function qlinearIn(x: usize, w: usize, scale: usize, sums: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize, act: i32, RS: i32, KS: i32): void {
  const xu = scratch, xs = (scratch + row(T, K) + 15) & ~15;
  quantizeRows(x, xu, xs, T, K);
  const T4 = T & ~3;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const wn = w + <usize>(n * K), sn = scale + at(n), on = sums + at(n);
    let t = 0;
    for (; t < T4; t += 4) {
      block4x2(xu + row(t, K), xs + at(t), wn, sn, on, y + at(t * N + n), K, N, RS, KS);
      block4x2(xu + row(t, K), xs + at(t), wn + <usize>(2 * RS), sn + at(2), on + at(2), y + at(t * N + n + 2), K, N, RS, KS);
    }
    if (t + 2 <= T) {
      block2x4(xu + row(t, K), xs + at(t), wn, sn, on, y + at(t * N + n), K, N, RS, KS);
      t += 2;
    }
    if (t < T) block1x4(xu + row(t, K), load<f32>(xs + at(t)), wn, sn, on, y + at(t * N + n), K, RS, KS);
  }
  // The last N % 4 rows (only as written: "n4k16" needs N a multiple of 4).
  for (; n < N; n++)
    for (let t = 0; t < T; t++) {
      const wn = w + <usize>(n * K);
      let a = start(sums + at(n));
      for (let k = 0; k < K; k += 16) a = dot16(v128.load(xu + row(t, K) + <usize>k), v128.load(wn + <usize>k), a);
      const total = i32x4.extract_lane(a, 0) + i32x4.extract_lane(a, 1) + i32x4.extract_lane(a, 2) + i32x4.extract_lane(a, 3);
      store<f32>(y + at(t * N + n), load<f32>(xs + at(t)) * load<f32>(scale + at(n)) * <f32>total);
    }
  finishRows(y, b, r, act, T, N);
}

/** Byte offset of row t of the 7-bit activations (rows of K padded to a multiple of 16). */
@inline function row(t: i32, K: i32): usize {
  return <usize>(t * ((K + 15) & ~15));
}

/**
 * Each row of x (T rows of K) as u = round(x / xs[t]) + 64 in xu, xs[t] = max|x[t]| / 63; zeros pad
 * the rows. A row of zeros is all 64s with scale 0. A NaN or an infinity in a row makes its scale
 * NaN or infinite and its outputs NaN, as in the SIMD128 kernel.
 */
function quantizeRows(x: usize, xu: usize, xs: usize, T: i32, K: i32): void {
  const K16 = K & ~15, offset = i16x8.splat(64);
  for (let t = 0; t < T; t++) {
    const src = x + at(t * K), u = xu + row(t, K);
    let m = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) m = f32x4.max(m, f32x4.abs(v128.load(src + at(k))));
    let top = hmax(m);
    for (; k < K; k++) top = max(top, abs(load<f32>(src + at(k))));
    const inv: f32 = top > 0 ? 63 / top : 0;
    store<f32>(xs + at(t), top / 63);
    const iv = f32x4.splat(inv);
    for (k = 0; k < K16; k += 16) {
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src + at(k)), iv)));
      const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src + at(k + 4)), iv)));
      const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src + at(k + 8)), iv)));
      const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src + at(k + 12)), iv)));
      const lo = i16x8.add(i16x8.narrow_i32x4_s(a, b), offset), hi = i16x8.add(i16x8.narrow_i32x4_s(c, d), offset);
      v128.store(u + <usize>k, i8x16.narrow_i16x8_u(lo, hi));
    }
    for (; k < K; k++) {
      const v = nearest(load<f32>(src + at(k)) * inv);
      store<u8>(u + <usize>k, v == v ? <u8>(<i32>v + 64) : 64);
    }
    for (; k & 15; k++) store<u8>(u + <usize>k, 0);
  }
}

/** An accumulator that starts at -64 · the row's sum (lane 0), which takes the activations' offset back out. */
@inline function start(sum: usize): v128 {
  return i32x4.replace_lane(i32x4.splat(0), 0, -(load<i32>(sum) << 6));
}

/** Sixteen 7-bit activations u times sixteen int8 weights q, added in fours into a. */
@inline function dot16(u: v128, q: v128, a: v128): v128 {
  return i32x4.add(a, i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(q, u)));
}

/** Lane i = the sum of a_i's lanes, exact in i32 (K ≤ MAX_K), as f32. */
@inline function totals4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const lo = i32x4.add(v128.shuffle<i32>(a0, a1, 0, 4, 1, 5), v128.shuffle<i32>(a0, a1, 2, 6, 3, 7));
  const hi = i32x4.add(v128.shuffle<i32>(a2, a3, 0, 4, 1, 5), v128.shuffle<i32>(a2, a3, 2, 6, 3, 7));
  return f32x4.convert_i32x4_s(i32x4.add(v128.shuffle<i32>(lo, hi, 0, 1, 4, 5), v128.shuffle<i32>(lo, hi, 2, 3, 6, 7)));
}

/** y[0..4, 0..2] for four rows of activations and two weight rows (y rows of N). */
@inline function block4x2(x: usize, xs: usize, w: usize, scale: usize, sums: usize, y: usize, K: i32, N: i32, RS: i32, KS: i32): void {
  const R = row(1, K);
  const x0 = x, x1 = x0 + R, x2 = x1 + R, x3 = x2 + R;
  const w0 = w, w1 = w0 + <usize>RS;
  let a00 = start(sums), a01 = start(sums + 4), a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
  for (let k = 0; k < K; k += 16) {
    const o = <usize>k, q0 = v128.load(w0 + <usize>(k * KS)), q1 = v128.load(w1 + <usize>(k * KS));
    let u = v128.load(x0 + o);
    a00 = dot16(u, q0, a00);
    a01 = dot16(u, q1, a01);
    u = v128.load(x1 + o);
    a10 = dot16(u, q0, a10);
    a11 = dot16(u, q1, a11);
    u = v128.load(x2 + o);
    a20 = dot16(u, q0, a20);
    a21 = dot16(u, q1, a21);
    u = v128.load(x3 + o);
    a30 = dot16(u, q0, a30);
    a31 = dot16(u, q1, a31);
  }
  // Each weight row's four sums as one vector (lane = token), scaled by the tokens' and the row's scales.
  const ts = v128.load(xs);
  const c0 = f32x4.mul(f32x4.mul(totals4(a00, a10, a20, a30), ts), f32x4.splat(load<f32>(scale)));
  const c1 = f32x4.mul(f32x4.mul(totals4(a01, a11, a21, a31), ts), f32x4.splat(load<f32>(scale + 4)));
  storeColumns(y, c0, c1, N);
}

/** y[0..2, 0..4] for two rows of activations and four weight rows. */
@inline function block2x4(x: usize, xs: usize, w: usize, scale: usize, sums: usize, y: usize, K: i32, N: i32, RS: i32, KS: i32): void {
  const x0 = x, x1 = x0 + row(1, K);
  const w0 = w, w1 = w0 + <usize>RS, w2 = w1 + <usize>RS, w3 = w2 + <usize>RS;
  let a00 = start(sums), a01 = start(sums + 4), a02 = start(sums + 8), a03 = start(sums + 12);
  let a10 = a00, a11 = a01, a12 = a02, a13 = a03;
  for (let k = 0; k < K; k += 16) {
    const o = <usize>k, wk = <usize>(k * KS), u0 = v128.load(x0 + o), u1 = v128.load(x1 + o);
    let q = v128.load(w0 + wk);
    a00 = dot16(u0, q, a00);
    a10 = dot16(u1, q, a10);
    q = v128.load(w1 + wk);
    a01 = dot16(u0, q, a01);
    a11 = dot16(u1, q, a11);
    q = v128.load(w2 + wk);
    a02 = dot16(u0, q, a02);
    a12 = dot16(u1, q, a12);
    q = v128.load(w3 + wk);
    a03 = dot16(u0, q, a03);
    a13 = dot16(u1, q, a13);
  }
  // Each token's four sums as one vector (lane = weight row), scaled by the rows' and the token's scales.
  const rs = v128.load(scale);
  v128.store(y, f32x4.mul(f32x4.mul(totals4(a00, a01, a02, a03), rs), f32x4.splat(load<f32>(xs))));
  v128.store(y + at(N), f32x4.mul(f32x4.mul(totals4(a10, a11, a12, a13), rs), f32x4.splat(load<f32>(xs + 4))));
}

/** y[0..4] for one row of activations (scale s) and four weight rows, which share each load of x. */
@inline function block1x4(x: usize, s: f32, w: usize, scale: usize, sums: usize, y: usize, K: i32, RS: i32, KS: i32): void {
  const w0 = w, w1 = w0 + <usize>RS, w2 = w1 + <usize>RS, w3 = w2 + <usize>RS;
  let a0 = start(sums), a1 = start(sums + 4), a2 = start(sums + 8), a3 = start(sums + 12);
  for (let k = 0; k < K; k += 16) {
    const wk = <usize>(k * KS), u = v128.load(x + <usize>k);
    a0 = dot16(u, v128.load(w0 + wk), a0);
    a1 = dot16(u, v128.load(w1 + wk), a1);
    a2 = dot16(u, v128.load(w2 + wk), a2);
    a3 = dot16(u, v128.load(w3 + wk), a3);
  }
  v128.store(y, f32x4.mul(f32x4.mul(totals4(a0, a1, a2, a3), v128.load(scale)), f32x4.splat(s)));
}
