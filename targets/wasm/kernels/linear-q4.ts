import { finishRows, NONE } from "./epilogue";
import { halfToF32 } from "./f16";
import { at, hmax, hsum, hsum4 } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], with w N rows of Q4_0 blocks
 * (compiler/ir/ops/linear-q4.ts: per 32 inputs an f16 scale d and 16 bytes, low nibbles the
 * group's first 16 values and high nibbles its last 16, w = d · (nibble − 8); 18 bytes a group,
 * so rows are ceil(K / 32) · 18 bytes and no load is aligned). b = 0: no bias; r = 0: no residual.
 *
 * Integer arithmetic, as linear-q8.ts: each row of x is first rounded to int16 in `scratch` (one
 * f32 scale per row, 32767 levels: a group's i32 lanes add 8 products of at most 32767 · 8, far
 * from overflowing), padded with zeros to whole groups, so a partial last group needs no case of
 * its own. Per group and weight row: one 16-byte load, the nibbles split with an and and a shift
 * and recentred (i8x16.sub 8), widened to int16, four i32x4.dot_i16x8_s against the group's 32
 * activations; the group's i32 sums then become f32 and are multiplied by its scale. Measured
 * against unpacking to f32 and multiplying f32 activations: see bench/kernels.ts.
 *
 * Blocking: one token by four weight rows, which share each load of the activations (decoding,
 * T = 1, is the case that matters: it reads every weight once); with four tokens or more, four
 * tokens by one weight row, so each group is unpacked once for four tokens. The last one to three
 * rows one by one. scratch holds T rows of ceil(K / 32) · 64 bytes, then T f32 scales.
 */
export function q4linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  const G = (K + 31) >> 5, R = <usize>(G * 18);
  const xq = scratch, xs = (scratch + row(T, G) + 15) & ~15;
  quantizeRows(x, xq, xs, T, K, G);
  let n = 0;
  if (T >= 4) {
    const T4 = T & ~3;
    for (; n < N; n++) {
      const wn = w + <usize>n * R;
      let t = 0;
      for (; t < T4; t += 4) block4x1(xq + row(t, G), xs + at(t), wn, y + at(t * N + n), G, N);
      for (; t < T; t++) store<f32>(y + at(t * N + n), load<f32>(xs + at(t)) * dot1(xq + row(t, G), wn, G));
    }
  } else {
    for (; n + 4 <= N; n += 4) {
      const wn = w + <usize>n * R;
      for (let t = 0; t < T; t++) block1x4(xq + row(t, G), load<f32>(xs + at(t)), wn, R, y + at(t * N + n), G);
    }
    for (; n < N; n++)
      for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), load<f32>(xs + at(t)) * dot1(xq + row(t, G), w + <usize>n * R, G));
  }
  finishRows(y, b, r, act, T, N);
}

/** Byte offset of row t of the int16 activations (G groups of 32). */
@inline function row(t: i32, G: i32): usize {
  return <usize>(t * G) << 6;
}

/** Each row of x (T rows of K) as int16 in xq, x ≈ xs[t] · xq[t]: xs[t] = max|x[t]| / 32767; zeros pad the rows to G · 32. */
function quantizeRows(x: usize, xq: usize, xs: usize, T: i32, K: i32, G: i32): void {
  const K8 = K & ~7, Q: f32 = 32767;
  for (let t = 0; t < T; t++) {
    const r = x + at(t * K), q = xq + row(t, G);
    let m = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) m = f32x4.max(m, f32x4.abs(v128.load(r + at(k))));
    let top = hmax(m);
    for (; k < K; k++) top = max(top, abs(load<f32>(r + at(k))));
    // A row of zeros stays zeros; NaN or infinity reaches y through the scale.
    const inv: f32 = top > 0 ? Q / top : 0;
    store<f32>(xs + at(t), top / Q);
    const iv = f32x4.splat(inv);
    for (k = 0; k < K8; k += 8) {
      const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k)), iv)));
      const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k + 4)), iv)));
      v128.store(q + <usize>(k << 1), i16x8.narrow_i32x4_s(lo, hi));
    }
    for (; k < K; k++) {
      const v = nearest(load<f32>(r + at(k)) * inv);
      store<i16>(q + <usize>(k << 1), v == v ? <i16>v : 0);
    }
    for (; k < G << 5; k++) store<i16>(q + <usize>(k << 1), 0);
  }
}

/** The 16 bytes of nibbles of the block at b (after its f16 scale). */
@inline function nibbles(b: usize): v128 {
  return v128.load(b + 2);
}
/** The group's first 16 values (low nibbles), as i8 in -8..7. */
@inline function low(q: v128): v128 {
  return i8x16.sub(v128.and(q, i8x16.splat(0x0f)), i8x16.splat(8));
}
/** The group's last 16 values (high nibbles), as i8 in -8..7. */
@inline function high(q: v128): v128 {
  return i8x16.sub(i8x16.shr_u(q, 4), i8x16.splat(8));
}

/** A group's four products' i32 sums (32 int16 activations at x against the group's values lo, hi) as f32, times the scale d. */
@inline function group(x: usize, lo: v128, hi: v128, d: f32): v128 {
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.load(x), i16x8.extend_low_i8x16_s(lo)), i32x4.dot_i16x8_s(v128.load(x + 16), i16x8.extend_high_i8x16_s(lo))),
    i32x4.add(i32x4.dot_i16x8_s(v128.load(x + 32), i16x8.extend_low_i8x16_s(hi)), i32x4.dot_i16x8_s(v128.load(x + 48), i16x8.extend_high_i8x16_s(hi))),
  );
  return f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(d));
}

/** As group(), with the activations already in registers (x0..x3) and the block's nibbles q. */
@inline function groupW(x0: v128, x1: v128, x2: v128, x3: v128, q: v128, d: f32): v128 {
  const lo = low(q), hi = high(q);
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(x0, i16x8.extend_low_i8x16_s(lo)), i32x4.dot_i16x8_s(x1, i16x8.extend_high_i8x16_s(lo))),
    i32x4.add(i32x4.dot_i16x8_s(x2, i16x8.extend_low_i8x16_s(hi)), i32x4.dot_i16x8_s(x3, i16x8.extend_high_i8x16_s(hi))),
  );
  return f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(d));
}

/** y[0..4] for one row of int16 activations (scale s) and four weight rows R bytes apart. */
@inline function block1x4(x: usize, s: f32, w: usize, R: usize, y: usize, G: i32): void {
  const w0 = w, w1 = w0 + R, w2 = w1 + R, w3 = w2 + R;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const xo = x + (<usize>g << 6), o = <usize>(g * 18);
    const x0 = v128.load(xo), x1 = v128.load(xo + 16), x2 = v128.load(xo + 32), x3 = v128.load(xo + 48);
    a0 = f32x4.add(a0, groupW(x0, x1, x2, x3, nibbles(w0 + o), halfToF32(load<u16>(w0 + o))));
    a1 = f32x4.add(a1, groupW(x0, x1, x2, x3, nibbles(w1 + o), halfToF32(load<u16>(w1 + o))));
    a2 = f32x4.add(a2, groupW(x0, x1, x2, x3, nibbles(w2 + o), halfToF32(load<u16>(w2 + o))));
    a3 = f32x4.add(a3, groupW(x0, x1, x2, x3, nibbles(w3 + o), halfToF32(load<u16>(w3 + o))));
  }
  v128.store(y, f32x4.mul(hsum4(a0, a1, a2, a3), f32x4.splat(s)));
}

/** y[0..4, 0] (rows N apart) for four rows of int16 activations (scales at xs) and one weight row: each group unpacked once. */
@inline function block4x1(x: usize, xs: usize, w: usize, y: usize, G: i32, N: i32): void {
  const X = row(1, G);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const o = <usize>(g * 18), xo = x + (<usize>g << 6);
    const q = nibbles(w + o), d = halfToF32(load<u16>(w + o));
    const lo = low(q), hi = high(q);
    a0 = f32x4.add(a0, group(xo, lo, hi, d));
    a1 = f32x4.add(a1, group(xo + X, lo, hi, d));
    a2 = f32x4.add(a2, group(xo + 2 * X, lo, hi, d));
    a3 = f32x4.add(a3, group(xo + 3 * X, lo, hi, d));
  }
  const c = f32x4.mul(hsum4(a0, a1, a2, a3), v128.load(xs));
  store<f32>(y, f32x4.extract_lane(c, 0));
  store<f32>(y + at(N), f32x4.extract_lane(c, 1));
  store<f32>(y + at(2 * N), f32x4.extract_lane(c, 2));
  store<f32>(y + at(3 * N), f32x4.extract_lane(c, 3));
}

/** One row of int16 activations with one weight row, as f32 (before the row's activation scale). */
@inline function dot1(x: usize, w: usize, G: i32): f32 {
  let a = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const o = <usize>(g * 18), q = nibbles(w + o);
    a = f32x4.add(a, group(x + (<usize>g << 6), low(q), high(q), halfToF32(load<u16>(w + o))));
  }
  return hsum(a);
}
