// Kernels for the general tensor ops (compiler/ir/ops/tensor.ts) that are worth a library
// function: batched matrix products, softmax over rows, and erf. The maps and copies are
// generated per node with their shapes written in (targets/wasm/tensor-ops.ts).
import { expf } from "./math";
import { at, axpy, scaleBy } from "./simd";

/** y[M, N] = a[M, K] · b[K, N], one output row at a time as K rows of b scaled and summed. */
export function matmul(a: usize, b: usize, y: usize, M: i32, K: i32, N: i32): void {
  for (let i = 0; i < M; i++) {
    const row = y + at(i * N);
    memory.fill(row, 0, at(N));
    for (let k = 0; k < K; k++) axpy(row, b + at(k * N), load<f32>(a + at(i * K + k)), N);
  }
}

/** Softmax of each of `rows` rows of D: exp(x − max) / Σ. */
export function softmax(x: usize, y: usize, rows: i32, D: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + at(r * D), yr = y + at(r * D);
    let max = -Infinity as f32;
    for (let i = 0; i < D; i++) max = Mathf.max(max, load<f32>(xr + at(i)));
    let sum: f32 = 0;
    for (let i = 0; i < D; i++) {
      const e = expf(load<f32>(xr + at(i)) - max);
      store<f32>(yr + at(i), e);
      sum += e;
    }
    scaleBy(yr, <f32>1.0 / sum, D);
  }
}

/**
 * erf(x), from Abramowitz and Stegun 7.1.26 computed in doubles: absolute error below 1.5e-7,
 * about two float32 steps near ±1.
 */
export function erff(x: f32): f32 {
  const a = Math.abs(<f64>x);
  const t = 1.0 / (1.0 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const y = 1.0 - poly * Math.exp(-a * a);
  return <f32>(x < 0 ? -y : y);
}

/** The nearest bfloat16 (ties to even), held in f32: the low 16 bits rounded away; NaN stays NaN. */
export function toBfloat16(x: f32): f32 {
  if (x != x) return x;
  const b = reinterpret<u32>(x);
  return reinterpret<f32>((b + 0x7fff + ((b >> 16) & 1)) & 0xffff0000);
}
