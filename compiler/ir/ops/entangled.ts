/**
 * The entangled embedding (SEE) as IR ops. All three take the factors as operands, in the
 * order `entangledOperands` gives, followed by a scratch state tensor the kernels work in:
 *
 * - EntangledEmbedding(ids [T], ...factors) -> [T, dim]: e(ids[t]) for each token;
 * - EntangledLogits(h [1, dim], ...factors) -> [1, vocab]: h · e(v) for every v, rebuilding rows
 *   on the fly (the tied head, "stream");
 * - EntangledTable(...factors) -> [vocab, dim]: every row once, at load (the tied head, "materialize").
 *
 * Reference semantics: compiler/factors/factors.ts.
 */
import { embeddingRow, indexBytes, narrowIndex, type SeeFactors } from "../../factors/factors.js";
import type { Attrs, ValueType } from "../graph.js";
import type { OpDef, Tensor } from "./op.js";
import { expectRank, f32, fail, i32, num, nums } from "./op.js";

/** Structure of the factors, as attributes (numbers only, so they print and compare plainly). */
export interface EntangledAttrs {
  vocab: number;
  dim: number;
  rank: number;
  /** Per source, in operand order. */
  rows: number[];
  q: number[];
  nullRow: number[];
  /** Per slot: its source's position, 1 for a bag, 1 for an index per rank term, and an index's bytes per entry (1, 2 or 4; 0 for a bag). */
  slotSource: number[];
  slotBag: number[];
  slotPerTerm: number[];
  slotIndexBytes: number[];
  norm: number;
  epsilon: number;
}

type Operand = { name: string; data: Float32Array | Int32Array | Int8Array; shape: number[] };

/**
 * The factor operands, in order: tables by source, then per slot its index or (offsets, ids, weights), then the norm.
 * An index into a source of at most 2^16 rows travels as the bytes of u8 or u16 entries (an i8 tensor), as it ships.
 */
export function entangledOperands(f: SeeFactors): Operand[] {
  const sources = Object.keys(f.spec.sources).sort();
  const ops: Operand[] = sources.map((s) => ({
    name: `tables.${s}`,
    data: f.tables[s],
    shape: [f.spec.rank, f.spec.sources[s].rows, f.spec.sources[s].q],
  }));
  f.slots.forEach((s, j) => {
    if ("index" in s) {
      const bytes = indexBytes(f.spec.sources[f.spec.slots[j].source].rows);
      const data = bytes === 4 ? s.index : new Int8Array(narrowIndex(s.index, bytes).buffer);
      ops.push({ name: `index.${j}`, data, shape: [data.length] });
    } else
      ops.push(
        { name: `bag.${j}.offsets`, data: s.bag.offsets, shape: [f.spec.vocab + 1] },
        { name: `bag.${j}.ids`, data: s.bag.ids, shape: [s.bag.ids.length] },
        { name: `bag.${j}.weights`, data: s.bag.weights, shape: [s.bag.weights.length] },
      );
  });
  if (f.norm)
    ops.push(
      { name: "norm.weight", data: f.norm.weight, shape: [f.spec.dim] },
      { name: "norm.bias", data: f.norm.bias, shape: [f.spec.dim] },
    );
  return ops;
}

export function entangledAttrs(f: SeeFactors): EntangledAttrs {
  const sources = Object.keys(f.spec.sources).sort();
  return {
    vocab: f.spec.vocab,
    dim: f.spec.dim,
    rank: f.spec.rank,
    rows: sources.map((s) => f.spec.sources[s].rows),
    q: sources.map((s) => f.spec.sources[s].q),
    nullRow: sources.map((s) => f.spec.sources[s].null ?? 0),
    slotSource: f.spec.slots.map((s) => sources.indexOf(s.source)),
    slotBag: f.spec.slots.map((s) => (s.bag ? 1 : 0)),
    slotPerTerm: f.spec.slots.map((s) => (s.perTerm ? 1 : 0)),
    slotIndexBytes: f.spec.slots.map((s) => (s.bag ? 0 : indexBytes(f.spec.sources[s.source].rows))),
    norm: f.norm ? 1 : 0,
    epsilon: f.norm?.epsilon ?? 0,
  };
}

/** A node's EntangledAttrs, read back (checked: internal.ir when one is absent or of the wrong kind). */
export function readEntangledAttrs(attrs: Attrs): EntangledAttrs {
  const list = (key: string) => [...nums(attrs, key)];
  return {
    vocab: num(attrs, "vocab"),
    dim: num(attrs, "dim"),
    rank: num(attrs, "rank"),
    rows: list("rows"),
    q: list("q"),
    nullRow: list("nullRow"),
    slotSource: list("slotSource"),
    slotBag: list("slotBag"),
    slotPerTerm: list("slotPerTerm"),
    slotIndexBytes: list("slotIndexBytes"),
    norm: num(attrs, "norm"),
    epsilon: num(attrs, "epsilon"),
  };
}

/**
 * The scratch the kernels work in, in floats from its start: the uncut product (acc), two buffers
 * for the slots multiplied out before the innermost (prefix), one vector per bag slot, and one row.
 * The see pass sizes the scratch tensor with `floats`; backends place their buffers at these offsets.
 */
export function entangledScratchLayout(a: EntangledAttrs) {
  const q = a.slotSource.map((s) => a.q[s]);
  const width = q.reduce((x, y) => x * y, 1);
  const prefix = q.slice(0, -1).reduce((x, y) => x * y, 1);
  const bags: Record<number, number> = {};
  let at = width + 2 * prefix;
  a.slotBag.forEach((bag, j) => {
    if (bag) {
      bags[j] = at;
      at += q[j];
    }
  });
  return { q, width, acc: 0, prefix: [width, width + prefix], bags, row: at, floats: at + a.dim };
}

/** Rebuilds SeeFactors from operands (after the op's own leading inputs). */
export function factorsFromOperands(ops: readonly Tensor[], attrs: Attrs): SeeFactors {
  const a = readEntangledAttrs(attrs);
  const names = a.rows.map((_, i) => `s${i}`);
  const tables = Object.fromEntries(names.map((n, i) => [n, f32(ops[i])]));
  let at = names.length;
  const slots = a.slotBag.map((bag, j) =>
    bag
      ? { bag: { offsets: i32(ops[at++]), ids: i32(ops[at++]), weights: f32(ops[at++]) } }
      : { index: unpackIndex(ops[at++], a.slotIndexBytes[j]) },
  );
  const norm = a.norm ? { weight: f32(ops[at++]), bias: f32(ops[at++]), epsilon: a.epsilon } : undefined;
  return {
    spec: {
      format: "see/1",
      vocab: a.vocab,
      dim: a.dim,
      rank: a.rank,
      norm: a.norm ? "layernorm" : "none",
      replaces: "",
      sources: Object.fromEntries(names.map((n, i) => [n, { rows: a.rows[i], q: a.q[i], null: a.nullRow[i] }])),
      slots: a.slotSource.map((s, j) => ({
        source: names[s],
        ...(a.slotBag[j] ? { bag: "mean" as const } : {}),
        ...(a.slotPerTerm[j] ? { perTerm: true } : {}),
      })),
    },
    tables,
    slots,
    norm,
  };
}

/** An index operand back to one entry per element: i32 as is, or the bytes of u8 or u16 entries. */
function unpackIndex(op: Tensor, bytes: number): Int32Array {
  if (bytes === 4) return i32(op);
  const raw = op.data as Int8Array;
  const copy = new Uint8Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return Int32Array.from(bytes === 1 ? copy : new Uint16Array(copy.buffer));
}

export const EntangledEmbedding: OpDef = {
  infer([ids], attrs, node): ValueType[] {
    expectRank(node, "ids", ids.shape, 1);
    if (ids.dtype !== "i32") fail(node, "ids must be i32");
    return [{ dtype: "f32", shape: [ids.shape[0], readEntangledAttrs(attrs).dim] }];
  },
  run([ids, ...ops], attrs) {
    const f = factorsFromOperands(ops, attrs);
    const d = f.spec.dim,
      idx = i32(ids);
    const y = new Float32Array(idx.length * d);
    idx.forEach((t, i) => y.set(embeddingRow(f, t), i * d));
    return [{ shape: [idx.length, d], data: y }];
  },
};

export const EntangledLogits: OpDef = {
  infer([h], attrs, node): ValueType[] {
    expectRank(node, "h", h.shape, 2);
    if (h.shape[1] !== readEntangledAttrs(attrs).dim) fail(node, `h must have ${readEntangledAttrs(attrs).dim} features`);
    return [{ dtype: "f32", shape: [h.shape[0], readEntangledAttrs(attrs).vocab] }];
  },
  run([h, ...ops], attrs) {
    const f = factorsFromOperands(ops, attrs);
    const { vocab, dim } = f.spec;
    const hs = f32(h),
      rows = h.shape[0];
    const y = new Float32Array(rows * vocab);
    for (let v = 0; v < vocab; v++) {
      const e = embeddingRow(f, v);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let i = 0; i < dim; i++) s += hs[r * dim + i] * e[i];
        y[r * vocab + v] = s;
      }
    }
    return [{ shape: [rows, vocab], data: y }];
  },
};

export const EntangledTable: OpDef = {
  infer(_ops, attrs): ValueType[] {
    return [{ dtype: "f32", shape: [readEntangledAttrs(attrs).vocab, readEntangledAttrs(attrs).dim] }];
  },
  run(ops, attrs) {
    const f = factorsFromOperands(ops, attrs);
    const y = new Float32Array(f.spec.vocab * f.spec.dim);
    for (let v = 0; v < f.spec.vocab; v++) y.set(embeddingRow(f, v), v * f.spec.dim);
    return [{ shape: [f.spec.vocab, f.spec.dim], data: y }];
  },
};
