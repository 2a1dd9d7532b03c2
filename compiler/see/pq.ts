/**
 * The product-quantization baseline (Jégou et al., 2011; for embeddings, Chen et al., 2020's DPQ
 * without its training): each token's row cut into M blocks of dim/M, each block replaced by the
 * nearest of K codewords that k-means finds among the vocabulary's blocks. Written into the `pq`
 * layout (decompose.ts): tables.block[m, 0, :] = one-hot m, tables.code[m, c, :] = codeword c of
 * block m, index.1[m, t] = token t's code in block m.
 */
import type { SeeFactors } from "../factors/factors.js";
import { rng } from "../util/random.js";

/** Lloyd's iterations per block: past about 20 the codes barely move. */
const ITERATIONS = 25;

export function fitProductQuantizer(f: SeeFactors, E: Float32Array, seed: number): void {
  const { vocab: V, dim: D, rank: M } = f.spec;
  const { rows: K, q: w } = f.spec.sources.code;
  const codes = (f.slots[1] as { index: Int32Array }).index;
  f.tables.block.fill(0);
  for (let m = 0; m < M; m++) f.tables.block[m * M + m] = 1;
  const points = new Float32Array(V * w);
  for (let m = 0; m < M; m++) {
    points.fill(0);
    for (let t = 0; t < V; t++) for (let i = 0; i < w && m * w + i < D; i++) points[t * w + i] = E[t * D + m * w + i];
    const { centroids, assignment } = kMeans(points, V, w, K, rng(seed * 7919 + m));
    f.tables.code.set(centroids, m * K * w);
    codes.set(assignment, m * V);
  }
}

/** Lloyd's k-means of n points of width w into k centroids, seeded with k distinct points (k-means++ would cost k passes). */
export function kMeans(points: Float32Array, n: number, w: number, k: number, random: () => number) {
  const centroids = new Float32Array(k * w),
    assignment = new Int32Array(n);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (let c = 0; c < k; c++) centroids.set(points.subarray(order[c] * w, order[c] * w + w), c * w);
  const sums = new Float64Array(k * w),
    counts = new Int32Array(k);
  const assign = () => {
    for (let p = 0; p < n; p++) {
      let best = 0,
        nearest = Infinity;
      for (let c = 0; c < k; c++) {
        let d = 0;
        for (let i = 0; i < w; i++) d += (points[p * w + i] - centroids[c * w + i]) ** 2;
        if (d < nearest) [nearest, best] = [d, c];
      }
      assignment[p] = best;
    }
  };
  for (let it = 0; it < ITERATIONS; it++) {
    assign();
    sums.fill(0);
    counts.fill(0);
    for (let p = 0; p < n; p++) {
      const c = assignment[p];
      counts[c]++;
      for (let i = 0; i < w; i++) sums[c * w + i] += points[p * w + i];
    }
    for (let c = 0; c < k; c++) {
      // An empty cluster takes a random point: every codeword stays in use.
      const p = Math.floor(random() * n);
      if (counts[c] === 0) centroids.set(points.subarray(p * w, p * w + w), c * w);
      else for (let i = 0; i < w; i++) centroids[c * w + i] = sums[c * w + i] / counts[c];
    }
  }
  assign();
  return { centroids, assignment };
}
