import { at, hsum } from "./simd";

/** y[t] = w · x[t] / sqrt(mean(x[t]²) + eps), over rows of D features. */
export function rmsnorm(x: usize, w: usize, y: usize, T: i32, D: i32, eps: f32): void {
  for (let t = 0; t < T; t++) {
    const xr = x + at(t * D), yr = y + at(t * D);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const v = v128.load(xr + at(i));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = hsum(acc);
    for (; i < D; i++) ss += load<f32>(xr + at(i)) * load<f32>(xr + at(i));
    const scale: f32 = 1.0 / Mathf.sqrt(ss / <f32>D + eps);
    const s = f32x4.splat(scale);
    i = 0;
    for (; i + 4 <= D; i += 4) v128.store(yr + at(i), f32x4.mul(v128.load(w + at(i)), f32x4.mul(s, v128.load(xr + at(i)))));
    for (; i < D; i++) store<f32>(yr + at(i), load<f32>(w + at(i)) * (scale * load<f32>(xr + at(i))));
  }
}
