/**
 * SEE factors in memory, and the entangled embedding they define (docs: shared/docs/SEE.md §1):
 *
 *   e(t) = N( cut_d( sum_k  v[k,1](t) ⊗ v[k,2](t) ⊗ ... ⊗ v[k,n](t) ) )
 *
 * where slot j's vector is a weighted bag of rows of its source's table for rank term k.
 */
import { SeecError } from "../../runtime/errors.js";

export interface SourceSpec {
  rows: number;
  q: number;
  /** Row used by an empty bag (default 0). */
  null?: number;
}

export interface SlotSpec {
  source: string;
  /** A bag slot: several rows per token, combined by their weights ("mean": 1/count when the file has no weights). */
  bag?: "mean" | "sum";
  /**
   * An index slot whose row differs per rank term: its index is [rank, vocab] (product quantization:
   * each term's codeword for the token, placed in the term's block by the slot before it).
   */
  perTerm?: boolean;
}

export interface SeeSpec {
  /** "see/2": the file also carries model weights that replace the model's own (`weights`). */
  format: "see/1" | "see/2";
  vocab: number;
  dim: number;
  rank: number;
  sources: Record<string, SourceSpec>;
  slots: SlotSpec[];
  norm: "layernorm" | "none";
  /** Name of the embedding tensor in the graph that these factors replace. */
  replaces: string;
  knowledge?: Record<string, string>;
  /** How the factors were made, for reports: see, morphte, word2ketxs, svd... */
  method?: string;
  /**
   * see/2: model weights trained with the factors (seec distill --train norms), by tensor name,
   * with their shapes; each ships as the f32 tensor `model.<name>` and replaces the model's own.
   */
  weights?: Record<string, number[]>;
  /**
   * see/2: low-rank adapters (LoRA) on model weights, by weight name: the built model reads
   * W + A·B, A [N, rank] and B [rank, K] for the weight's [N, K].
   */
  adapters?: Record<string, { rank: number; shape: number[] }>;
}

/** One token's bag: CSR rows and weights (weights always present in memory). */
export interface Bag {
  offsets: Int32Array; // [vocab + 1]
  ids: Int32Array; // [nnz]
  weights: Float32Array; // [nnz]
}

export interface SeeFactors {
  spec: SeeSpec;
  /** Per source: [rank, rows, q]. */
  tables: Record<string, Float32Array>;
  /** Per slot: a single row index per token ([rank, vocab] for a perTerm slot), or a bag. */
  slots: ({ index: Int32Array } | { bag: Bag })[];
  norm?: { weight: Float32Array; bias: Float32Array; epsilon: number };
  /** see/2: the model weights the file replaces (spec.weights gives their shapes). */
  weights?: Record<string, Float32Array>;
  /** see/2: each adapter's A [N, rank] and B [rank, K] (spec.adapters gives their shapes). */
  adapters?: Record<string, { a: Float32Array; b: Float32Array }>;
}

export const LAYERNORM_EPSILON = 1e-5;

/** W + A·B for W [N, K], A [N, r], B [r, K], into out (a new array by default): a weight with its low-rank adapter. */
export function withAdapter(
  w: Float32Array,
  a: Float32Array,
  b: Float32Array,
  N: number,
  r: number,
  K: number,
  out: Float32Array = new Float32Array(N * K),
): Float32Array {
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      let s = w[n * K + k];
      for (let j = 0; j < r; j++) s += a[n * r + j] * b[j * K + k];
      out[n * K + k] = s;
    }
  return out;
}

/** Width of the full Kronecker product, before cutting to dim. */
export function productWidth(spec: SeeSpec): number {
  return spec.slots.reduce((p, s) => p * spec.sources[s.source].q, 1);
}

/** Parameters shipped: sum over sources of rank · rows · q, the norm's 2·dim, and any model weights and adapters (see/2). */
export function parameterCount(spec: SeeSpec): number {
  const tables = Object.values(spec.sources).reduce((n, s) => n + spec.rank * s.rows * s.q, 0);
  const weights = Object.values(spec.weights ?? {}).reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
  const adapters = Object.values(spec.adapters ?? {}).reduce((n, { rank, shape }) => n + rank * (shape[0] + shape[1]), 0);
  return tables + (spec.norm === "layernorm" ? 2 * spec.dim : 0) + weights + adapters;
}

/** Bytes per entry of an index into a source of `rows` rows, as it ships: the narrowest that holds every row. */
export function indexBytes(rows: number): 1 | 2 | 4 {
  return rows <= 1 << 8 ? 1 : rows <= 1 << 16 ? 2 : 4;
}

/** An index's entries in `bytes`-wide integers (u8, u16 or i32), as it ships. */
export function narrowIndex(index: Int32Array, bytes: 1 | 2 | 4): Uint8Array | Uint16Array | Int32Array {
  return bytes === 1 ? Uint8Array.from(index) : bytes === 2 ? Uint16Array.from(index) : index;
}

/** Bytes shipped: tables and norm as f32, indices as the narrowest integers that hold them, bags as i32 (weights f32). */
export function shippedBytes(f: SeeFactors): number {
  let bytes = 4 * parameterCount(f.spec);
  f.slots.forEach((s, j) => {
    bytes +=
      "index" in s
        ? s.index.length * indexBytes(f.spec.sources[f.spec.slots[j].source].rows)
        : s.bag.offsets.byteLength + s.bag.ids.byteLength + s.bag.weights.byteLength;
  });
  return bytes;
}

/** The row of slot j's source that token t reads in rank term k (an index slot). */
export function indexOf(f: SeeFactors, j: number, k: number, t: number): number {
  const s = f.slots[j] as { index: Int32Array };
  return s.index[f.spec.slots[j].perTerm ? k * f.spec.vocab + t : t];
}

/** The vector of one slot for token t and rank term k, into out (length q). */
export function slotVector(f: SeeFactors, slot: number, k: number, t: number, out: Float32Array): Float32Array {
  const spec = f.spec.slots[slot];
  const src = f.spec.sources[spec.source];
  const table = f.tables[spec.source];
  const base = k * src.rows * src.q;
  const s = f.slots[slot];
  out.fill(0);
  if ("index" in s) {
    const row = base + indexOf(f, slot, k, t) * src.q;
    out.set(table.subarray(row, row + src.q));
    return out;
  }
  const { offsets, ids, weights } = s.bag;
  if (offsets[t] === offsets[t + 1]) {
    out.set(table.subarray(base + (src.null ?? 0) * src.q, base + ((src.null ?? 0) + 1) * src.q));
    return out;
  }
  for (let m = offsets[t]; m < offsets[t + 1]; m++) {
    const row = base + ids[m] * src.q;
    for (let i = 0; i < src.q; i++) out[i] += weights[m] * table[row + i];
  }
  return out;
}

/** The sum over rank terms of the Kronecker products, uncut (length productWidth). */
export function entangledProduct(f: SeeFactors, t: number): Float64Array {
  const width = productWidth(f.spec);
  const acc = new Float64Array(width);
  const vecs = f.spec.slots.map((s) => new Float32Array(f.spec.sources[s.source].q));
  for (let k = 0; k < f.spec.rank; k++) {
    let prod = new Float64Array([1]);
    f.spec.slots.forEach((_, j) => {
      const v = slotVector(f, j, k, t, vecs[j]);
      const next = new Float64Array(prod.length * v.length);
      for (let a = 0; a < prod.length; a++) for (let b = 0; b < v.length; b++) next[a * v.length + b] = prod[a] * v[b];
      prod = next;
    });
    for (let i = 0; i < width; i++) acc[i] += prod[i];
  }
  return acc;
}

/** e(t): the reference definition, cut to dim and normalized. */
export function embeddingRow(f: SeeFactors, t: number): Float32Array {
  const full = entangledProduct(f, t);
  const d = f.spec.dim;
  const row = new Float32Array(d);
  if (!f.norm) {
    for (let i = 0; i < d; i++) row[i] = full[i];
    return row;
  }
  let mean = 0;
  for (let i = 0; i < d; i++) mean += full[i];
  mean /= d;
  let variance = 0;
  for (let i = 0; i < d; i++) variance += (full[i] - mean) ** 2;
  const inv = 1 / Math.sqrt(variance / d + f.norm.epsilon);
  for (let i = 0; i < d; i++) row[i] = (full[i] - mean) * inv * f.norm.weight[i] + f.norm.bias[i];
  return row;
}

/** The dense table the factors stand for (for evaluation; never shipped). */
export function denseTable(f: SeeFactors): Float32Array {
  const { vocab, dim } = f.spec;
  const out = new Float32Array(vocab * dim);
  for (let t = 0; t < vocab; t++) out.set(embeddingRow(f, t), t * dim);
  return out;
}

/** Checks the spec's own consistency; the file reader checks tensors against it. */
export function checkSpec(spec: SeeSpec, file?: string): void {
  const bad = (msg: string): never => {
    throw new SeecError("input.see", msg, { file, at: "metadata.see" });
  };
  const isObject = (x: unknown): x is object => typeof x === "object" && x !== null && !Array.isArray(x);
  if (!isObject(spec)) bad(`the metadata must be an object, got ${JSON.stringify(spec)}`);
  if (spec.format !== "see/1" && spec.format !== "see/2") bad(`format must be "see/1" or "see/2", got ${JSON.stringify(spec.format)}`);
  if (spec.weights !== undefined) {
    if (spec.format !== "see/2") bad("model weights (weights) need format see/2");
    if (typeof spec.weights !== "object" || spec.weights === null) bad("weights must map tensor names to shapes");
    for (const [name, shape] of Object.entries(spec.weights ?? {}))
      if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d < 1 || d > 1 << 24))
        bad(`weights.${name}: a shape of 1 to 4 positive integers, got ${JSON.stringify(shape)}`);
  }
  if (spec.adapters !== undefined) {
    if (spec.format !== "see/2") bad("adapters need format see/2");
    if (typeof spec.adapters !== "object" || spec.adapters === null) bad("adapters must map weight names to { rank, shape }");
    const dim = (d: unknown) => Number.isInteger(d) && (d as number) >= 1 && (d as number) <= 1 << 24;
    for (const [name, a] of Object.entries(spec.adapters))
      if (typeof a !== "object" || a === null || !dim(a.rank) || !Array.isArray(a.shape) || a.shape.length !== 2 || !a.shape.every(dim))
        bad(`adapters.${name}: { rank, shape: [N, K] } of positive integers, got ${JSON.stringify(a)}`);
  }
  for (const k of ["vocab", "dim", "rank"] as const)
    if (!Number.isInteger(spec[k]) || spec[k] < 1 || spec[k] > 1 << 24) bad(`${k} must be a positive integer, got ${spec[k]}`);
  if (!isObject(spec.sources)) bad("sources is missing");
  for (const [name, s] of Object.entries(spec.sources)) {
    if (!isObject(s)) bad(`source ${name} must be { rows, q }, got ${JSON.stringify(s)}`);
    if (!Number.isInteger(s.rows) || s.rows < 1 || s.rows > 1 << 24) bad(`source ${name}: rows must be a positive integer`);
    if (!Number.isInteger(s.q) || s.q < 1 || s.q > 1 << 16) bad(`source ${name}: q must be a positive integer`);
    if (s.null !== undefined && (!Number.isInteger(s.null) || s.null < 0 || s.null >= s.rows))
      bad(`source ${name}: null row ${s.null} is not a row`);
  }
  if (!Array.isArray(spec.slots) || spec.slots.length < 1 || spec.slots.length > 16) bad("slots must list 1 to 16 slots");
  spec.slots.forEach((s, j) => {
    if (!isObject(s)) bad(`slot ${j} must be { source }, got ${JSON.stringify(s)}`);
    if (typeof s.source !== "string" || !Object.hasOwn(spec.sources, s.source))
      bad(`slot ${j} names unknown source ${JSON.stringify(s.source)}`);
    if (s.bag !== undefined && s.bag !== "mean" && s.bag !== "sum") bad(`slot ${j}: bag must be "mean" or "sum"`);
    if (s.perTerm !== undefined && s.perTerm !== true) bad(`slot ${j}: perTerm must be true or absent`);
    if (s.perTerm && s.bag !== undefined) bad(`slot ${j}: a bag slot cannot be perTerm`);
  });
  const width = productWidth(spec);
  if (width < spec.dim) bad(`the slots' widths multiply to ${width}, less than dim ${spec.dim}`);
  if (width > 1 << 20) bad(`the slots' widths multiply to ${width}: too wide`);
  if (spec.norm !== "layernorm" && spec.norm !== "none") bad(`norm must be "layernorm" or "none"`);
  if (typeof spec.replaces !== "string" || !spec.replaces) bad("replaces must name the embedding tensor");
}
