import { finishRows, NONE } from "./epilogue";
import { at } from "./simd";

/**
 * y[t, n] = act(sum_k x[t, k] · wt[k, n] + b[n]) + r[t, n] with the weights stored transposed,
 * wt: [K, N] (kernels/linear-kn.ts). Scalar: the builds of scalar targets keep weights [N, K]
 * (passes/weight-layout.ts), so this is the layout's reference more than a hot path.
 */
export function linearKN(x: usize, wt: usize, b: usize, y: usize, T: i32, K: i32, N: i32, r: usize = 0, act: i32 = NONE): void {
  for (let t = 0; t < T; t++) {
    const row = y + at(t * N);
    memory.fill(row, 0, at(N));
    for (let k = 0; k < K; k++) {
      const v = load<f32>(x + at(t * K + k)), w = wt + at(k * N);
      for (let n = 0; n < N; n++) store<f32>(row + at(n), load<f32>(row + at(n)) + v * load<f32>(w + at(n)));
    }
  }
  finishRows(y, b, r, act, T, N);
}
