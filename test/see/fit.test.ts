// Fitting recovers factors it could have produced: a table made from planted rank-r factors is
// refitted at rank r, from a different random start, to under 1e-3 relative error.
import { describe, expect, it } from "vitest";
import { denseTable, type SeeFactors } from "../../compiler/factors/factors.js";
import { fitFactors, initialiseTables } from "../../compiler/see/fit.js";
import { relError } from "../helpers/random.js";

function digitFactors(vocab: number, base: number, q: number[], rank: number): SeeFactors {
  const sources: Record<string, { rows: number; q: number }> = {};
  q.forEach((w, j) => (sources[`digit${j}`] = { rows: base, q: w }));
  return {
    spec: {
      format: "see/1",
      vocab,
      dim: q.reduce((a, b) => a * b, 1),
      rank,
      sources,
      slots: q.map((_, j) => ({ source: `digit${j}` })),
      norm: "none",
      replaces: "emb",
    },
    tables: Object.fromEntries(q.map((w, j) => [`digit${j}`, new Float32Array(rank * base * w)])),
    slots: q.map((_, j) => ({ index: Int32Array.from({ length: vocab }, (_, t) => Math.floor(t / base ** j) % base) })),
  };
}

describe("fitFactors", () => {
  it.each([
    [2, [4, 4]],
    [3, [3, 2, 4]],
  ])("recovers planted rank-%i factors with slot widths %j", (rank, q) => {
    const planted = digitFactors(100, 10, q as number[], rank);
    initialiseTables(planted, Float32Array.of(1), 1);
    const target = denseTable(planted);
    const fitted = digitFactors(100, 10, q as number[], rank);
    initialiseTables(fitted, target, 2);
    const curve = fitFactors(fitted, target, { epochs: 1500, learningRate: 0.03, batch: 100, seed: 3, direction: 0.1 });
    expect(curve[curve.length - 1]).toBeLessThan(curve[0]);
    expect(relError(denseTable(fitted), target)).toBeLessThan(1e-3);
  });
});
