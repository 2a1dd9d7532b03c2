import { finishRows, NONE } from "./epilogue";
import { madd } from "./fma";
import { at, dot, dot4, hsum4 } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n]   (x: [T, K], w: [N, K] row-major, y: [T, N];
 * b = 0: no bias; r = 0: no residual; act: epilogue.ts's NONE or RELU).
 *
 * Weights are what bounds small batches (they do not fit in cache), so each pair of weight rows
 * is read once per call and applied to every token, four tokens at a time: 8 accumulators stay in
 * registers and the token rows stay in cache. One token takes 4 weight rows at a time instead.
 * Remainders in T, N and K run narrower or scalar.
 */
export function linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
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
  store<f32>(y, f32x4.extract_lane(c0, 0)); store<f32>(y + at(1), f32x4.extract_lane(c1, 0));
  store<f32>(y + at(N), f32x4.extract_lane(c0, 1)); store<f32>(y + at(N + 1), f32x4.extract_lane(c1, 1));
  store<f32>(y + at(2 * N), f32x4.extract_lane(c0, 2)); store<f32>(y + at(2 * N + 1), f32x4.extract_lane(c1, 2));
  store<f32>(y + at(3 * N), f32x4.extract_lane(c0, 3)); store<f32>(y + at(3 * N + 1), f32x4.extract_lane(c1, 3));
}

/** One token: four weight rows share each load of x. */
function linear1(x: usize, w: usize, y: usize, K: i32, N: i32): void {
  const K4 = K & ~3;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + at(n * K), w1 = w0 + at(K), w2 = w1 + at(K), w3 = w2 + at(K);
    let sums = dot4(x, w0, w1, w2, w3, K4);
    for (let k = K4; k < K; k++)
      sums = madd(f32x4.splat(load<f32>(x + at(k))), f32x4(load<f32>(w0 + at(k)), load<f32>(w1 + at(k)), load<f32>(w2 + at(k)), load<f32>(w3 + at(k))), sums);
    v128.store(y + at(n), sums);
  }
  for (; n < N; n++) store<f32>(y + at(n), dot(x, w + at(n * K), K));
}
