import { finishRows, NONE } from "./epilogue";
import { halfToF32 } from "./f16";
import { int16Row } from "./linear-q8";
import { q4BlockStep, q4Nibbles, q4Scales } from "./q4-rows";
import { at, halves, hsum, hsum4, hsum4i } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], with w N rows of Q4_0 blocks
 * (compiler/ir/ops/linear-q4.ts: per 32 inputs an f16 scale d and 16 bytes, low nibbles the
 * group's first 16 values and high nibbles its last 16, w = d · (nibble − 8); 18 bytes a group,
 * so rows are ceil(K / 32) · 18 bytes and no load is aligned). b = 0: no bias; r = 0: no residual.
 *
 * Integer arithmetic, as linear-q8.ts: each row of x is first rounded to int16 in `scratch` (one
 * f32 scale per row, 32767 levels), padded with zeros to whole groups, so a partial last group
 * needs no case of its own. Per group and weight row: one 16-byte load read as eight 16-bit lanes,
 * split by ands and shifts into four vectors of int16 nibbles (0..15: no widening, no recentring),
 * four i32x4.dot_i16x8_s against the group's 32 activations (stored in the matching order), less
 * 8 · the activations' sum (computed once per token and group); the group's i32 sums (at most
 * 8 · 15 · 32767 a lane) then become f32 and are multiplied by its scale, four rows' f16 scales
 * converted at once.
 *
 * Measured (node bench/run.mjs of one Q4Linear, T = 1, 768×2048, 2048×768, 288×768; and T = 32):
 * unpacking the weights to f32 against f32 activations took 1.5 to 2.9x as long; int8 activations
 * per group of 32 (llama.cpp's Q8_0) with i16x8.extmul_*_i8x16_s 0.9 to 1.5x; the first version of
 * this one (bytes split with i8x16.shr_u, widened, recentred, a scale converted per row) 1.05 to 1.15x.
 *
 * Blocking: one token by four weight rows, which share each load of the activations (decoding,
 * T = 1, is the case that matters: it reads every weight once); with four tokens or more, four
 * tokens by one weight row, so each group is unpacked once for four tokens. The last one to three
 * rows one by one. scratch holds T rows of ceil(K / 32) · 64 bytes, T f32 scales, then a 16-byte
 * correction per row and group.
 *
 * Weights stored four rows interleaved (q4linearN4; layout "n4", ir/ops/linear-q4.ts, which the
 * SIMD targets' layout pass gives every weight whose N is a multiple of 4) read as one stream of
 * 72-byte records, the four scales of a record converted from one 8-byte load. From memory that
 * is what decode waits on: stories110M-shaped decode 96.6 -> 178.2 tokens/s (four rows read side by
 * side, each a few cache lines long, are four streams the prefetcher barely follows). On wasm-relaxed, kernels-relaxed/linear-q4.ts replaces this file
 * (int8 activations per group and the relaxed 8-bit dot product).
 */
export function q4linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  q4linearIn(x, w, b, y, T, K, N, scratch, r, act, false);
}

/** q4linear for weights whose four rows' blocks are interleaved (layout "n4", ir/ops/linear-q4.ts: 72 bytes per four blocks, the scales first; N a multiple of 4). */
export function q4linearN4(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize = 0, act: i32 = NONE): void {
  q4linearIn(x, w, b, y, T, K, N, scratch, r, act, true);
}

/**
 * Both layouts in one body: a weight row is read through the address of its first scale, of its
 * first nibbles, and the step BS from one block to the next (18 as written; 72 interleaved, where
 * the T < 4 blocking reads a group of four rows as one stream of 72-byte records).
 */
@inline function q4linearIn(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, scratch: usize, r: usize, act: i32, n4: bool): void {
  const G = (K + 31) >> 5, R = <usize>(G * 18), BS = q4BlockStep(n4);
  const xq = scratch, xs = (scratch + row(T, G) + 15) & ~15, sums = (xs + at(T) + 15) & ~15;
  quantizeRows(x, xq, xs, sums, T, K, G);
  let n = 0;
  if (T >= 4) {
    const T4 = T & ~3;
    for (; n < N; n++) {
      const s0 = q4Scales(w, n, R, n4);
      const q0 = q4Nibbles(w, n, R, n4);
      let t = 0;
      for (; t < T4; t += 4) block4x1(xq + row(t, G), sums + corr(t, G), xs + at(t), s0, q0, BS, y + at(t * N + n), G, N);
      for (; t < T; t++) store<f32>(y + at(t * N + n), load<f32>(xs + at(t)) * dot1(xq + row(t, G), sums + corr(t, G), s0, q0, BS, G));
    }
  } else {
    for (; n + 4 <= N; n += 4) {
      const wn = w + <usize>n * R;
      for (let t = 0; t < T; t++) {
        const xt = xq + row(t, G), ct = sums + corr(t, G), st = load<f32>(xs + at(t)), yt = y + at(t * N + n);
        if (n4) block1x4N4(xt, ct, st, wn, yt, G);
        else block1x4(xt, ct, st, wn, R, yt, G);
      }
    }
    // The last one to three rows (as written: an interleaved weight's N is a multiple of 4).
    for (; n < N; n++) {
      const s0 = q4Scales(w, n, R, false), q0 = q4Nibbles(w, n, R, false);
      for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), load<f32>(xs + at(t)) * dot1(xq + row(t, G), sums + corr(t, G), s0, q0, q4BlockStep(false), G));
    }
  }
  finishRows(y, b, r, act, T, N);
}

/** Byte offset of row t of the int16 activations (G groups of 32). */
@inline function row(t: i32, G: i32): usize {
  return <usize>(t * G) << 6;
}

/** Byte offset of row t's corrections (one i32x4 a group). */
@inline function corr(t: i32, G: i32): usize {
  return <usize>(t * G) << 4;
}

/**
 * Each row of x (T rows of K) as int16 in xq, x ≈ xs[t] · xq[t]: xs[t] = max|x[t]| / 32767; zeros
 * pad the rows to G · 32. Within each group the values are stored in the order unpack() gives the
 * weights: 0, 2, .. 14, then 1, 3, .. 15, then 16, 18, .. 30, then 17, 19, .. 31. sums[t, g] is the
 * i32x4 (8 · the group's sum, 0, 0, 0): what the nibbles' offset of 8 adds to a group's dot product.
 */
function quantizeRows(x: usize, xq: usize, xs: usize, sums: usize, T: i32, K: i32, G: i32): void {
  for (let t = 0; t < T; t++) {
    const q = xq + row(t, G);
    store<f32>(xs + at(t), int16Row(x + at(t * K), q, K, 32767));
    for (let k = K; k < G << 5; k++) store<i16>(q + <usize>(k << 1), 0);
    for (let g = 0; g < G; g++) {
      const v = q + (<usize>g << 6);
      const v0 = v128.load(v), v1 = v128.load(v + 16), v2 = v128.load(v + 32), v3 = v128.load(v + 48);
      const s = i32x4.add(
        i32x4.add(i32x4.extadd_pairwise_i16x8_s(v0), i32x4.extadd_pairwise_i16x8_s(v1)),
        i32x4.add(i32x4.extadd_pairwise_i16x8_s(v2), i32x4.extadd_pairwise_i16x8_s(v3)),
      );
      const total: i32 = i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
      v128.store(sums + corr(t, G) + (<usize>g << 4), i32x4.replace_lane(i32x4.splat(0), 0, total << 3));
      v128.store(v, v128.shuffle<i16>(v0, v1, 0, 2, 4, 6, 8, 10, 12, 14));
      v128.store(v + 16, v128.shuffle<i16>(v0, v1, 1, 3, 5, 7, 9, 11, 13, 15));
      v128.store(v + 32, v128.shuffle<i16>(v2, v3, 0, 2, 4, 6, 8, 10, 12, 14));
      v128.store(v + 48, v128.shuffle<i16>(v2, v3, 1, 3, 5, 7, 9, 11, 13, 15));
    }
  }
}

/** rowDot less the offset's share c: the i32 sums of a group's 32 products. */
@inline function groupDot(x0: v128, x1: v128, x2: v128, x3: v128, nibbles: usize, c: v128): v128 {
  return i32x4.sub(rowDot(x0, x1, x2, x3, nibbles), c);
}

/** The f16 scales at a, b, c, d as one f32x4. */
@inline function scales4(a: usize, b: usize, c: usize, d: usize): v128 {
  let h = v128.load16_lane(a, i32x4.splat(0), 0);
  h = v128.load16_lane(b, h, 2);
  h = v128.load16_lane(c, h, 4);
  h = v128.load16_lane(d, h, 6);
  return halves(h);
}

/** Four f16 scales side by side at a (an interleaved record's first 8 bytes) as one f32x4. */
@inline function scalesAt(a: usize): v128 {
  return halves(i32x4.extend_low_i16x8_u(v128.load64_zero(a)));
}

/** y[0..4] for one row of int16 activations (scale s, corrections c) and four weight rows R bytes apart, whose four scales convert at once. */
@inline function block1x4(x: usize, c: usize, s: f32, w: usize, R: usize, y: usize, G: i32): void {
  const w0 = w, w1 = w0 + R, w2 = w1 + R, w3 = w2 + R;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const xo = x + (<usize>g << 6), o = <usize>(g * 18), cg = v128.load(c + (<usize>g << 4));
    const x0 = v128.load(xo), x1 = v128.load(xo + 16), x2 = v128.load(xo + 32), x3 = v128.load(xo + 48);
    const d = scales4(w0 + o, w1 + o, w2 + o, w3 + o);
    a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(groupDot(x0, x1, x2, x3, w0 + o + 2, cg)), v128.shuffle<f32>(d, d, 0, 0, 0, 0)));
    a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_s(groupDot(x0, x1, x2, x3, w1 + o + 2, cg)), v128.shuffle<f32>(d, d, 1, 1, 1, 1)));
    a2 = f32x4.add(a2, f32x4.mul(f32x4.convert_i32x4_s(groupDot(x0, x1, x2, x3, w2 + o + 2, cg)), v128.shuffle<f32>(d, d, 2, 2, 2, 2)));
    a3 = f32x4.add(a3, f32x4.mul(f32x4.convert_i32x4_s(groupDot(x0, x1, x2, x3, w3 + o + 2, cg)), v128.shuffle<f32>(d, d, 3, 3, 3, 3)));
  }
  v128.store(y, f32x4.mul(hsum4(a0, a1, a2, a3), f32x4.splat(s)));
}

/**
 * block1x4 for four interleaved rows at w: one 72-byte record a group. The four rows' integer sums
 * are added across lanes first (exactly, in i32), so the group's offset correction, conversion and
 * scaling take one instruction each for all four rows, their four f16 scales converted from one load.
 */
@inline function block1x4N4(x: usize, c: usize, s: f32, w: usize, y: usize, G: i32): void {
  let a = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const xo = x + (<usize>g << 6), o = w + <usize>(g * 72);
    const x0 = v128.load(xo), x1 = v128.load(xo + 16), x2 = v128.load(xo + 32), x3 = v128.load(xo + 48);
    const sums = hsum4i(rowDot(x0, x1, x2, x3, o + 8), rowDot(x0, x1, x2, x3, o + 24), rowDot(x0, x1, x2, x3, o + 40), rowDot(x0, x1, x2, x3, o + 56));
    a = f32x4.add(a, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(sums, v128.load32_splat(c + (<usize>g << 4)))), scalesAt(o)));
  }
  v128.store(y, f32x4.mul(a, f32x4.splat(s)));
}

/**
 * A group's 32 products as four partial i32 sums, the offset of 8 not taken off: the int16
 * activations x0..x3 (in quantizeRows' order) times the block's 16 bytes of nibbles at `nibbles`
 * as stored, 0..15. The 16 bytes read as eight 16-bit lanes split into the four vectors of int16 in
 * four ands and three shifts: no widening.
 */
@inline function rowDot(x0: v128, x1: v128, x2: v128, x3: v128, nibbles: usize): v128 {
  const q = v128.load(nibbles), m = i16x8.splat(0x0f);
  const e0 = v128.and(q, m), e1 = v128.and(i16x8.shr_u(q, 8), m), e2 = v128.and(i16x8.shr_u(q, 4), m), e3 = i16x8.shr_u(q, 12);
  return i32x4.add(i32x4.add(i32x4.dot_i16x8_s(x0, e0), i32x4.dot_i16x8_s(x1, e1)), i32x4.add(i32x4.dot_i16x8_s(x2, e2), i32x4.dot_i16x8_s(x3, e3)));
}

/** One group's products for the activations at x (corrections at c) and the nibbles at q, as f32 times d. */
@inline function groupAt(x: usize, c: usize, q: usize, d: v128): v128 {
  return f32x4.mul(
    f32x4.convert_i32x4_s(groupDot(v128.load(x), v128.load(x + 16), v128.load(x + 32), v128.load(x + 48), q, v128.load(c))),
    d,
  );
}

/**
 * y[0..4, 0] (rows N apart) for four rows of int16 activations (scales at xs, corrections at c) and
 * one weight row: its first scale at s, first nibbles at q, BS bytes from one block to the next.
 */
@inline function block4x1(x: usize, c: usize, xs: usize, s: usize, q: usize, BS: usize, y: usize, G: i32, N: i32): void {
  const X = row(1, G), C = corr(1, G);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const o = <usize>g * BS, xo = x + (<usize>g << 6), co = c + (<usize>g << 4);
    const d = f32x4.splat(halfToF32(load<u16>(s + o)));
    a0 = f32x4.add(a0, groupAt(xo, co, q + o, d));
    a1 = f32x4.add(a1, groupAt(xo + X, co + C, q + o, d));
    a2 = f32x4.add(a2, groupAt(xo + 2 * X, co + 2 * C, q + o, d));
    a3 = f32x4.add(a3, groupAt(xo + 3 * X, co + 3 * C, q + o, d));
  }
  const v = f32x4.mul(hsum4(a0, a1, a2, a3), v128.load(xs));
  store<f32>(y, f32x4.extract_lane(v, 0));
  store<f32>(y + at(N), f32x4.extract_lane(v, 1));
  store<f32>(y + at(2 * N), f32x4.extract_lane(v, 2));
  store<f32>(y + at(3 * N), f32x4.extract_lane(v, 3));
}

/** One row of int16 activations (corrections at c) with one weight row (as block4x1's), as f32 (before the row's activation scale). */
@inline function dot1(x: usize, c: usize, s: usize, q: usize, BS: usize, G: i32): f32 {
  let a = f32x4.splat(0);
  for (let g = 0; g < G; g++) {
    const o = <usize>g * BS;
    a = f32x4.add(a, groupAt(x + (<usize>g << 6), c + (<usize>g << 4), q + o, f32x4.splat(halfToF32(load<u16>(s + o)))));
  }
  return hsum(a);
}
