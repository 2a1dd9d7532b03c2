import { finishRows, NONE } from "./epilogue";
import { madd } from "./fma";
import { at, hsum4, storeColumns } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], with w stored in groups of four rows
 * interleaved by four columns (`layout: "n4"`, passes/weight-layout.ts): group g's 64 bytes for
 * columns k..k+3 hold rows 4g, 4g+1, 4g+2, 4g+3 in turn, one cache line. N and K are multiples of 4.
 *
 * linear.ts's blocking (four tokens by two rows, then two by four and one by four) over weights that
 * are one sequential stream per group of rows, read through one pointer with constant offsets, where
 * row-major weights are four streams and four address computations. For models whose weights
 * stream from memory on every call (USE-Lite's 26 MiB).
 */
export function linearN4(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
  const T4 = T & ~3;
  for (let n = 0; n < N; n += 4) {
    const wn = w + at(n * K);
    let t = 0;
    for (; t < T4; t += 4) {
      block4x2(x + at(t * K), wn, y + at(t * N + n), K, N);
      block4x2(x + at(t * K), wn + 32, y + at(t * N + n + 2), K, N);
    }
    if (t + 2 <= T) {
      block2x4(x + at(t * K), wn, y + at(t * N + n), K, N);
      t += 2;
    }
    if (t < T) v128.store(y + at(t * N + n), block1x4(x + at(t * K), wn, K));
  }
  finishRows(y, b, r, act, T, N);
}

/** y[0..4, 0..2] for four token rows of x and the two interleaved weight rows at w, w + 16 (stride 64 bytes per four columns). */
function block4x2(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const x0 = x, x1 = x + at(K), x2 = x1 + at(K), x3 = x2 + at(K);
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  let p = w;
  for (let k = 0; k < K; k += 4) {
    const v0 = v128.load(p), v1 = v128.load(p, 16);
    p += 64;
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
  const c0 = hsum4(a00, a10, a20, a30), c1 = hsum4(a01, a11, a21, a31);
  storeColumns(y, c0, c1, N);
}

/** y[0..2, 0..4] for two token rows of x and the group of four interleaved weight rows at w. */
function block2x4(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const x0 = x, x1 = x + at(K);
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  let p = w;
  for (let k = 0; k < K; k += 4) {
    const u0 = v128.load(x0 + at(k)), u1 = v128.load(x1 + at(k));
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    p += 64;
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
  v128.store(y, hsum4(a00, a01, a02, a03));
  v128.store(y + at(N), hsum4(a10, a11, a12, a13));
}

/** One token row of x against the group of four interleaved weight rows at w: their four sums, lane = row. */
@inline function block1x4(x: usize, w: usize, K: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let p = w;
  for (let k = 0; k < K; k += 4) {
    const u = v128.load(x + at(k));
    a0 = madd(u, v128.load(p), a0);
    a1 = madd(u, v128.load(p, 16), a1);
    a2 = madd(u, v128.load(p, 32), a2);
    a3 = madd(u, v128.load(p, 48), a3);
    p += 64;
  }
  return hsum4(a0, a1, a2, a3);
}
