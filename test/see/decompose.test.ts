// The structures decompose() gives each method: which tokens share which rows, and the budget.
import { describe, expect, it } from "vitest";
import { decompose, slotWidths, type DecomposeOptions } from "../../compiler/see/decompose.js";
import { parameterCount } from "../../compiler/factors/factors.js";

// A vocabulary whose knowledge is written out: two meanings, stems with suffixes, pieces without either.
const MEANINGS: Record<string, string[]> = {
  play: ["act"],
  playing: ["act"],
  played: ["act"],
  run: ["act", "move"],
  running: ["act", "move"],
  cat: ["animal"],
  cats: ["animal"],
  dog: ["animal"],
  dogs: ["animal"],
};
const PIECES = [
  "<unk>",
  "▁dogs",
  "▁the",
  "▁play",
  "ing",
  "▁cat",
  "▁running",
  "▁playing",
  "x",
  "▁dog",
  "▁played",
  "▁cats",
  "▁run",
  "s",
  ".",
];
const OPTIONS: DecomposeOptions = {
  method: "see-xs",
  ratio: 2,
  segmentation: "lexicon",
  seed: 0,
  isWord: (w) => w in MEANINGS,
  sememes: { name: "test", sememesOf: (w) => MEANINGS[w] ?? [] },
};

describe("see-xs: word2ketXS's digit slots over an order by knowledge", () => {
  const dim = 16;
  const { factors: f, knowledge } = decompose(PIECES, dim, "emb", OPTIONS);
  const [hi, lo] = f.slots.map((s) => ("index" in s ? s.index : new Int32Array()));
  const base = Math.ceil(Math.sqrt(PIECES.length));
  const place = (t: number) => hi[t] * base + lo[t];

  it("gives every token its own pair of rows, two slots of ceil(sqrt V) rows and ceil(sqrt d) wide", () => {
    expect(f.spec.slots.map((s) => s.source)).toEqual(["digit0", "digit1"]);
    expect(f.spec.sources).toEqual({ digit0: { rows: base, q: 4 }, digit1: { rows: base, q: 4 } });
    const places = PIECES.map((_, t) => place(t));
    expect(new Set(places).size).toBe(PIECES.length);
    expect(Math.max(...places)).toBe(PIECES.length - 1);
  });

  it("orders by first sememe, then stem: a meaning's tokens are neighbours, a stem's family together", () => {
    const at = (p: string) => place(PIECES.indexOf(p));
    const acts = ["▁play", "▁playing", "▁played", "▁running", "▁run"].map(at).sort((a, b) => a - b);
    const animals = ["▁cat", "▁cats", "▁dog", "▁dogs"].map(at).sort((a, b) => a - b);
    expect(acts).toEqual([0, 1, 2, 3, 4]);
    expect(animals).toEqual([5, 6, 7, 8]);
    // Within a meaning, by stem: play's family, then run's.
    expect(["▁play", "▁playing", "▁played"].map(at).sort()).toEqual([0, 1, 2]);
    // Pieces without a sememe come last.
    for (const p of ["<unk>", "▁the", "ing", "x", "s", "."]) expect(at(p)).toBeGreaterThan(8);
    expect(knowledge[PIECES.indexOf("▁playing")]).toEqual({ piece: "▁playing", morphemes: ["play", "ing"], sememes: ["act"] });
  });

  it("spends the budget on rank: parameters within V·d / ratio, and the rank word2ketxs would have", () => {
    expect(parameterCount(f.spec)).toBeLessThanOrEqual((PIECES.length * dim) / 2);
    const w2k = decompose(PIECES, dim, "emb", { ...OPTIONS, method: "word2ketxs" }).factors;
    expect(f.spec.rank).toBe(w2k.spec.rank);
    expect(f.spec.rank).toBeGreaterThan(1);
    expect(f.spec.knowledge?.sememes).toBe("test");
  });

  it("word2ketxs indexes by the id's digits, least significant first", () => {
    const w2k = decompose(PIECES, dim, "emb", { ...OPTIONS, method: "word2ketxs" }).factors;
    const [d0, d1] = w2k.slots.map((s) => ("index" in s ? s.index : new Int32Array()));
    PIECES.forEach((_, t) => expect([d0[t], d1[t]]).toEqual([t % base, Math.floor(t / base)]));
  });
});

describe("--order n: n digit slots (word2ketXS's tensor order)", () => {
  const dim = 16;
  it("see-xs with 3 slots: bases of ceil(V^(1/3)) rows, the place's digits most significant first, widths covering d", () => {
    const { factors: f } = decompose(PIECES, dim, "emb", { ...OPTIONS, order: 3 });
    const two = decompose(PIECES, dim, "emb", OPTIONS).factors;
    // 15 tokens: base 3 (27 places); 16 = 4 · 2 · 2, the least parameters a rank term.
    expect(f.spec.sources).toEqual({ digit0: { rows: 3, q: 4 }, digit1: { rows: 3, q: 2 }, digit2: { rows: 3, q: 2 } });
    const [a, b, c] = f.slots.map((s) => ("index" in s ? s.index : new Int32Array()));
    const [hi, lo] = two.slots.map((s) => ("index" in s ? s.index : new Int32Array()));
    // The same knowledge order, read in base 3 rather than base 4.
    PIECES.forEach((_, t) => expect(a[t] * 9 + b[t] * 3 + c[t]).toBe(hi[t] * 4 + lo[t]));
    expect(parameterCount(f.spec)).toBeLessThanOrEqual((PIECES.length * dim) / 2);
    // A rank term costs 3 · (4 + 2 + 2) = 24 parameters against two slots' 4 · (4 + 4) = 32: more terms.
    expect(f.spec.rank).toBe(Math.floor((PIECES.length * dim) / 2 / 24));
    expect(f.spec.rank).toBeGreaterThan(two.spec.rank);
  });

  it("word2ketxs with 3 slots reads the id's digits, least significant first", () => {
    const { factors: f } = decompose(PIECES, dim, "emb", { ...OPTIONS, method: "word2ketxs", order: 3 });
    const [d0, d1, d2] = f.slots.map((s) => ("index" in s ? s.index : new Int32Array()));
    PIECES.forEach((_, t) => expect([d0[t], d1[t], d2[t]]).toEqual([t % 3, Math.floor(t / 3) % 3, Math.floor(t / 9)]));
  });

  it("slotWidths: the least sum whose product covers d, then the least product", () => {
    expect(slotWidths(64, 2)).toEqual([8, 8]);
    expect(slotWidths(64, 3)).toEqual([4, 4, 4]);
    expect(slotWidths(256, 3)).toEqual([8, 8, 4]);
    expect(slotWidths(256, 4)).toEqual([4, 4, 4, 4]);
    expect(slotWidths(300, 3)).toEqual([10, 6, 5]);
    expect(slotWidths(16, 3)).toEqual([4, 2, 2]);
  });
});
