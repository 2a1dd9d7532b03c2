import { madd } from "./fma";
import { addVec, at, dot, hsum } from "./simd";

/**
 * y[t, n] = sum_k x[t, k] · w[n, k] + b[n]   (x: [T, K], w: [N, K] row-major, y: [T, N]; b = 0: no bias).
 *
 * Weights are what bounds small batches (they do not fit in cache), so each pair of weight rows
 * is read once per call and applied to every token, four tokens at a time: 8 accumulators stay in
 * registers and the token rows stay in cache. One token takes 4 weight rows at a time instead.
 * Remainders in T, N and K run narrower or scalar.
 */
export function linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  if (T < 4) for (let t = 0; t < T; t++) linear1(x + at(t * K), w, y + at(t * N), K, N);
  else {
    const T4 = T & ~3;
    let n = 0;
    for (; n + 2 <= N; n += 2) {
      for (let t = 0; t < T4; t += 4) block4x2(x + at(t * K), w + at(n * K), y + at(t * N + n), K, N);
      for (let t = T4; t < T; t++) {
        store<f32>(y + at(t * N + n), dot(x + at(t * K), w + at(n * K), K));
        store<f32>(y + at(t * N + n + 1), dot(x + at(t * K), w + at((n + 1) * K), K));
      }
    }
    for (; n < N; n++) for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), dot(x + at(t * K), w + at(n * K), K));
  }
  if (b) for (let r = 0; r < T; r++) addBias(y + at(r * N), b, N);
}

/** y[0..4, 0..2] for four token rows of x and two weight rows starting at w (rows of K; y rows of N). */
function block4x2(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const K4 = K & ~3;
  const x0 = x, x1 = x + at(K), x2 = x1 + at(K), x3 = x2 + at(K);
  const w0 = w, w1 = w0 + at(K);
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  for (let k = 0; k < K4; k += 4) {
    const v0 = v128.load(w0 + at(k)), v1 = v128.load(w1 + at(k));
    const u0 = v128.load(x0 + at(k)), u1 = v128.load(x1 + at(k)), u2 = v128.load(x2 + at(k)), u3 = v128.load(x3 + at(k));
    a00 = madd(u0, v0, a00);
    a01 = madd(u0, v1, a01);
    a10 = madd(u1, v0, a10);
    a11 = madd(u1, v1, a11);
    a20 = madd(u2, v0, a20);
    a21 = madd(u2, v1, a21);
    a30 = madd(u3, v0, a30);
    a31 = madd(u3, v1, a31);
  }
  let s00 = hsum(a00), s01 = hsum(a01), s10 = hsum(a10), s11 = hsum(a11);
  let s20 = hsum(a20), s21 = hsum(a21), s30 = hsum(a30), s31 = hsum(a31);
  for (let k = K4; k < K; k++) {
    const v0 = load<f32>(w0 + at(k)), v1 = load<f32>(w1 + at(k));
    const u0 = load<f32>(x0 + at(k)), u1 = load<f32>(x1 + at(k)), u2 = load<f32>(x2 + at(k)), u3 = load<f32>(x3 + at(k));
    s00 += u0 * v0; s01 += u0 * v1; s10 += u1 * v0; s11 += u1 * v1;
    s20 += u2 * v0; s21 += u2 * v1; s30 += u3 * v0; s31 += u3 * v1;
  }
  store<f32>(y + at(0), s00); store<f32>(y + at(1), s01);
  store<f32>(y + at(N), s10); store<f32>(y + at(N + 1), s11);
  store<f32>(y + at(2 * N), s20); store<f32>(y + at(2 * N + 1), s21);
  store<f32>(y + at(3 * N), s30); store<f32>(y + at(3 * N + 1), s31);
}

/** One token: four weight rows share each load of x. */
function linear1(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const K4 = K & ~3;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + at(n * K), w1 = w0 + at(K), w2 = w1 + at(K), w3 = w2 + at(K);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const xv = v128.load(x + at(k));
      a0 = madd(xv, v128.load(w0 + at(k)), a0);
      a1 = madd(xv, v128.load(w1 + at(k)), a1);
      a2 = madd(xv, v128.load(w2 + at(k)), a2);
      a3 = madd(xv, v128.load(w3 + at(k)), a3);
    }
    let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (let k = K4; k < K; k++) {
      const xv = load<f32>(x + at(k));
      s0 += xv * load<f32>(w0 + at(k));
      s1 += xv * load<f32>(w1 + at(k));
      s2 += xv * load<f32>(w2 + at(k));
      s3 += xv * load<f32>(w3 + at(k));
    }
    v128.store(y + at(n), f32x4(s0, s1, s2, s3));
  }
  for (; n < N; n++) store<f32>(y + at(n), dot(x, w + at(n * K), K));
}

function addBias(y: usize, b: usize, N: i32): void {
  addVec(y, b, y, N);
}
