import { at, sumSquares, weightedScale } from "./simd";

/** y[t] = w · x[t] / sqrt(mean(x[t]²) + eps), over rows of D features. */
export function rmsnorm(x: usize, w: usize, y: usize, T: i32, D: i32, eps: f32): void {
  for (let t = 0; t < T; t++) {
    const xr = x + at(t * D);
    const scale: f32 = 1.0 / Mathf.sqrt(sumSquares(xr, D) / <f32>D + eps);
    weightedScale(w, xr, scale, y + at(t * D), D);
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
