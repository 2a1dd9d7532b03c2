import { finishRows, NONE } from "./epilogue";
import { halfToF32 } from "./f16";
import { q4BlockStep, q4Nibbles, q4Scales } from "./q4-rows";
import { at, halves, hmax, hsum, hsum4, hsum4i } from "./simd";

/**
 * kernels/linear-q4.ts for relaxed SIMD: y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n],
 * with w N rows of Q4_0 blocks (compiler/ir/ops/linear-q4.ts). b = 0: no bias; r = 0: no residual.
 *
 * i16x8.relaxed_dot_i8x16_i7x16_s multiplies sixteen int8 lanes by sixteen 7-bit ones and adds
 * them in pairs: the nibbles as stored (0..15, so the result is the same on every engine) need
 * only an and and a shift, and a group of 32 takes two of them, an i16 add and a pairwise widening
 * add. (Node 20's i32x4.relaxed_dot_i8x16_i7x16_add_s returned twice the sum: not used.) The activations must then be
 * int8: each group of 32 of each row of x is rounded to 127 levels of its own largest |x| (as
 * llama.cpp's Q8_0 does), with its scale and 8 · its sum (the nibbles' offset) in `scratch`.
 * No i16 intermediate can saturate: a pair adds two products of at most 127 · 15.
 *
 * Measured against kernels/linear-q4.ts (Node 20 with relaxed SIMD on, T = 1, 768×2048, 2048×768,
 * 288×768; T = 32): 0.77 to 0.90 of its time. The int8 activations cost stories260K 0.1% of NLL
 * beyond the SIMD128 kernel's (all of val_a.txt: 1.6433 -> 1.6448; f32 1.5543).
 *
 * Blocking as in kernels/linear-q4.ts: one token by four weight rows (T < 4), four tokens by one
 * weight row otherwise, the last rows one by one. scratch holds, per row of x, G groups of 32 int8,
 * G f32 scales, then G 16-byte corrections: T · 52 · G bytes (less than the SIMD128 kernel's).
 */
export function q4linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  q4linearIn(x, w, b, y, T, K, N, scratch, r, act, false);
}

/** q4linear for weights whose four rows' blocks are interleaved (layout "n4", as kernels/linear-q4.ts's q4linearN4). */
export function q4linearN4(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  q4linearIn(x, w, b, y, T, K, N, scratch, r, act, true);
}

/** Both layouts in one body, a weight row read as kernels/linear-q4.ts reads it: its first scale, its first nibbles, BS bytes a block. */
@inline function q4linearIn(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize, act: i32, n4: bool): void {
  const G = (K + 31) >> 5, R = <usize>(G * 18), BS = q4BlockStep(n4);
  const xq = scratch, xs = xq + <usize>(T * G * 32), cs = (xs + at(T * G) + 15) & ~15;
  quantizeGroups(x, xq, xs, cs, T, K, G);
  let n = 0;
  if (T >= 4) {
    const T4 = T & ~3;
    for (; n < N; n++) {
      const s0 = q4Scales(w, n, R, n4);
      const q0 = q4Nibbles(w, n, R, n4);
      let t = 0;
      for (; t < T4; t += 4) block4x1(xq + row(t, G), xs + at(t * G), cs + corr(t, G), s0, q0, BS, y + at(t * N + n), G, N);
      for (; t < T; t++) store<f32>(y + at(t * N + n), dot1(xq + row(t, G), xs + at(t * G), cs + corr(t, G), s0, q0, BS, G));
    }
  } else {
    for (; n + 4 <= N; n += 4) {
      const wn = w + <usize>n * R;
      for (let t = 0; t < T; t++) {
        const xt = xq + row(t, G), st = xs + at(t * G), ct = cs + corr(t, G), yt = y + at(t * N + n);
        if (n4) block1x4N4(xt, st, ct, wn, yt, G);
        else block1x4(xt, st, ct, wn, R, yt, G);
      }
    }
    // The last one to three rows (as written: an interleaved weight's N is a multiple of 4).
    for (; n < N; n++) {
      const s0 = q4Scales(w, n, R, false), q0 = q4Nibbles(w, n, R, false);
      for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), dot1(xq + row(t, G), xs + at(t * G), cs + corr(t, G), s0, q0, q4BlockStep(false), G));
    }
  }
  finishRows(y, b, r, act, T, N);
}

/** Byte offset of row t of the int8 activations (G groups of 32). */
@inline function row(t: i32, G: i32): usize {
  return <usize>(t * G) << 5;
}

/** Byte offset of row t's corrections (one i32x4 a group). */
@inline function corr(t: i32, G: i32): usize {
  return <usize>(t * G) << 4;
}

/**
 * Each group of 32 of each row of x as int8 in xq (zeros past K), x ≈ xs[t, g] · xq: xs[t, g] =
 * the group's largest |x| / 127; cs[t, g] = the i32x4 (8 · the group's int8 sum, 0, 0, 0).
 */
function quantizeGroups(x: usize, xq: usize, xs: usize, cs: usize, T: i32, K: i32, G: i32): void {
  for (let t = 0; t < T; t++) {
    const r = x + at(t * K);
    for (let g = 0; g < G; g++) {
      const k0 = g << 5, q = xq + row(t, G) + (<usize>g << 5), full = k0 + 32 <= K;
      let top: f32 = 0;
      if (full) {
        let m = f32x4.abs(v128.load(r + at(k0)));
        for (let j = 4; j < 32; j += 4) m = f32x4.max(m, f32x4.abs(v128.load(r + at(k0 + j))));
        top = hmax(m);
      } else for (let k = k0; k < K; k++) top = max(top, abs(load<f32>(r + at(k))));
      // A group of zeros stays zeros; NaN or infinity reaches y through the scale.
      const inv: f32 = top > 0 ? 127 / top : 0;
      store<f32>(xs + at(t * G + g), top / 127);
      if (full) {
        const iv = f32x4.splat(inv);
        for (let j = 0; j < 32; j += 16) {
          const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k0 + j)), iv)));
          const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k0 + j + 4)), iv)));
          const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k0 + j + 8)), iv)));
          const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(r + at(k0 + j + 12)), iv)));
          v128.store(q + <usize>j, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
        }
      } else
        for (let j = 0; j < 32; j++) {
          const v = k0 + j < K ? nearest(load<f32>(r + at(k0 + j)) * inv) : 0;
          store<i8>(q + <usize>j, v == v ? <i8>v : 0);
        }
      let sum = 0;
      for (let j = 0; j < 32; j++) sum += <i32>load<i8>(q + <usize>j);
      v128.store(cs + corr(t, G) + (<usize>g << 4), i32x4.replace_lane(i32x4.splat(0), 0, sum << 3));
    }
  }
}

/**
 * A group's 32 products as four partial i32 sums, the offset of 8 not taken off: int8 activations
 * x0, x1 times a block's 16 bytes of nibbles at q (0..15). Pairs of products in i16 (four of them
 * at most 4 · 127 · 15), then lanes of four in i32.
 */
@inline function rowDot(x0: v128, x1: v128, q: usize): v128 {
  const b = v128.load(q), m = i8x16.splat(0x0f);
  return i32x4.extadd_pairwise_i16x8_s(
    i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, v128.and(b, m)), i16x8.relaxed_dot_i8x16_i7x16_s(x1, v128.and(i16x8.shr_u(b, 4), m))),
  );
}

/** rowDot less the offset's share c: the i32 sums of a group's 32 products, the int8 activations at x. */
@inline function groupDot(x: usize, nibbles: usize, c: v128): v128 {
  return i32x4.sub(rowDot(v128.load(x), v128.load(x + 16), nibbles), c);
}

/** y[0..4] for one row of int8 activations (group scales xs, corrections c) and four weight rows R bytes apart. */
@inline function block1x4(x: usize, xs: usize, c: usize, w: usize, R: usize, y: usize, G: i32): void {
  const w0 = w, w1 = w0 + R, w2 = w1 + R, w3 = w2 + R;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const xo = x + (<usize>g << 5), o = <usize>(g * 18), cg = v128.load(c + (<usize>g << 4)), s = load<f32>(xs + at(g));
    a0 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo, w0 + o + 2, cg)), f32x4.splat(s * halfToF32(load<u16>(w0 + o))), a0);
    a1 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo, w1 + o + 2, cg)), f32x4.splat(s * halfToF32(load<u16>(w1 + o))), a1);
    a2 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo, w2 + o + 2, cg)), f32x4.splat(s * halfToF32(load<u16>(w2 + o))), a2);
    a3 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo, w3 + o + 2, cg)), f32x4.splat(s * halfToF32(load<u16>(w3 + o))), a3);
  }
  v128.store(y, hsum4(a0, a1, a2, a3));
}

/**
 * block1x4 for four interleaved rows at w: one 72-byte record a group. The four rows' integer sums
 * are added across lanes first (exactly, in i32), so the group's offset correction, conversion and
 * scaling take one instruction each for all four rows, their four f16 scales (times the activations'
 * group scale) converted as one vector.
 */
@inline function block1x4N4(x: usize, xs: usize, c: usize, w: usize, y: usize, G: i32): void {
  let a = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const xo = x + (<usize>g << 5), o = w + <usize>(g * 72);
    const x0 = v128.load(xo), x1 = v128.load(xo + 16);
    const d = f32x4.mul(halves(i32x4.extend_low_i16x8_u(v128.load64_zero(o))), f32x4.splat(load<f32>(xs + at(g))));
    const sums = hsum4i(rowDot(x0, x1, o + 8), rowDot(x0, x1, o + 24), rowDot(x0, x1, o + 40), rowDot(x0, x1, o + 56));
    a = f32x4.relaxed_madd(f32x4.convert_i32x4_s(i32x4.sub(sums, v128.load32_splat(c + (<usize>g << 4)))), d, a);
  }
  v128.store(y, a);
}

/**
 * y[0..4, 0] (rows N apart) for four rows of int8 activations and one weight row (its first scale
 * at s, first nibbles at q, BS bytes a block): each block's nibbles loaded once.
 */
@inline function block4x1(x: usize, xs: usize, c: usize, s: usize, q: usize, BS: usize, y: usize, G: i32, N: i32): void {
  const X = row(1, G), S = at(G), C = corr(1, G);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const o = <usize>g * BS, xo = x + (<usize>g << 5), so = xs + at(g), co = c + (<usize>g << 4);
    const d = halfToF32(load<u16>(s + o));
    a0 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo, q + o, v128.load(co))), f32x4.splat(d * load<f32>(so)), a0);
    a1 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo + X, q + o, v128.load(co + C))), f32x4.splat(d * load<f32>(so + S)), a1);
    a2 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo + 2 * X, q + o, v128.load(co + 2 * C))), f32x4.splat(d * load<f32>(so + 2 * S)), a2);
    a3 = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(xo + 3 * X, q + o, v128.load(co + 3 * C))), f32x4.splat(d * load<f32>(so + 3 * S)), a3);
  }
  const v = hsum4(a0, a1, a2, a3);
  store<f32>(y, f32x4.extract_lane(v, 0));
  store<f32>(y + at(N), f32x4.extract_lane(v, 1));
  store<f32>(y + at(2 * N), f32x4.extract_lane(v, 2));
  store<f32>(y + at(3 * N), f32x4.extract_lane(v, 3));
}

/** One row of int8 activations with one weight row (as block4x1's). */
@inline function dot1(x: usize, xs: usize, c: usize, s: usize, q: usize, BS: usize, G: i32): f32 {
  let a = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const o = <usize>g * BS;
    const d = load<f32>(xs + at(g)) * halfToF32(load<u16>(s + o));
    a = f32x4.relaxed_madd(f32x4.convert_i32x4_s(groupDot(x + (<usize>g << 5), q + o, v128.load(c + (<usize>g << 4)))), f32x4.splat(d), a);
  }
  return hsum(a);
}
