/** How close a rebuilt embedding is to the original (SEE.md §6, intrinsic). */
import { rng, shuffle } from "../util/random.js";

export interface Fidelity {
  /** ||Ê − E||_F / ||E||_F */
  relativeError: number;
  /** Mean over tokens of cos(ê(t), e(t)). */
  meanCosine: number;
  /** Mean overlap of the 10 nearest neighbours (cosine) of a token in Ê and in E (over a seeded sample of 500 tokens). */
  neighbourOverlap10: number;
}

export function fidelity(approx: Float32Array, E: Float32Array, vocab: number, dim: number, sample = 500, seed = 0): Fidelity {
  let num = 0,
    den = 0,
    cosSum = 0;
  for (let t = 0; t < vocab; t++) {
    let dot = 0,
      aa = 0,
      ee = 0;
    for (let i = 0; i < dim; i++) {
      const a = approx[t * dim + i],
        e = E[t * dim + i];
      num += (a - e) ** 2;
      den += e * e;
      dot += a * e;
      aa += a * a;
      ee += e * e;
    }
    cosSum += aa > 0 && ee > 0 ? dot / Math.sqrt(aa * ee) : 0;
  }
  const tokens = Int32Array.from({ length: vocab }, (_, i) => i);
  shuffle(tokens, rng(seed));
  const probe = tokens.subarray(0, Math.min(sample, vocab));
  const na = norms(approx, vocab, dim),
    ne = norms(E, vocab, dim);
  let overlap = 0;
  for (const t of probe) {
    const a = new Set(nearest(approx, na, t, vocab, dim, 10));
    overlap += nearest(E, ne, t, vocab, dim, 10).filter((x) => a.has(x)).length / 10;
  }
  return { relativeError: Math.sqrt(num / den), meanCosine: cosSum / vocab, neighbourOverlap10: overlap / probe.length };
}

function norms(m: Float32Array, vocab: number, dim: number): Float64Array {
  return Float64Array.from({ length: vocab }, (_, t) => {
    let s = 0;
    for (let i = 0; i < dim; i++) s += m[t * dim + i] ** 2;
    return Math.sqrt(s) || 1e-30;
  });
}

/** The k rows most cosine-similar to row t (ties to the lower id), by insertion into a sorted top-k. */
function nearest(m: Float32Array, n: Float64Array, t: number, vocab: number, dim: number, k: number): number[] {
  const score = new Float64Array(k).fill(-Infinity),
    id = new Int32Array(k).fill(-1);
  const row = m.subarray(t * dim, (t + 1) * dim);
  for (let u = 0; u < vocab; u++) {
    if (u === t) continue;
    let dot = 0;
    for (let i = 0, o = u * dim; i < dim; i++) dot += row[i] * m[o + i];
    const c = dot / (n[t] * n[u]);
    if (c <= score[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && score[j - 1] < c) {
      score[j] = score[j - 1];
      id[j] = id[j - 1];
      j--;
    }
    score[j] = c;
    id[j] = u;
  }
  return Array.from(id).filter((u) => u >= 0);
}
