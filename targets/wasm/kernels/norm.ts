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

/** y = (x − mean(x)) / sqrt(var(x) + eps) · w + b over each of T rows of D features. */
export function layerNorm(x: usize, w: usize, b: usize, y: usize, T: i32, D: i32, eps: f32): void {
  for (let t = 0; t < T; t++) {
    const xr = x + at(t * D), yr = y + at(t * D);
    let mean: f32 = 0;
    for (let i = 0; i < D; i++) mean += load<f32>(xr + at(i));
    mean /= <f32>D;
    let variance: f32 = 0;
    for (let i = 0; i < D; i++) {
      const d = load<f32>(xr + at(i)) - mean;
      variance += d * d;
    }
    const inv: f32 = <f32>1.0 / Mathf.sqrt(variance / <f32>D + eps);
    for (let i = 0; i < D; i++) store<f32>(yr + at(i), (load<f32>(xr + at(i)) - mean) * inv * load<f32>(w + at(i)) + load<f32>(b + at(i)));
  }
}

/** y = x / sqrt(max(sum(x²), eps)) for each of T rows of D features. */
export function l2normalize(x: usize, y: usize, T: i32, D: i32, eps: f32): void {
  for (let t = 0; t < T; t++) {
    const xr = x + at(t * D), yr = y + at(t * D);
    let ss: f32 = 0;
    for (let i = 0; i < D; i++) ss += load<f32>(xr + at(i)) * load<f32>(xr + at(i));
    const inv: f32 = <f32>1.0 / Mathf.sqrt(max(ss, eps));
    for (let i = 0; i < D; i++) store<f32>(yr + at(i), load<f32>(xr + at(i)) * inv);
  }
}
