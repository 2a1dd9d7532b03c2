/**
 * Fitting SEE factors to an embedding matrix (SEE.md §5, stage 1): minimise over tokens
 *
 *   w_t · ( ||e(t) − E[t]||² / d  +  λ · (1 − cos(e(t), E[t])) )
 *
 * with Adam on mini-batches. Gradients are closed-form: for a rank term v_1 ⊗ ... ⊗ v_n and the
 * gradient G of the loss with respect to the (uncut) product, dL/dv_j[i] contracts G with every
 * other slot's vector; rows of a table used by several slots or bags get every contribution.
 * The norm (if any) is not fitted here: factorize writes norm "none".
 */
import { normal, rng, shuffle } from "../random.js";
import { productWidth, slotVector, type SeeFactors } from "./factors.js";

export interface FitOptions {
  epochs: number;
  learningRate: number;
  batch: number;
  seed: number;
  /** λ, the weight of the direction term. */
  direction: number;
  /** Per-token weights (e.g. corpus frequency), mean 1; uniform when absent. */
  tokenWeights?: Float32Array;
  /** Called after each epoch with the epoch's mean loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export const DEFAULT_FIT: Omit<FitOptions, "seed"> = { epochs: 300, learningRate: 0.02, batch: 256, direction: 1 };

/** Random tables scaled so that e(t) starts at about E's scale. */
export function initialiseTables(f: SeeFactors, target: Float32Array, seed: number): void {
  const rms = Math.sqrt(target.reduce((s, x) => s + x * x, 0) / target.length) || 1;
  const n = f.spec.slots.length;
  const sigma = Math.pow(rms / Math.sqrt(f.spec.rank), 1 / n);
  const draw = normal(rng(seed));
  for (const name of Object.keys(f.spec.sources).sort()) f.tables[name] = Float32Array.from(f.tables[name], () => draw() * sigma);
}

/** Fits f.tables in place; returns the loss curve (one mean loss per epoch). */
export function fitFactors(f: SeeFactors, target: Float32Array, opts: FitOptions): number[] {
  const { vocab, dim, rank, slots } = f.spec;
  const n = slots.length;
  const width = productWidth(f.spec);
  const q = slots.map((s) => f.spec.sources[s.source].q);
  const sources = Object.keys(f.spec.sources).sort();
  const grads = Object.fromEntries(sources.map((s) => [s, new Float32Array(f.tables[s].length)]));
  const adam = Object.fromEntries(sources.map((s) => [s, { m: new Float32Array(f.tables[s].length), v: new Float32Array(f.tables[s].length) }]));
  const uniform = rng(opts.seed ^ 0x5eed);
  const order = Int32Array.from({ length: vocab }, (_, i) => i);
  const weight = (t: number) => opts.tokenWeights?.[t] ?? 1;

  // Scratch, reused across tokens.
  // Each rank term's slot vectors, kept from the forward pass for the backward one.
  const vecs: Float32Array[][] = Array.from({ length: rank }, () => new Array<Float32Array>(n));
  const prefix = Array.from({ length: n + 1 }, (_, j) => new Float64Array(q.slice(0, j).reduce((a, b) => a * b, 1)));
  const suffix = Array.from({ length: n + 1 }, (_, j) => new Float64Array(q.slice(j).reduce((a, b) => a * b, 1)));
  const e = new Float64Array(dim);
  const g = new Float64Array(width);
  const dv = q.map((w) => new Float64Array(w));
  const curve: number[] = [];
  let step = 0;

  // A single-index slot's vector is a view of its table row; a bag's is summed into scratch.
  const bagScratch = Array.from({ length: rank }, () => q.map((w) => new Float32Array(w)));
  const vectorOf = (j: number, k: number, t: number): Float32Array => {
    const s = f.slots[j];
    if (!("index" in s)) return slotVector(f, j, k, t, bagScratch[k][j]);
    const src = f.spec.sources[slots[j].source];
    const row = k * src.rows * src.q + s.index[t] * src.q;
    return f.tables[slots[j].source].subarray(row, row + src.q);
  };
  const kron = (a: Float64Array, v: Float32Array, out: Float64Array) => {
    for (let i = 0; i < a.length; i++) for (let j = 0; j < v.length; j++) out[i * v.length + j] = a[i] * v[j];
  };

  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    shuffle(order, uniform);
    const lr = opts.learningRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / opts.epochs)));
    let epochLoss = 0;
    for (let start = 0; start < vocab; start += opts.batch) {
      const end = Math.min(vocab, start + opts.batch);
      let batchWeight = 0;
      for (let b = start; b < end; b++) batchWeight += weight(order[b]);
      for (const s of sources) grads[s].fill(0);

      for (let b = start; b < end; b++) {
        const t = order[b];
        const wt = weight(t) / batchWeight;
        // Forward: each rank term's product, summed and cut to dim.
        e.fill(0);
        for (let k = 0; k < rank; k++) {
          prefix[0][0] = 1;
          for (let j = 0; j < n; j++) kron(prefix[j], (vecs[k][j] = vectorOf(j, k, t)), prefix[j + 1]);
          for (let i = 0; i < dim; i++) e[i] += prefix[n][i];
        }
        // Loss and its gradient with respect to e.
        let sq = 0, dot = 0, ee = 0, tt = 0;
        for (let i = 0; i < dim; i++) {
          const x = e[i], y = target[t * dim + i];
          sq += (x - y) ** 2;
          dot += x * y;
          ee += x * x;
          tt += y * y;
        }
        const ne = Math.sqrt(ee) || 1e-12, nt = Math.sqrt(tt) || 1e-12;
        const cos = dot / (ne * nt);
        epochLoss += weight(t) * (sq / dim + opts.direction * (1 - cos));
        g.fill(0);
        for (let i = 0; i < dim; i++) {
          const x = e[i], y = target[t * dim + i];
          g[i] = wt * ((2 * (x - y)) / dim - opts.direction * (y / (ne * nt) - (cos * x) / (ee || 1e-24)));
        }
        // Backward through each rank term's Kronecker product into the slot vectors, then the tables.
        for (let k = 0; k < rank; k++) {
          const v = vecs[k];
          suffix[n][0] = 1;
          for (let j = n - 1; j >= 0; j--) {
            const s = suffix[j], next = suffix[j + 1], vj = v[j];
            for (let i = 0; i < vj.length; i++) for (let c = 0; c < next.length; c++) s[i * next.length + c] = vj[i] * next[c];
          }
          prefix[0][0] = 1;
          for (let j = 0; j < n; j++) {
            const P = prefix[j], S = suffix[j + 1], out = dv[j];
            out.fill(0);
            for (let a = 0; a < P.length; a++) {
              if (P[a] === 0) continue;
              for (let i = 0; i < q[j]; i++) {
                const base = (a * q[j] + i) * S.length;
                let acc = 0;
                for (let c = 0; c < S.length; c++) acc += g[base + c] * S[c];
                out[i] += acc * P[a];
              }
            }
            scatter(f, grads, j, k, t, out);
            kron(P, v[j], prefix[j + 1]);
          }
        }
      }
      step++;
      for (const s of sources) adamStep(f.tables[s], grads[s], adam[s], lr, step);
    }
    const mean = epochLoss / (opts.tokenWeights ? opts.tokenWeights.reduce((a, b) => a + b, 0) : vocab);
    curve.push(mean);
    opts.onEpoch?.(epoch, mean);
  }
  return curve;
}

/** Adds a slot vector's gradient into the rows of its source's table that built it. */
function scatter(f: SeeFactors, grads: Record<string, Float32Array>, slot: number, k: number, t: number, dv: Float64Array): void {
  const spec = f.spec.slots[slot];
  const src = f.spec.sources[spec.source];
  const grad = grads[spec.source];
  const base = k * src.rows * src.q;
  const s = f.slots[slot];
  if ("index" in s) return addRow(grad, base + s.index[t] * src.q, 1, dv, src.q);
  const { offsets, ids, weights } = s.bag;
  if (offsets[t] === offsets[t + 1]) return addRow(grad, base + (src.null ?? 0) * src.q, 1, dv, src.q);
  for (let m = offsets[t]; m < offsets[t + 1]; m++) addRow(grad, base + ids[m] * src.q, weights[m], dv, src.q);
}

function addRow(grad: Float32Array, at: number, w: number, dv: Float64Array, q: number): void {
  for (let i = 0; i < q; i++) grad[at + i] += w * dv[i];
}

function adamStep(p: Float32Array, g: Float32Array, s: { m: Float32Array; v: Float32Array }, lr: number, step: number): void {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const c1 = 1 - b1 ** step, c2 = 1 - b2 ** step;
  for (let i = 0; i < p.length; i++) {
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= (lr * (s.m[i] / c1)) / (Math.sqrt(s.v[i] / c2) + eps);
  }
}
