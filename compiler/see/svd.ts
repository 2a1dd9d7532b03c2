/**
 * The truncated-SVD baseline, exactly: E ≈ (E·V_k)·V_kᵀ with V_k the top-k eigenvectors of
 * EᵀE (cyclic Jacobi). Written into the `svd` layout: tables.token[k, t, 0] = (E·V_k)[t, k],
 * tables.basis[k, 0, :] = V_k[:, k].
 */
import type { SeeFactors } from "../factors/factors.js";

export function fitSvd(f: SeeFactors, E: Float32Array): void {
  const { vocab: V, dim: d, rank: k } = f.spec;
  const A = new Float64Array(d * d);
  for (let t = 0; t < V; t++)
    for (let i = 0; i < d; i++) {
      const x = E[t * d + i];
      if (x !== 0) for (let j = 0; j < d; j++) A[i * d + j] += x * E[t * d + j];
    }
  const { values, vectors } = jacobiEigen(A, d);
  const order = [...values.keys()].sort((a, b) => values[b] - values[a]).slice(0, k);
  const token = f.tables.token,
    basis = f.tables.basis;
  order.forEach((col, r) => {
    for (let i = 0; i < d; i++) basis[r * d + i] = vectors[i * d + col];
    for (let t = 0; t < V; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += E[t * d + i] * vectors[i * d + col];
      token[r * V + t] = s;
    }
  });
}

/** Eigen-decomposition of a symmetric n×n matrix: eigenvalues and eigenvectors (as columns). */
export function jacobiEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-22 * (1 + a.reduce((s, x) => s + x * x, 0))) break;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let i = 0; i < n; i++) {
          const aip = a[i * n + p],
            aiq = a[i * n + q];
          a[i * n + p] = c * aip - s * aiq;
          a[i * n + q] = s * aip + c * aiq;
        }
        for (let i = 0; i < n; i++) {
          const api = a[p * n + i],
            aqi = a[q * n + i];
          a[p * n + i] = c * api - s * aqi;
          a[q * n + i] = s * api + c * aqi;
        }
        for (let i = 0; i < n; i++) {
          const vip = v[i * n + p],
            viq = v[i * n + q];
          v[i * n + p] = c * vip - s * viq;
          v[i * n + q] = s * vip + c * viq;
        }
      }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]), vectors: v };
}
