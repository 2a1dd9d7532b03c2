import { finishRows, NONE } from "./epilogue";
import { at, hmax, hsum, hsum4, storeColumns } from "./simd";

/**
 * y[t, n] = act(scale[n] · sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], with w int8 [N, K] (b = 0: no
 * bias; r = 0: no residual; act: epilogue.ts's NONE or RELU).
 *
 * Integer arithmetic: each row of x is first scaled to 16-bit integers in `scratch` (one f32
 * scale per row, as many levels as keep every i32 lane of the sums from overflowing: 32767 up to
 * K = 2064), then i32x4.dot_i16x8_s multiplies eight int16 activations by eight widened int8
 * weights and adds them in pairs, one instruction where f32 needs eight multiply-adds' worth of
 * lanes in two. The activations keep 15 bits, so the error is the weights' own.
 *
 * As in linear(), each group of four weight rows is read once per call and applied to every token,
 * four tokens at a time (8 i32x4 accumulators), then the last one to three tokens two by four and one
 * by four. The int16 rows are padded with zeros to a multiple of 16, so every k runs the vector
 * loop: the last chunk reads up to 15 bytes past a weight row (the next row, or what follows the
 * weights in memory) and multiplies them by those zeros. scratch holds the T rows, then T f32
 * scales: T · (2 · padded(K) + 4) + 16 bytes at most.
 */
export function qlinear(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  qlinearIn(x, w, scale, b, y, T, K, N, scratch, r, act, K, 1);
}

/**
 * qlinear over weights in layout "n4k16" (passes/weight-layout.ts): each group of four rows
 * interleaved by 16 columns, so that a group is one sequential stream of 16-byte vectors rather than
 * four rows read side by side. Measured (one thread, a 32000 × 2048 matrix-vector product, 65 MB
 * from memory): 2.1–2.3x faster than the rows as written; in cache, as fast.
 */
export function qlinearN4(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  qlinearIn(x, w, scale, b, y, T, K, N, scratch, r, act, 16, 4);
}

/**
 * The kernel for either layout: row j of a group of four starts j · RS bytes after the group, and
 * columns k..k+15 of a row KS · k bytes after the row's start (RS = K, KS = 1 as written; 16 and 4
 * interleaved). Both are constants where it is inlined.
 */
@inline function qlinearIn(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize, act: i32, RS: i32, KS: i32): void {
  const xq = scratch, xs = (scratch + row(T, K) + 15) & ~15;
  quantizeRows(x, xq, xs, T, K, levels(K));
  const T4 = T & ~3;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const wn = w + <usize>(n * K), sn = scale + at(n);
    let t = 0;
    for (; t < T4; t += 4) {
      qblock4x2(xq + row(t, K), xs + at(t), wn, sn, y + at(t * N + n), K, N, RS, KS);
      qblock4x2(xq + row(t, K), xs + at(t), wn + <usize>(2 * RS), sn + at(2), y + at(t * N + n + 2), K, N, RS, KS);
    }
    if (t + 2 <= T) {
      qblock2x4(xq + row(t, K), xs + at(t), wn, sn, y + at(t * N + n), K, N, RS, KS);
      t += 2;
    }
    if (t < T) qblock1x4(xq + row(t, K), load<f32>(xs + at(t)), wn, sn, y + at(t * N + n), K, RS, KS);
  }
  // The last N % 4 rows (only as written: "n4k16" needs N a multiple of 4).
  for (; n < N; n++)
    for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), load<f32>(xs + at(t)) * load<f32>(scale + at(n)) * qdot(xq + row(t, K), w + <usize>(n * K), K));
  finishRows(y, b, r, act, T, N);
}

/** Byte offset of row t of the int16 activations (rows of K padded to a multiple of 16). */
@inline function row(t: i32, K: i32): usize {
  return <usize>(t * ((K + 15) & ~15)) << 1;
}

/**
 * The largest |activation| level for rows of K: a lane of the sums adds four products from each
 * 16 columns (4 · ceil(K / 16) in all) of at most level · 127 (the widest int8 weight), which must
 * stay below 2^31.
 */
@inline function levels(K: i32): f32 {
  return <f32>min<i32>(32767, 2147483647 / (127 * (((K + 15) >> 4) << 2)));
}

/**
 * The K floats at r as int16 at q, x ≈ scale · q with scale = max|x| / Q, which it returns (this
 * kernel's activations, and linear-q4.ts's): rounded to nearest; a row of zeros stays zeros; NaN
 * becomes 0 here and reaches y through the scale, as infinity does. Padding past K is the caller's.
 */
@inline export function int16Row(r: usize, q: usize, K: i32, Q: f32): f32 {
  let m = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) m = f32x4.max(m, f32x4.abs(v128.load(r + at(k))));
  let top = hmax(m);
  for (; k < K; k++) top = max(top, abs(load<f32>(r + at(k))));
  const inv: f32 = top > 0 ? Q / top : 0;
  const iv = f32x4.splat(inv), K8 = K & ~7;
  for (k = 0; k < K8; k += 8) {
    const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k)), iv)));
    const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k + 4)), iv)));
    v128.store(q + <usize>(k << 1), i16x8.narrow_i32x4_s(lo, hi));
  }
  for (; k < K; k++) {
    const v = nearest(load<f32>(r + at(k)) * inv);
    store<i16>(q + <usize>(k << 1), v == v ? <i16>v : 0);
  }
  return top / Q;
}

/** Each row of x (T rows of K) as int16 in xq, x ≈ xs[t] · xq[t]: xs[t] = max|x[t]| / Q; zeros pad the rows. */
function quantizeRows(x: usize, xq: usize, xs: usize, T: i32, K: i32, Q: f32): void {
  for (let t = 0; t < T; t++) {
    const q = xq + row(t, K);
    store<f32>(xs + at(t), int16Row(x + at(t * K), q, K, Q));
    for (let k = K; k & 15; k++) store<i16>(q + <usize>(k << 1), 0);
  }
}

/** Eight int16 activations at x times eight int8 weights at w, added in pairs into a. */
@inline function dot8(x: usize, w: v128, a: v128): v128 {
  return i32x4.add(a, i32x4.dot_i16x8_s(v128.load(x), w));
}

/** Sixteen int16 activations (lo, hi) times sixteen int8 weights q, added in pairs into a. */
@inline function dot16(lo: v128, hi: v128, q: v128, a: v128): v128 {
  return i32x4.add(a, i32x4.add(i32x4.dot_i16x8_s(lo, i16x8.extend_low_i8x16_s(q)), i32x4.dot_i16x8_s(hi, i16x8.extend_high_i8x16_s(q))));
}

/** y[0..4, 0..2] for four rows of int16 activations and two int8 weight rows (y rows of N; RS, KS: qlinearIn's). */
@inline function qblock4x2(x: usize, xs: usize, w: usize, scale: usize, y: usize, K: i32, N: i32, RS: i32, KS: i32): void {
  const R = row(1, K);
  const x0 = x, x1 = x0 + R, x2 = x1 + R, x3 = x2 + R;
  const w0 = w, w1 = w0 + <usize>RS;
  let a00 = i32x4.splat(0), a01 = i32x4.splat(0), a10 = i32x4.splat(0), a11 = i32x4.splat(0);
  let a20 = i32x4.splat(0), a21 = i32x4.splat(0), a30 = i32x4.splat(0), a31 = i32x4.splat(0);
  for (let k = 0; k < K; k += 16) {
    const q0 = v128.load(w0 + <usize>(k * KS)), q1 = v128.load(w1 + <usize>(k * KS));
    const v0 = i16x8.extend_low_i8x16_s(q0), v0h = i16x8.extend_high_i8x16_s(q0);
    const v1 = i16x8.extend_low_i8x16_s(q1), v1h = i16x8.extend_high_i8x16_s(q1);
    const o = <usize>(k << 1);
    a00 = dot8(x0 + o + 16, v0h, dot8(x0 + o, v0, a00));
    a01 = dot8(x0 + o + 16, v1h, dot8(x0 + o, v1, a01));
    a10 = dot8(x1 + o + 16, v0h, dot8(x1 + o, v0, a10));
    a11 = dot8(x1 + o + 16, v1h, dot8(x1 + o, v1, a11));
    a20 = dot8(x2 + o + 16, v0h, dot8(x2 + o, v0, a20));
    a21 = dot8(x2 + o + 16, v1h, dot8(x2 + o, v1, a21));
    a30 = dot8(x3 + o + 16, v0h, dot8(x3 + o, v0, a30));
    a31 = dot8(x3 + o + 16, v1h, dot8(x3 + o, v1, a31));
  }
  // Each weight row's four sums as one vector (lane = token), scaled by the tokens' and the row's scales.
  const ts = v128.load(xs);
  const c0 = f32x4.mul(f32x4.mul(totals4(a00, a10, a20, a30), ts), f32x4.splat(load<f32>(scale)));
  const c1 = f32x4.mul(f32x4.mul(totals4(a01, a11, a21, a31), ts), f32x4.splat(load<f32>(scale + 4)));
  storeColumns(y, c0, c1, N);
}

/** Lane i = the sum of a_i's lanes, added as f32 (a lane fits in i32, four of them may not). */
@inline function totals4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return hsum4(f32x4.convert_i32x4_s(a0), f32x4.convert_i32x4_s(a1), f32x4.convert_i32x4_s(a2), f32x4.convert_i32x4_s(a3));
}

/** y[0..2, 0..4] for two rows of int16 activations and four int8 weight rows. */
@inline function qblock2x4(x: usize, xs: usize, w: usize, scale: usize, y: usize, K: i32, N: i32, RS: i32, KS: i32): void {
  const x0 = x, x1 = x0 + row(1, K);
  const w0 = w, w1 = w0 + <usize>RS, w2 = w1 + <usize>RS, w3 = w2 + <usize>RS;
  let a00 = i32x4.splat(0), a01 = i32x4.splat(0), a02 = i32x4.splat(0), a03 = i32x4.splat(0);
  let a10 = i32x4.splat(0), a11 = i32x4.splat(0), a12 = i32x4.splat(0), a13 = i32x4.splat(0);
  for (let k = 0; k < K; k += 16) {
    const o = <usize>(k << 1);
    const l0 = v128.load(x0 + o), h0 = v128.load(x0 + o + 16), l1 = v128.load(x1 + o), h1 = v128.load(x1 + o + 16);
    const wk = <usize>(k * KS);
    let q = v128.load(w0 + wk);
    a00 = dot16(l0, h0, q, a00);
    a10 = dot16(l1, h1, q, a10);
    q = v128.load(w1 + wk);
    a01 = dot16(l0, h0, q, a01);
    a11 = dot16(l1, h1, q, a11);
    q = v128.load(w2 + wk);
    a02 = dot16(l0, h0, q, a02);
    a12 = dot16(l1, h1, q, a12);
    q = v128.load(w3 + wk);
    a03 = dot16(l0, h0, q, a03);
    a13 = dot16(l1, h1, q, a13);
  }
  // Each token's four sums as one vector (lane = weight row), scaled by the rows' and the token's scales.
  const rs = v128.load(scale);
  v128.store(y, f32x4.mul(f32x4.mul(totals4(a00, a01, a02, a03), rs), f32x4.splat(load<f32>(xs))));
  v128.store(y + at(N), f32x4.mul(f32x4.mul(totals4(a10, a11, a12, a13), rs), f32x4.splat(load<f32>(xs + 4))));
}

/** y[0..4] for one row of int16 activations (scale s) and four int8 weight rows, which share each load of x. */
@inline function qblock1x4(x: usize, s: f32, w: usize, scale: usize, y: usize, K: i32, RS: i32, KS: i32): void {
  const w0 = w, w1 = w0 + <usize>RS, w2 = w1 + <usize>RS, w3 = w2 + <usize>RS;
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  for (let k = 0; k < K; k += 16) {
    const o = <usize>(k << 1), wk = <usize>(k * KS);
    const lo = v128.load(x + o), hi = v128.load(x + o + 16);
    a0 = dot16(lo, hi, v128.load(w0 + wk), a0);
    a1 = dot16(lo, hi, v128.load(w1 + wk), a1);
    a2 = dot16(lo, hi, v128.load(w2 + wk), a2);
    a3 = dot16(lo, hi, v128.load(w3 + wk), a3);
  }
  v128.store(y, f32x4.mul(f32x4.mul(totals4(a0, a1, a2, a3), v128.load(scale)), f32x4.splat(s)));
}

/** One row of int16 activations with one int8 weight row, as f32. */
@inline function qdot(x: usize, w: usize, K: i32): f32 {
  let a = i32x4.splat(0);
  for (let k = 0; k < K; k += 16) {
    const o = <usize>(k << 1);
    a = dot16(v128.load(x + o), v128.load(x + o + 16), v128.load(w + <usize>k), a);
  }
  return hsum(f32x4.convert_i32x4_s(a));
}
