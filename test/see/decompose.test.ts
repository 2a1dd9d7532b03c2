// The structures decompose() gives each method: which tokens share which rows, and the budget.
import { describe, expect, it } from "vitest";
import { decompose, type DecomposeOptions } from "../../compiler/see/decompose.js";
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
