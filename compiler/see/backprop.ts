/**
 * The entangled embedding's reverse mode: from the gradient of a loss with respect to e(t) to the
 * gradients of the factor tables (SEE.md §1). For a rank term v_1 ⊗ ... ⊗ v_n and the gradient G
 * of the loss with respect to the (uncut) product, dL/dv_j[i] contracts G with every other slot's
 * vector; a bag slot hands each of its rows its weight's share, and rows of a table that several
 * slots or bags use get every contribution. Both fitting (stage 1) and distillation (stage 2) use it.
 */
import { indexOf, productWidth, slotVector, type SeeFactors } from "../factors/factors.js";

/** Per source, a gradient laid out like its table ([rank, rows, q]). */
export type TableGradients = Record<string, Float32Array>;

export function zeroGradients(f: SeeFactors): TableGradients {
  return Object.fromEntries(
    Object.keys(f.spec.sources)
      .sort()
      .map((s) => [s, new Float32Array(f.tables[s].length)]),
  );
}

export class RowBackprop {
  private readonly n: number;
  private readonly q: number[];
  /** Each rank term's slot vectors for the token of the last forward(). */
  private readonly vecs: Float32Array[][];
  private readonly prefix: Float64Array[];
  private readonly suffix: Float64Array[];
  private readonly bagScratch: Float32Array[][];
  private readonly dv: Float64Array[];
  private readonly g: Float64Array;
  private readonly raw: Float64Array;
  private readonly normed: Float64Array;

  constructor(private readonly f: SeeFactors) {
    const { rank, slots } = f.spec;
    this.n = slots.length;
    this.q = slots.map((s) => f.spec.sources[s.source].q);
    const size = (qs: number[]) => qs.reduce((a, b) => a * b, 1);
    this.vecs = Array.from({ length: rank }, () => new Array<Float32Array>(this.n));
    this.prefix = Array.from({ length: this.n + 1 }, (_, j) => new Float64Array(size(this.q.slice(0, j))));
    this.suffix = Array.from({ length: this.n + 1 }, (_, j) => new Float64Array(size(this.q.slice(j))));
    this.bagScratch = Array.from({ length: rank }, () => this.q.map((w) => new Float32Array(w)));
    this.dv = this.q.map((w) => new Float64Array(w));
    this.g = new Float64Array(productWidth(f.spec));
    this.raw = new Float64Array(f.spec.dim);
    this.normed = new Float64Array(f.spec.dim);
  }

  /** The product cut to dim, before the norm (views of scratch, valid until the next call). */
  forward(t: number): Float64Array {
    const { f, n, prefix } = this;
    const e = this.raw.fill(0);
    for (let k = 0; k < f.spec.rank; k++) {
      prefix[0][0] = 1;
      for (let j = 0; j < n; j++) kron(prefix[j], (this.vecs[k][j] = this.vectorOf(j, k, t)), prefix[j + 1]);
      for (let i = 0; i < e.length; i++) e[i] += prefix[n][i];
    }
    return e;
  }

  /**
   * Adds into `grads` the gradient of the tables, given dL/de(t) for the row as the model reads it
   * (after the norm, if the factors have one). Runs its own forward pass for t.
   */
  accumulate(t: number, dRow: ArrayLike<number>, grads: TableGradients): void {
    const e = this.forward(t),
      d = e.length,
      g = this.g.fill(0);
    const norm = this.f.norm;
    if (!norm) {
      for (let i = 0; i < d; i++) g[i] = dRow[i];
    } else {
      // Through LayerNorm (its weight and bias stay fixed): dx = inv·(gw − mean(gw) − x̂·mean(gw·x̂)).
      let mean = 0,
        variance = 0;
      for (let i = 0; i < d; i++) mean += e[i];
      mean /= d;
      for (let i = 0; i < d; i++) variance += (e[i] - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / d + norm.epsilon);
      let gm = 0,
        gx = 0;
      for (let i = 0; i < d; i++) {
        this.normed[i] = (e[i] - mean) * inv;
        gm += dRow[i] * norm.weight[i];
        gx += dRow[i] * norm.weight[i] * this.normed[i];
      }
      for (let i = 0; i < d; i++) g[i] = inv * (dRow[i] * norm.weight[i] - gm / d - (this.normed[i] * gx) / d);
    }
    this.backwardProduct(t, grads);
  }

  /** From this.g, dL/d(uncut product) of the last forward's token t, into the tables. */
  backwardProduct(t: number, grads: TableGradients): void {
    const { f, n, q, prefix, suffix, g } = this;
    for (let k = 0; k < f.spec.rank; k++) {
      const v = this.vecs[k];
      suffix[n][0] = 1;
      for (let j = n - 1; j >= 0; j--) {
        const s = suffix[j],
          next = suffix[j + 1],
          vj = v[j];
        for (let i = 0; i < vj.length; i++) for (let c = 0; c < next.length; c++) s[i * next.length + c] = vj[i] * next[c];
      }
      prefix[0][0] = 1;
      for (let j = 0; j < n; j++) {
        const P = prefix[j],
          S = suffix[j + 1],
          out = this.dv[j];
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

  /** The gradient buffer backwardProduct reads: dL/d(uncut product), zero past dim. */
  get productGradient(): Float64Array {
    return this.g;
  }

  /** A single-index slot's vector is a view of its table row; a bag's is summed into scratch. */
  private vectorOf(j: number, k: number, t: number): Float32Array {
    const { f } = this;
    const s = f.slots[j];
    if (!("index" in s)) return slotVector(f, j, k, t, this.bagScratch[k][j]);
    const src = f.spec.sources[f.spec.slots[j].source];
    const row = k * src.rows * src.q + indexOf(f, j, k, t) * src.q;
    return f.tables[f.spec.slots[j].source].subarray(row, row + src.q);
  }
}

function kron(a: Float64Array, v: Float32Array, out: Float64Array): void {
  for (let i = 0; i < a.length; i++) for (let j = 0; j < v.length; j++) out[i * v.length + j] = a[i] * v[j];
}

/** Adds a slot vector's gradient into the rows of its source's table that built it. */
function scatter(f: SeeFactors, grads: TableGradients, slot: number, k: number, t: number, dv: Float64Array): void {
  const spec = f.spec.slots[slot];
  const src = f.spec.sources[spec.source];
  const grad = grads[spec.source];
  const base = k * src.rows * src.q;
  const s = f.slots[slot];
  if ("index" in s) return addRow(grad, base + indexOf(f, slot, k, t) * src.q, 1, dv, src.q);
  const { offsets, ids, weights } = s.bag;
  if (offsets[t] === offsets[t + 1]) return addRow(grad, base + (src.null ?? 0) * src.q, 1, dv, src.q);
  for (let m = offsets[t]; m < offsets[t + 1]; m++) addRow(grad, base + ids[m] * src.q, weights[m], dv, src.q);
}

function addRow(grad: Float32Array, at: number, w: number, dv: Float64Array, q: number): void {
  for (let i = 0; i < q; i++) grad[at + i] += w * dv[i];
}
