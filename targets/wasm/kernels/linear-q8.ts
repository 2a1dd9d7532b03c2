import { madd } from "./fma";
import { at, hsum } from "./simd";

/**
 * y[t, n] = scale[n] · sum_k x[t, k] · w[n, k] + b[n], with w int8 [N, K] (b = 0: no bias).
 * Sixteen weights per load are widened once to four f32x4 and multiply-added with four tokens;
 * each weight row is read once per call and the token rows stay in cache.
 */
export function qlinear(x: usize, w: usize, scale: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  const T4 = T & ~3;
  for (let n = 0; n < N; n++) {
    const wn = w + <usize>(n * K);
    const s = load<f32>(scale + at(n));
    const bias: f32 = b ? load<f32>(b + at(n)) : 0;
    let t = 0;
    for (; t < T4; t += 4) {
      const r = qdot4(x + at(t * K), wn, K);
      store<f32>(y + at(t * N + n), f32x4.extract_lane(r, 0) * s + bias);
      store<f32>(y + at((t + 1) * N + n), f32x4.extract_lane(r, 1) * s + bias);
      store<f32>(y + at((t + 2) * N + n), f32x4.extract_lane(r, 2) * s + bias);
      store<f32>(y + at((t + 3) * N + n), f32x4.extract_lane(r, 3) * s + bias);
    }
    for (; t < T; t++) store<f32>(y + at(t * N + n), qdot1(x + at(t * K), wn, K) * s + bias);
  }
}

/** The four dot products of four token rows of x (rows of K) with one int8 weight row, as lanes. */
@inline function qdot4(x: usize, w: usize, K: i32): v128 {
  const K16 = K & ~15;
  const x0 = x, x1 = x + at(K), x2 = x1 + at(K), x3 = x2 + at(K);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let k = 0; k < K16; k += 16) {
    const q = v128.load(w + <usize>k);
    const lo = i16x8.extend_low_i8x16_s(q), hi = i16x8.extend_high_i8x16_s(q);
    const w0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), w1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo));
    const w2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), w3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi));
    const o = at(k);
    a0 = madd(w0, v128.load(x0 + o), madd(w1, v128.load(x0 + o + 16), madd(w2, v128.load(x0 + o + 32), madd(w3, v128.load(x0 + o + 48), a0))));
    a1 = madd(w0, v128.load(x1 + o), madd(w1, v128.load(x1 + o + 16), madd(w2, v128.load(x1 + o + 32), madd(w3, v128.load(x1 + o + 48), a1))));
    a2 = madd(w0, v128.load(x2 + o), madd(w1, v128.load(x2 + o + 16), madd(w2, v128.load(x2 + o + 32), madd(w3, v128.load(x2 + o + 48), a2))));
    a3 = madd(w0, v128.load(x3 + o), madd(w1, v128.load(x3 + o + 16), madd(w2, v128.load(x3 + o + 32), madd(w3, v128.load(x3 + o + 48), a3))));
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (let k = K16; k < K; k++) {
    const wk = <f32>load<i8>(w + <usize>k);
    s0 += load<f32>(x0 + at(k)) * wk;
    s1 += load<f32>(x1 + at(k)) * wk;
    s2 += load<f32>(x2 + at(k)) * wk;
    s3 += load<f32>(x3 + at(k)) * wk;
  }
  return f32x4(s0, s1, s2, s3);
}

/** One token row of x with one int8 weight row. */
@inline function qdot1(x: usize, w: usize, K: i32): f32 {
  const K16 = K & ~15;
  let acc = f32x4.splat(0);
  for (let k = 0; k < K16; k += 16) {
    const q = v128.load(w + <usize>k);
    const lo = i16x8.extend_low_i8x16_s(q), hi = i16x8.extend_high_i8x16_s(q);
    acc = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(x + at(k)), acc);
    acc = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(x + at(k + 4)), acc);
    acc = madd(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(x + at(k + 8)), acc);
    acc = madd(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(x + at(k + 12)), acc);
  }
  let sum = hsum(acc);
  for (let k = K16; k < K; k++) sum += load<f32>(x + at(k)) * <f32>load<i8>(w + <usize>k);
  return sum;
}
