import { finishRows, NONE } from "./epilogue";
import { madd } from "./fma";
import { at, dot, dot4, hsum4, storeColumns } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n]   (x: [T, K], w: [N, K] row-major, y: [T, N];
 * b = 0: no bias; r = 0: no residual; act: epilogue.ts's NONE or RELU).
 *
 * Weights are what bounds small batches (they do not fit in cache), so each group of four weight
 * rows is read from memory once per call and applied to every token while it sits in L1: four
 * tokens by two rows at a time (8 accumulators in registers), then the last one to three tokens
 * two by four and one by four. (A dot product per leftover token and row, as before, made
 * USE-Lite's sentences of 10 and 11 tokens 15-18% slower.) Rows past a multiple of four take dot
 * products.
 */
export function linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
  const T4 = T & ~3;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const wn = w + at(n * K);
    let t = 0;
    for (; t < T4; t += 4) {
      block4x2(x + at(t * K), wn, y + at(t * N + n), K, N);
      block4x2(x + at(t * K), wn + at(2 * K), y + at(t * N + n + 2), K, N);
    }
    if (t + 2 <= T) {
      block2x4(x + at(t * K), wn, y + at(t * N + n), K, N);
      t += 2;
    }
    if (t < T) v128.store(y + at(t * N + n), block1x4(x + at(t * K), wn, K));
  }
  for (; n < N; n++) for (let t = 0; t < T; t++) store<f32>(y + at(t * N + n), dot(x + at(t * K), w + at(n * K), K));
  finishRows(y, b, r, act, T, N);
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
  // Each weight row's four sums as one vector, lane = token.
  let c0 = hsum4(a00, a10, a20, a30), c1 = hsum4(a01, a11, a21, a31);
  for (let k = K4; k < K; k++) {
    const u = f32x4(load<f32>(x0 + at(k)), load<f32>(x1 + at(k)), load<f32>(x2 + at(k)), load<f32>(x3 + at(k)));
    c0 = madd(u, f32x4.splat(load<f32>(w0 + at(k))), c0);
    c1 = madd(u, f32x4.splat(load<f32>(w1 + at(k))), c1);
  }
  storeColumns(y, c0, c1, N);
}

/** y[0..2, 0..4] for two token rows of x and four weight rows starting at w. */
function block2x4(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const K4 = K & ~3;
  const x0 = x, x1 = x + at(K);
  const w0 = w, w1 = w0 + at(K), w2 = w1 + at(K), w3 = w2 + at(K);
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  for (let k = 0; k < K4; k += 4) {
    const u0 = v128.load(x0 + at(k)), u1 = v128.load(x1 + at(k));
    const v0 = v128.load(w0 + at(k)), v1 = v128.load(w1 + at(k)), v2 = v128.load(w2 + at(k)), v3 = v128.load(w3 + at(k));
    a00 = madd(u0, v0, a00);
    a10 = madd(u1, v0, a10);
    a01 = madd(u0, v1, a01);
    a11 = madd(u1, v1, a11);
    a02 = madd(u0, v2, a02);
    a12 = madd(u1, v2, a12);
    a03 = madd(u0, v3, a03);
    a13 = madd(u1, v3, a13);
  }
  // Each token's four sums as one vector, lane = weight row.
  let c0 = hsum4(a00, a01, a02, a03), c1 = hsum4(a10, a11, a12, a13);
  for (let k = K4; k < K; k++) {
    const v = f32x4(load<f32>(w0 + at(k)), load<f32>(w1 + at(k)), load<f32>(w2 + at(k)), load<f32>(w3 + at(k)));
    c0 = madd(f32x4.splat(load<f32>(x0 + at(k))), v, c0);
    c1 = madd(f32x4.splat(load<f32>(x1 + at(k))), v, c1);
  }
  v128.store(y, c0);
  v128.store(y + at(N), c1);
}

/** One token row of x against four weight rows starting at w: their four sums, lane = row. */
@inline function block1x4(x: usize, w: usize, K: i32): v128 {
  const K4 = K & ~3;
  const w0 = w, w1 = w0 + at(K), w2 = w1 + at(K), w3 = w2 + at(K);
  let sums = dot4(x, w0, w1, w2, w3, K4);
  for (let k = K4; k < K; k++)
    sums = madd(f32x4.splat(load<f32>(x + at(k))), f32x4(load<f32>(w0 + at(k)), load<f32>(w1 + at(k)), load<f32>(w2 + at(k)), load<f32>(w3 + at(k))), sums);
  return sums;
}
