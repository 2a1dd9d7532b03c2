/** Small random SEE factors of any structure, for format and kernel tests. */
import type { SeeFactors, SlotSpec } from "../../compiler/factors/factors.js";
import { bagWeights } from "../../compiler/factors/format.js";
import { randomF32, rng } from "./random.js";

export interface Shape {
  vocab: number;
  dim: number;
  rank: number;
  /** Per slot: [source, q, bag?, perTerm?]; slots naming the same source share it (and its q). */
  slots: [string, number, boolean?, boolean?][];
  norm?: boolean;
  /** Rows of these sources (3 to 11 at random otherwise): past 256 an index ships as u16, past 65536 as i32. */
  rows?: Record<string, number>;
}

export function randomFactors(s: Shape, seed: number): SeeFactors {
  const r = rng(seed);
  const sources: Record<string, { rows: number; q: number; null?: number }> = {};
  for (const [name, q] of s.slots) sources[name] ??= { rows: s.rows?.[name] ?? 3 + Math.floor(r() * 9), q, null: 0 };
  const slots = s.slots.map(([name, , bag, perTerm]) => {
    const rows = sources[name].rows;
    if (!bag) return { index: Int32Array.from({ length: (perTerm ? s.rank : 1) * s.vocab }, () => Math.floor(r() * rows)) };
    const offsets = new Int32Array(s.vocab + 1);
    const ids: number[] = [];
    for (let t = 0; t < s.vocab; t++) {
      const n = t % 4 === 1 ? 0 : 1 + Math.floor(r() * 3); // some empty bags: the null row
      for (let m = 0; m < n; m++) ids.push(Math.floor(r() * rows));
      offsets[t + 1] = ids.length;
    }
    return { bag: { offsets, ids: Int32Array.from(ids), weights: bagWeights(offsets, "mean") } };
  });
  const slotSpecs: SlotSpec[] = s.slots.map(([source, , bag, perTerm]) => ({
    source,
    ...(bag ? { bag: "mean" as const } : {}),
    ...(perTerm ? { perTerm: true } : {}),
  }));
  return {
    spec: {
      format: "see/1",
      vocab: s.vocab,
      dim: s.dim,
      rank: s.rank,
      sources,
      slots: slotSpecs,
      norm: s.norm ? "layernorm" : "none",
      replaces: "emb",
    },
    tables: Object.fromEntries(Object.entries(sources).map(([n, src], i) => [n, randomF32(s.rank * src.rows * src.q, seed * 31 + i)])),
    slots,
    norm: s.norm ? { weight: randomF32(s.dim, seed + 5, 2), bias: randomF32(s.dim, seed + 6), epsilon: 1e-5 } : undefined,
  };
}
