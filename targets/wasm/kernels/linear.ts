import { at, dot, hsum } from "./simd";

/**
 * y[t, n] = sum_k x[t, k] · w[n, k] + b[n]   (x: [T, K], w: [N, K] row-major, y: [T, N]; b = 0: no bias).
 * Four weight rows at a time share each load of x; remainders in K and N run scalar.
 */
export function linear(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  const K4 = K & ~3;
  for (let t = 0; t < T; t++) {
    const xr = x + at(t * K);
    const yr = y + at(t * N);
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const w0 = w + at(n * K), w1 = w0 + at(K), w2 = w1 + at(K), w3 = w2 + at(K);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const xv = v128.load(xr + at(k));
        a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(w0 + at(k))));
        a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(w1 + at(k))));
        a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(w2 + at(k))));
        a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(w3 + at(k))));
      }
      let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
      for (let k = K4; k < K; k++) {
        const xv = load<f32>(xr + at(k));
        s0 += xv * load<f32>(w0 + at(k));
        s1 += xv * load<f32>(w1 + at(k));
        s2 += xv * load<f32>(w2 + at(k));
        s3 += xv * load<f32>(w3 + at(k));
      }
      v128.store(yr + at(n), f32x4(s0, s1, s2, s3));
    }
    for (; n < N; n++) store<f32>(yr + at(n), dot(xr, w + at(n * K), K));
    if (b) {
      let i = 0;
      for (; i + 4 <= N; i += 4) v128.store(yr + at(i), f32x4.add(v128.load(yr + at(i)), v128.load(b + at(i))));
      for (; i < N; i++) store<f32>(yr + at(i), load<f32>(yr + at(i)) + load<f32>(b + at(i)));
    }
  }
}
