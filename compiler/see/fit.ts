/**
 * Fitting SEE factors to an embedding matrix (SEE.md §5, stage 1): minimise over tokens
 *
 *   w_t · ( ||e(t) − E[t]||² / d  +  λ · (1 − cos(e(t), E[t])) )
 *
 * with Adam on mini-batches, the gradients into the tables by RowBackprop (backprop.ts).
 * The norm (if any) is not fitted here: factorize writes norm "none".
 */
import { normal, rng, shuffle } from "../util/random.js";
import { Adam } from "./adam.js";
import { RowBackprop, zeroGradients } from "./backprop.js";
import type { SeeFactors } from "../factors/factors.js";

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
  const { vocab, dim } = f.spec;
  const grads = zeroGradients(f);
  const adam = new Adam();
  const rows = new RowBackprop(f);
  const uniform = rng(opts.seed ^ 0x5eed);
  const order = Int32Array.from({ length: vocab }, (_, i) => i);
  const weight = (t: number) => opts.tokenWeights?.[t] ?? 1;
  const g = rows.productGradient;
  const curve: number[] = [];

  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    shuffle(order, uniform);
    const lr = opts.learningRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / opts.epochs)));
    let epochLoss = 0;
    for (let start = 0; start < vocab; start += opts.batch) {
      const end = Math.min(vocab, start + opts.batch);
      let batchWeight = 0;
      for (let b = start; b < end; b++) batchWeight += weight(order[b]);
      for (const s of Object.values(grads)) s.fill(0);

      for (let b = start; b < end; b++) {
        const t = order[b];
        const wt = weight(t) / batchWeight;
        // Forward: each rank term's product, summed and cut to dim.
        const e = rows.forward(t);
        // Loss and its gradient with respect to e.
        let sq = 0,
          dot = 0,
          ee = 0,
          tt = 0;
        for (let i = 0; i < dim; i++) {
          const x = e[i],
            y = target[t * dim + i];
          sq += (x - y) ** 2;
          dot += x * y;
          ee += x * x;
          tt += y * y;
        }
        const ne = Math.sqrt(ee) || 1e-12,
          nt = Math.sqrt(tt) || 1e-12;
        const cos = dot / (ne * nt);
        epochLoss += weight(t) * (sq / dim + opts.direction * (1 - cos));
        g.fill(0);
        for (let i = 0; i < dim; i++) {
          const x = e[i],
            y = target[t * dim + i];
          g[i] = wt * ((2 * (x - y)) / dim - opts.direction * (y / (ne * nt) - (cos * x) / (ee || 1e-24)));
        }
        // Backward through each rank term's Kronecker product into the slot vectors, then the tables.
        rows.backwardProduct(t, grads);
      }
      adam.update(f.tables, grads, lr);
    }
    const mean = epochLoss / (opts.tokenWeights ? opts.tokenWeights.reduce((a, b) => a + b, 0) : vocab);
    curve.push(mean);
    opts.onEpoch?.(epoch, mean);
  }
  return curve;
}
