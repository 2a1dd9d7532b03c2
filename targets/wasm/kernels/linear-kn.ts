import { finishRows, NONE } from "./epilogue";
import { madd } from "./fma";
import { at } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · wt[k, n] + b[n]) + r[t, n] with the weights stored transposed,
 * wt: [K, N] (b = 0: no bias; r = 0: no residual; act: epilogue.ts's NONE or RELU). The build
 * stores a matmul's weights this way when they are small enough to stay in cache
 * (passes/weight-layout.ts): then what bounds the kernel is instructions, not the weights' bytes.
 *
 * Four tokens by eight columns at a time: each x[t, k] is broadcast to a vector (one load), the
 * eight weights of row k are two vector loads, and the eight accumulators are the outputs
 * themselves, stored whole: no horizontal sums, where linear() needs them for every output pair.
 * Columns then go four at a time, and the last N % 4 one by one; tokens past the last four
 * take one row at a time.
 */
export function linearKN(x: usize, wt: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
  const N8 = N & ~7, N4 = N & ~3, T4 = T & ~3;
  for (let n = 0; n < N8; n += 8) {
    for (let t = 0; t < T4; t += 4) block4x8(x + at(t * K), wt + at(n), y + at(t * N + n), K, N);
    for (let t = T4; t < T; t++) row8(x + at(t * K), wt + at(n), y + at(t * N + n), K, N);
  }
  if (N8 < N4) {
    for (let t = 0; t < T4; t += 4) block4x4(x + at(t * K), wt + at(N8), y + at(t * N + N8), K, N);
    for (let t = T4; t < T; t++) v128.store(y + at(t * N + N8), row4(x + at(t * K), wt + at(N8), K, N));
  }
  for (let n = N4; n < N; n++)
    for (let t = 0; t < T; t++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += load<f32>(x + at(t * K + k)) * load<f32>(wt + at(k * N + n));
      store<f32>(y + at(t * N + n), s);
    }
  finishRows(y, b, r, act, T, N);
}

/** y[0..4, 0..8] for the four token rows at x and the eight columns at wt (rows of N). */
function block4x8(x: usize, wt: usize, y: usize, K: i32, N: i32): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  const stride = at(N), end = x + at(K);
  for (let p = x, q = wt; p < end; p += 4, q += stride) {
    const v0 = v128.load(q), v1 = v128.load(q, 16);
    const u0 = v128.load32_splat(p), u1 = v128.load32_splat(p + at(K)), u2 = v128.load32_splat(p + at(2 * K)), u3 = v128.load32_splat(p + at(3 * K));
    a00 = madd(u0, v0, a00);
    a01 = madd(u0, v1, a01);
    a10 = madd(u1, v0, a10);
    a11 = madd(u1, v1, a11);
    a20 = madd(u2, v0, a20);
    a21 = madd(u2, v1, a21);
    a30 = madd(u3, v0, a30);
    a31 = madd(u3, v1, a31);
  }
  v128.store(y, a00); v128.store(y, a01, 16);
  v128.store(y + at(N), a10); v128.store(y + at(N), a11, 16);
  v128.store(y + at(2 * N), a20); v128.store(y + at(2 * N), a21, 16);
  v128.store(y + at(3 * N), a30); v128.store(y + at(3 * N), a31, 16);
}

/** y[0..4, 0..4] for the four token rows at x and the four columns at wt. */
function block4x4(x: usize, wt: usize, y: usize, K: i32, N: i32): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const stride = at(N), end = x + at(K);
  for (let p = x, q = wt; p < end; p += 4, q += stride) {
    const v = v128.load(q);
    a0 = madd(v128.load32_splat(p), v, a0);
    a1 = madd(v128.load32_splat(p + at(K)), v, a1);
    a2 = madd(v128.load32_splat(p + at(2 * K)), v, a2);
    a3 = madd(v128.load32_splat(p + at(3 * K)), v, a3);
  }
  v128.store(y, a0);
  v128.store(y + at(N), a1);
  v128.store(y + at(2 * N), a2);
  v128.store(y + at(3 * N), a3);
}

/** y[0..8] for one token row at x and the eight columns at wt: even and odd k in separate accumulators, so two chains of multiply-adds run at once. */
function row8(x: usize, wt: usize, y: usize, K: i32, N: i32): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
  const stride = at(N);
  let p = x, q = wt;
  const end = x + at(K & ~1);
  for (; p < end; p += 8, q += 2 * stride) {
    const u = v128.load32_splat(p), w = v128.load32_splat(p, 4);
    a0 = madd(u, v128.load(q), a0);
    a1 = madd(u, v128.load(q, 16), a1);
    b0 = madd(w, v128.load(q + stride), b0);
    b1 = madd(w, v128.load(q + stride, 16), b1);
  }
  if (K & 1) {
    const u = v128.load32_splat(p);
    a0 = madd(u, v128.load(q), a0);
    a1 = madd(u, v128.load(q, 16), a1);
  }
  v128.store(y, f32x4.add(a0, b0));
  v128.store(y, f32x4.add(a1, b1), 16);
}

/** The four columns at wt for one token row at x. */
function row4(x: usize, wt: usize, K: i32, N: i32): v128 {
  let a = f32x4.splat(0);
  const stride = at(N), end = x + at(K);
  for (let p = x, q = wt; p < end; p += 4, q += stride) a = madd(v128.load32_splat(p), v128.load(q), a);
  return a;
}
