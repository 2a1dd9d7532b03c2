// SEE stage 1 piece by piece, in-process (the CLI tests run `seec factorize` as a subprocess): the
// affix splitter, the sememe sources, the structures decompose() gives `see`, `morphte` and `svd`
// and the rank their budget buys, the truncated SVD against Eckart–Young on a matrix of known
// singular values, the fidelity metrics and the fit's loss, gradient and schedule re-derived here
// (factorize() itself: factorize.test.ts). Expected values are worked out in this file, not read back from
// the code under test.
import { describe, expect, it } from "vitest";
import { denseTable, type SeeFactors } from "../../compiler/factors/factors.js";
import { decompose, type DecomposeOptions } from "../../compiler/see/decompose.js";
import { fitFactors, initialiseTables } from "../../compiler/see/fit.js";
import { fidelity } from "../../compiler/see/metrics.js";
import { randomSegment, segment, splitMarker, toSlots } from "../../compiler/see/morphemes.js";
import { FileSememes, NO_SEMEME, WordNetSememes } from "../../compiler/see/sememes.js";
import { fitSvd, jacobiEigen } from "../../compiler/see/svd.js";
import type { Synset, WordNet } from "../../compiler/see/wordnet.js";
import { normal, rng, shuffle } from "../../compiler/util/random.js";
import { catchSeec } from "../helpers/errors.js";

const LEXICON = new Set(["walk", "cat", "make", "run", "happy", "hope", "hopeless", "hopelessness", "do", "fit", "it"]);
const isWord = (w: string) => LEXICON.has(w);

describe("morphemes: the affix splitter", () => {
  // The affixes SEE.md §4 names, longest and most specific first as the splitter tries them.
  const SUFFIXES = "ation ition ness ment able ible less ship hood tion sion ing ful est ous ive ize ise ity ish ly ed er al en es y s";
  const PREFIXES = "counter inter under super trans over fore anti semi non mis dis pre sub un re in im en de";

  it.each(SUFFIXES.split(" "))("splits the suffix -%s off a word the lexicon knows", (s) => {
    expect(segment(`walk${s}`, isWord)).toEqual({ parts: ["walk", s] });
  });

  it.each(PREFIXES.split(" "))("splits the prefix %s- off a word the lexicon knows", (p) => {
    expect(segment(`${p}walk`, isWord)).toEqual({ parts: [p, "walk"] });
  });

  it.each([
    ["making", ["make", "ing"], "a dropped e restored"],
    ["running", ["run", "ing"], "a doubled consonant undoubled"],
    ["happiness", ["happy", "ness"], "i back to y"],
    ["hopelessness", ["hope", "less", "ness"], "a suffix, then another off what is left"],
    ["hopelessnesses", ["hopeless", "ness", "es"], "two suffixes at most"],
    ["unhopeless", ["un", "hopeless"], "a prefix off a word, whose suffix stays where the word is one"],
    ["cats", ["cat", "s"], "a stem of three letters"],
    ["doing", ["doing"], "no stem of two letters"],
    ["unit", ["unit"], "no prefix before a stem of two letters"],
    ["unfit", ["un", "fit"], "a prefix before a stem of three"],
    ["walkings", ["walkings"], "no split whose stem is not a word"],
  ])("%s -> %j (%s)", (piece, parts) => {
    expect(segment(piece, isWord)).toEqual({ parts });
  });

  it("keeps tokenizer markers as a morpheme of their own, with the word's case, and specials whole", () => {
    expect(segment("▁Walks", isWord)).toEqual({ marker: "▁^", parts: ["walk", "s"] });
    expect(segment(" walks", isWord)).toEqual({ marker: "▁", parts: ["walk", "s"] });
    expect(segment("Ġwalks", isWord)).toEqual({ marker: "Ġ", parts: ["walk", "s"] });
    expect(segment("##walks", isWord)).toEqual({ marker: "##", parts: ["walk", "s"] });
    expect(segment("walks@@", isWord)).toEqual({ marker: "@@", parts: ["walk", "s"] });
    expect(segment("▁Cat", isWord)).toEqual({ marker: "▁^", parts: ["cat"] });
    expect(segment("▁123", isWord)).toEqual({ marker: "▁", parts: ["123"] });
    // A marker alone is a piece, not a marker.
    expect(segment("▁", isWord)).toEqual({ parts: ["▁"] });
    expect(splitMarker("@@")).toEqual({ body: "@@" });
    for (const special of ["<0x0A>", "<unk>", "[CLS]", "</s>", " <s> "])
      expect(segment(special, isWord)).toStrictEqual({ parts: [special] });
  });

  it("randomSegment: the ablation cuts the lower-cased body into the asked number of parts, by seed", () => {
    const cuts = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const r = randomSegment("▁Walking", 3, seed);
      expect(r.marker).toBe("▁^");
      expect(r.parts).toHaveLength(3);
      expect(r.parts.join("")).toBe("walking");
      expect(r.parts.every((p) => p.length > 0)).toBe(true);
      expect(randomSegment("▁Walking", 3, seed)).toEqual(r);
      cuts.add(r.parts.join("|"));
    }
    expect(cuts.size).toBeGreaterThan(3);
    expect(randomSegment("▁walking", 1, 0)).toEqual({ marker: "▁", parts: ["walking"] });
    expect(randomSegment("ab", 5, 0)).toEqual({ parts: ["a", "b"] });
    expect(randomSegment("<unk>", 3, 0)).toStrictEqual({ parts: ["<unk>"] });
  });

  it("toSlots: the marker last, the tail merged, pads where there are fewer", () => {
    expect(toSlots({ marker: "▁", parts: ["un", "walk", "ing", "s"] }, 3)).toEqual(["un", "walk", "ing+s+▁"]);
    expect(toSlots({ marker: "▁", parts: ["cat"] }, 2)).toEqual(["cat", "▁"]);
    expect(toSlots({ parts: ["cat"] }, 3)).toEqual(["cat", "<pad1>", "<pad2>"]);
  });
});

describe("sememes", () => {
  const synset = (pos: string, lexname: string, word: string, hypernyms: number[] = []): Synset =>
    ({ pos, lexname, words: [word], hypernyms }) as unknown as Synset;
  const HYPERNYMS: Record<number, Synset> = {
    1: synset("n", "noun.animal", "feline", [2]),
    2: synset("n", "noun.animal", "carnivore", [3]),
    3: synset("n", "noun.animal", "mammal"),
    4: synset("v", "verb.body", "vomit", [5]),
    5: synset("v", "verb.body", "expel"),
    6: synset("v", "verb.body", "regurgitate"),
  };
  const wordnet = {
    senses: (w: string) =>
      w === "cat" || w === "was"
        ? [
            synset("n", "noun.animal", "cat", [1]),
            synset("n", "noun.person", "cat"),
            synset("v", "verb.body", "cat", [4, 6]),
            synset("n", "noun.artifact", "cat"),
          ]
        : [],
    synset: (_pos: string, offset: number) => HYPERNYMS[offset],
  } as unknown as WordNet;

  it("WordNet's: the lexicographer file of the first three senses and their first hypernyms two levels up, six at most", () => {
    // In order: cat's animal sense and feline, carnivore (not mammal: depth 2); the person sense; the
    // verb's body sense and vomit (its first hypernym only), then expel, the seventh, cut.
    expect(new WordNetSememes(wordnet).sememesOf("cat")).toEqual([
      "noun.animal",
      "n:feline",
      "n:carnivore",
      "noun.person",
      "verb.body",
      "v:vomit",
    ]);
    expect(new WordNetSememes(wordnet, 1, 1, 10).sememesOf("cat")).toEqual(["noun.animal", "n:feline"]);
    expect(new WordNetSememes(wordnet, 4, 3, 20).sememesOf("cat")).toEqual([
      "noun.animal",
      "n:feline",
      "n:carnivore",
      "n:mammal",
      "noun.person",
      "verb.body",
      "v:vomit",
      "v:expel",
      "noun.artifact",
    ]);
  });

  it("WordNet's: none for function words (WordNet reads 'was' as Washington), short words and non-words", () => {
    // A WordNet that knows every string: what is refused, the filter refuses.
    const everything = { ...wordnet, senses: () => [synset("n", "noun.animal", "x")] } as unknown as WordNet;
    const source = new WordNetSememes(everything);
    expect(source.name).toBe("wordnet-3.1");
    for (const w of ["was", "Was", "the", "and", "from", "mine", "just", "ab", "x1", "1ab", "ab1", "-ab"])
      expect(source.sememesOf(w), w).toEqual([]);
    for (const w of ["cat", "Cat", "it's", "well-known", "abc"]) expect(source.sememesOf(w), w).toEqual(["noun.animal"]);
  });

  it("a user's file: word<TAB>sememes, comments and blank lines skipped, words in any case; a bad line named", () => {
    const s = new FileSememes(
      "my.tsv",
      "# word\tsememes\n# a comment\n\n   \ncat\tanimal pet\nDog\t animal  \n  Cow \tanimal\na\tletter\nemu\t\n",
    );
    expect(s.sememesOf("CAT")).toEqual(["animal", "pet"]);
    expect(s.sememesOf("dog")).toEqual(["animal"]);
    expect(s.sememesOf("cow")).toEqual(["animal"]);
    expect(s.sememesOf("a")).toEqual(["letter"]);
    expect(s.sememesOf("emu")).toEqual([]);
    expect(s.sememesOf("# word")).toEqual([]);
    expect(s.sememesOf("ox")).toEqual([]);
    for (const bad of ["cat animal", "\tanimal"]) {
      const e = catchSeec(() => new FileSememes("my.tsv", `cat\tanimal\n${bad}\n`));
      expect([e.code, e.message, e.file, e.at]).toEqual([
        "input.sememes",
        'line 2 is not "word<TAB>sememe sememe ..."',
        "my.tsv",
        "line 2",
      ]);
    }
  });
});

describe("decompose: the structure of see, morphte and svd factors", () => {
  const MEANINGS: Record<string, string[]> = {
    cat: ["animal"],
    cats: ["animal"],
    dog: ["animal", "pet"],
    run: ["act", "move"],
    running: ["act", "move"],
  };
  const PIECES = ["<unk>", "▁cat", "▁cats", "▁dog", "▁run", "▁running", "▁the", "ing", "x"];
  const OPTIONS: DecomposeOptions = {
    method: "see",
    ratio: 2,
    segmentation: "lexicon",
    seed: 0,
    isWord: (w) => w in MEANINGS,
    sememes: { name: "test", sememesOf: (w) => MEANINGS[w] ?? [] },
  };
  const indexOf = (f: SeeFactors, slot: number) => Array.from((f.slots[slot] as { index: Int32Array }).index);

  it("see: two morpheme slots over one table, then a bag of the sememes two or more tokens share", () => {
    const { factors: f, knowledge } = decompose(PIECES, 16, "emb", OPTIONS);
    expect(f.spec.slots).toEqual([{ source: "morpheme" }, { source: "morpheme" }, { source: "sememe", bag: "mean" }]);
    // The sememe rows: none first, then by how many tokens use them (animal 3; act and move 2, by name); pet (1) dropped.
    expect(knowledge.map((k) => k.sememes)).toEqual([
      [NO_SEMEME],
      ["animal"],
      ["animal"],
      ["animal"],
      ["act", "move"],
      ["act", "move"],
      [NO_SEMEME],
      [NO_SEMEME],
      [NO_SEMEME],
    ]);
    const { bag } = f.slots[2] as { bag: { offsets: Int32Array; ids: Int32Array; weights: Float32Array } };
    expect(Array.from(bag.offsets)).toEqual([0, 1, 2, 3, 4, 6, 8, 9, 10, 11]);
    expect(Array.from(bag.ids)).toEqual([0, 1, 1, 1, 2, 3, 2, 3, 0, 0, 0]);
    expect(Array.from(bag.weights)).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 1, 1, 1]);
    // q: 4 for the sememes at d >= 16, ceil(sqrt(16 / 4)) = 2 for the morphemes.
    expect(f.spec.sources.sememe).toEqual({ rows: 4, q: 4, null: 0 });
    expect(knowledge.map((k) => k.morphemes)).toEqual([
      ["<unk>", "<pad1>"],
      ["cat", "▁"],
      ["cat", "s+▁"],
      ["dog", "▁"],
      ["run", "▁"],
      ["run", "ing+▁"],
      ["the", "▁"],
      ["ing", "<pad1>"],
      ["x", "<pad1>"],
    ]);
    // Eleven morphemes, each its own row (a table of at least 64 rows fits them), the most used first.
    expect(f.spec.sources.morpheme).toEqual({ rows: 11, q: 2 });
    const [first, second] = [indexOf(f, 0), indexOf(f, 1)];
    expect(second[1]).toBe(0); // "▁", used four times
    expect(second[0]).toBe(1); // "<pad1>", three
    expect(new Set([...first, ...second]).size).toBe(11);
    expect(first[1]).toBe(first[2]);
    expect(first[4]).toBe(first[5]);
    // The rank the budget (9 · 16 / 2) buys: one term of 11 · 2 + 4 · 4 parameters fits once.
    expect(f.spec.rank).toBe(1);
    expect(f.spec.knowledge).toEqual({ sememes: "test", morphemes: "WordNet-checked affix split" });
    expect(Object.fromEntries(Object.entries(f.tables).map(([k, t]) => [k, t.length]))).toEqual({ sememe: 16, morpheme: 22 });
  });

  it("see under a tight budget: the most used morphemes keep their own rows, the rare tail shares rows by FNV-1a hash", () => {
    const pieces = Array.from({ length: 200 }, (_, i) => `▁w${i}`);
    const { factors: f } = decompose(pieces, 16, "emb", { ...OPTIONS, ratio: 8 });
    // budget 400; the sememe table is the none row (4 parameters a term): floor((400 / 2 − 4) / 2) = 98 rows, half of them own.
    expect(f.spec.sources.morpheme.rows).toBe(98);
    expect(indexOf(f, 1)).toEqual(new Array(200).fill(0));
    const fnv = (s: string) => {
      let h = 0x811c9dc5;
      for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
      return h >>> 0;
    };
    const bodies = pieces.map((p) => p.slice(1));
    const own = new Set([...bodies].sort((a, b) => a.localeCompare(b)).slice(0, 48));
    const rows = indexOf(f, 0);
    bodies.forEach((m, t) => {
      if (own.has(m)) expect(rows[t]).toBeLessThan(49);
      else expect(rows[t], m).toBe(49 + (fnv(m) % 49));
    });
    expect(new Set(rows.filter((r) => r < 49)).size).toBe(48);
    expect(f.spec.rank).toBe(2); // 400 / (98 · 2 + 1 · 4)
  });

  it("refuses a ratio one rank term cannot meet, saying what one term costs", () => {
    const e = catchSeec(() => decompose(PIECES, 16, "emb", { ...OPTIONS, ratio: 100 }));
    expect([e.code, e.message, e.at, e.hint]).toEqual([
      "usage.ratio",
      "--ratio 100 is out of reach for see: one rank term already has 38 parameters (ratio 3.8)",
      "--ratio",
      "choose a smaller ratio or another method",
    ]);
  });

  it("see: sememe rows by use then name, whatever order the tokens bring them in; none for special pieces", () => {
    const bags: Record<string, string[]> = { b1: ["b"], ab: ["a", "b"], a1: ["a"], a2: ["a"], c1: ["c"], c2: ["c"] };
    const pieces = ["▁b1", "▁ab", "▁a1", "▁a2", "▁c1", "▁c2", "<s>", "<0x0A>"];
    // A source that would give special pieces a sememe too: they must not ask it.
    const { factors: f, knowledge } = decompose(pieces, 16, "emb", {
      ...OPTIONS,
      sememes: { name: "test", sememesOf: (w) => bags[w] ?? ["a"] },
    });
    const { bag } = f.slots[2] as { bag: { ids: Int32Array } };
    // a (4 uses, the specials excluded) row 1; b and c (2 each) rows 2 and 3 by name.
    expect(Array.from(bag.ids)).toEqual([2, 1, 2, 1, 1, 3, 3, 0, 0]);
    expect(knowledge.slice(6).map((k) => k.sememes)).toEqual([[NO_SEMEME], [NO_SEMEME]]);
    // Below 16 features, sememe vectors of 2; a given rank is kept, not capped at d (svd's is).
    expect(decompose(PIECES, 8, "emb", OPTIONS).factors.spec.sources.sememe.q).toBe(2);
    expect(decompose(PIECES, 16, "emb", { ...OPTIONS, rank: 40 }).factors.spec.rank).toBe(40);
  });

  it("word2ketxs: the digit base is the least b with b^order >= V (16 pieces: 4 rows a slot, not 5)", () => {
    const pieces = Array.from({ length: 16 }, (_, t) => `p${t}`);
    const { factors: f } = decompose(pieces, 16, "emb", { ...OPTIONS, method: "word2ketxs", sememes: undefined });
    expect([f.spec.sources.digit0.rows, f.spec.sources.digit1.rows]).toEqual([4, 4]);
    expect(indexOf(f, 1)).toEqual(pieces.map((_, t) => Math.floor(t / 4)));
  });

  it("morphte: three morpheme slots ceil(cbrt(d)) wide; random segmentation cuts the same number of parts", () => {
    const { factors: f, knowledge } = decompose(PIECES, 27, "emb", { ...OPTIONS, method: "morphte", sememes: undefined });
    expect(f.spec.slots).toEqual([{ source: "morpheme" }, { source: "morpheme" }, { source: "morpheme" }]);
    expect(f.spec.sources.morpheme.q).toBe(3);
    expect(f.spec.knowledge).toBeUndefined();
    expect(knowledge[5].morphemes).toEqual(["run", "ing", "▁"]);
    const random = decompose(PIECES, 27, "emb", { ...OPTIONS, method: "morphte", segmentation: "random", seed: 4 });
    expect(random.factors.spec.knowledge?.morphemes).toBe("random split");
    const cut = random.knowledge[5].morphemes;
    expect(cut[2]).toBe("▁");
    expect(cut.slice(0, 2).join("")).toBe("running");
    expect(decompose(PIECES, 16, "emb", { ...OPTIONS, method: "morphte" }).factors.spec.sources.morpheme.q).toBe(3);
  });

  it("svd: a token table of one column and a basis of one row a term; the rank at most d", () => {
    const { factors: f } = decompose(PIECES, 4, "emb", { ...OPTIONS, method: "svd", ratio: 1 });
    expect(f.spec.sources).toEqual({ token: { rows: 9, q: 1 }, basis: { rows: 1, q: 4 } });
    expect(indexOf(f, 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(indexOf(f, 1)).toEqual(new Array(9).fill(0));
    expect(f.spec.rank).toBe(2); // 36 / 13
    expect(decompose(PIECES, 4, "emb", { ...OPTIONS, method: "svd", rank: 10 }).factors.spec.rank).toBe(4);
  });
});

/** Columns orthonormal: a random rows × cols matrix through Gram–Schmidt (row-major). */
function orthonormal(rows: number, cols: number, seed: number): Float64Array {
  const draw = normal(rng(seed));
  const m = Float64Array.from({ length: rows * cols }, draw);
  for (let j = 0; j < cols; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += m[i * cols + j] * m[i * cols + k];
      for (let i = 0; i < rows; i++) m[i * cols + j] -= dot * m[i * cols + k];
    }
    let n = 0;
    for (let i = 0; i < rows; i++) n += m[i * cols + j] ** 2;
    for (let i = 0; i < rows; i++) m[i * cols + j] /= Math.sqrt(n);
  }
  return m;
}

describe("the truncated SVD baseline", () => {
  it("reaches Eckart–Young's error on a matrix of known singular values, its basis the top right singular vectors", () => {
    const [V, d] = [40, 8];
    const sigma = [8, 5, 3, 2, 1, 0.5, 0.25, 0.1];
    const U = orthonormal(V, d, 1),
      W = orthonormal(d, d, 2);
    const E = new Float32Array(V * d);
    for (let t = 0; t < V; t++)
      for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) E[t * d + i] += U[t * d + k] * sigma[k] * W[i * d + k];
    const total = Math.hypot(...sigma);
    for (const rank of [1, 3, 5]) {
      const { factors: f } = decompose(
        Array.from({ length: V }, (_, t) => `p${t}`),
        d,
        "emb",
        { method: "svd", ratio: 1, rank, segmentation: "lexicon", seed: 0, isWord },
      );
      fitSvd(f, E);
      const A = denseTable(f);
      const err = Math.hypot(...Array.from(A, (a, j) => a - E[j]));
      expect(err / total).toBeCloseTo(Math.hypot(...sigma.slice(rank)) / total, 5);
      for (let r = 0; r < rank; r++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += f.tables.basis[r * d + i] * W[i * d + r];
        expect(Math.abs(dot), `basis row ${r}`).toBeCloseTo(1, 5);
      }
    }
  });

  it("jacobiEigen: eigenvalues and orthonormal eigenvectors of a symmetric matrix", () => {
    const two = jacobiEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(Array.from(two.values).sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
    const n = 6;
    const draw = normal(rng(5));
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) A[i * n + j] = A[j * n + i] = draw();
    const { values, vectors } = jacobiEigen(A, n);
    for (let k = 0; k < n; k++)
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += A[i * n + j] * vectors[j * n + k];
        expect(av).toBeCloseTo(values[k] * vectors[i * n + k], 10);
      }
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += vectors[i * n + a] * vectors[i * n + b];
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 10);
      }
  });
});

describe("fidelity", () => {
  /** The ten nearest rows by cosine, ties to the lower id, written plainly. */
  const nearest = (m: Float32Array, t: number, V: number, d: number) => {
    const row = (u: number) => Array.from(m.subarray(u * d, (u + 1) * d));
    const cos = (a: number[], b: number[]) =>
      a.reduce((s, x, i) => s + x * b[i], 0) / ((Math.hypot(...a) || 1e-30) * (Math.hypot(...b) || 1e-30));
    return Array.from({ length: V }, (_, u) => u)
      .filter((u) => u !== t)
      .map((u) => [u, cos(row(t), row(u))])
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, 10)
      .map(([u]) => u);
  };

  it("relative error, mean cosine and 10-nearest-neighbour overlap, as their definitions give them", () => {
    const [V, d] = [60, 5];
    const E = Float32Array.from({ length: V * d }, normal(rng(1)));
    const noise = normal(rng(2));
    const A = E.map((x) => x + 0.6 * noise());
    // Two rows equal (ties) and one row zero (cosine 0).
    A.copyWithin(7 * d, 3 * d, 4 * d);
    A.fill(0, 10 * d, 11 * d);
    let num = 0,
      den = 0,
      cos = 0;
    for (let t = 0; t < V; t++) {
      const a = Array.from(A.subarray(t * d, (t + 1) * d)),
        e = Array.from(E.subarray(t * d, (t + 1) * d));
      num += a.reduce((s, x, i) => s + (x - e[i]) ** 2, 0);
      den += e.reduce((s, x) => s + x * x, 0);
      const na = Math.hypot(...a);
      cos += na > 0 ? a.reduce((s, x, i) => s + x * e[i], 0) / (na * Math.hypot(...e)) : 0;
    }
    const overlapOf = (t: number) => nearest(A, t, V, d).filter((u) => nearest(E, t, V, d).includes(u)).length / 10;
    const all = fidelity(A, E, V, d, V, 0);
    expect(all.relativeError).toBeCloseTo(Math.sqrt(num / den), 6);
    expect(all.meanCosine).toBeCloseTo(cos / V, 6);
    const overlaps = Array.from({ length: V }, (_, t) => overlapOf(t));
    expect(all.neighbourOverlap10).toBeCloseTo(overlaps.reduce((a, b) => a + b, 0) / V, 10);
    // A sample: the first tokens of a seeded shuffle.
    const order = Int32Array.from({ length: V }, (_, i) => i);
    shuffle(order, rng(9));
    const probe = Array.from(order.subarray(0, 12));
    expect(fidelity(A, E, V, d, 12, 9).neighbourOverlap10).toBeCloseTo(probe.reduce((s, t) => s + overlaps[t], 0) / 12, 10);
    expect(fidelity(E, E, V, d, V, 0)).toEqual({ relativeError: 0, meanCosine: expect.closeTo(1, 6), neighbourOverlap10: 1 });
  });
});

describe("the stage-1 fit", () => {
  const pieces = Array.from({ length: 30 }, (_, t) => `p${t}`);
  const structure = () =>
    decompose(pieces, 16, "emb", { method: "word2ketxs", ratio: 1, rank: 3, segmentation: "lexicon", seed: 0, isWord }).factors;
  const draw = normal(rng(11));
  const target = Float32Array.from({ length: 30 * 16 }, () => 0.3 * draw());
  const rms = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0) / x.length);

  it("initialises every table at the scale that makes a row about the target's RMS: (rms / sqrt(rank))^(1/slots)", () => {
    const f = structure();
    initialiseTables(f, target, 1);
    const sigma = Math.pow(rms(target) / Math.sqrt(3), 1 / 2);
    for (const [name, t] of Object.entries(f.tables)) expect(rms(t) / sigma, name).toBeGreaterThan(0.8);
    for (const [name, t] of Object.entries(f.tables)) expect(rms(t) / sigma, name).toBeLessThan(1.2);
    const again = structure();
    initialiseTables(again, target, 1);
    expect(again.tables).toEqual(f.tables);
    const zero = structure();
    initialiseTables(zero, new Float32Array(30 * 16), 2);
    for (const t of Object.values(zero.tables)) expect(rms(t) / Math.pow(1 / Math.sqrt(3), 1 / 2)).toBeGreaterThan(0.8);
  });

  /** The weighted loss over every token, from the rebuilt table (SEE.md §5). */
  function loss(f: SeeFactors, direction: number, weights?: Float32Array): number {
    const A = denseTable(f);
    const d = 16;
    let sum = 0;
    for (let t = 0; t < 30; t++) {
      const a = A.subarray(t * d, (t + 1) * d),
        e = target.subarray(t * d, (t + 1) * d);
      let sq = 0,
        dot = 0;
      for (let i = 0; i < d; i++) {
        sq += (a[i] - e[i]) ** 2;
        dot += a[i] * e[i];
      }
      const cos = dot / (Math.hypot(...a) * Math.hypot(...e));
      sum += (weights?.[t] ?? 1) * (sq / d + direction * (1 - cos));
    }
    return sum / (weights ? weights.reduce((a, b) => a + b, 0) : 30);
  }

  it("reports each epoch's mean loss, weighted by token, over every token once whatever the batch", () => {
    const weights = Float32Array.from({ length: 30 }, (_, t) => 0.5 + (t % 3) / 2);
    for (const [batch, w] of [
      [7, undefined],
      [30, weights],
      [4, weights],
    ] as const) {
      const f = structure();
      initialiseTables(f, target, 3);
      const curve = fitFactors(f, target, { epochs: 2, learningRate: 0, batch, seed: 1, direction: 0.5, tokenWeights: w });
      expect(curve).toHaveLength(2);
      expect(curve[0]).toBeCloseTo(loss(f, 0.5, w), 5);
      expect(curve[1]).toBeCloseTo(curve[0], 6);
    }
  });

  it("steps every parameter against the loss's gradient (central differences)", () => {
    const f = structure();
    initialiseTables(f, target, 4);
    const before = Object.fromEntries(Object.entries(f.tables).map(([k, t]) => [k, Float32Array.from(t)]));
    const numeric: Record<string, number[]> = {};
    for (const [name, t] of Object.entries(f.tables)) {
      numeric[name] = Array.from(t, (v, i) => {
        t[i] = v + 1e-3;
        const up = loss(f, 1);
        t[i] = v - 1e-3;
        const down = loss(f, 1);
        t[i] = v;
        return (up - down) / 2e-3;
      });
    }
    fitFactors(f, target, { epochs: 1, learningRate: 1e-4, batch: 30, seed: 1, direction: 1 });
    let checked = 0;
    for (const [name, g] of Object.entries(numeric)) {
      const top = Math.max(...g.map(Math.abs));
      g.forEach((gi, i) => {
        if (Math.abs(gi) < 1e-2 * top) return;
        checked++;
        // Adam's first step is lr · sign(g).
        expect(f.tables[name][i] - before[name][i], `${name}[${i}]`).toBeCloseTo(-1e-4 * Math.sign(gi), 7);
      });
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("follows its cosine schedule: step e moves a parameter by lr · (0.05 + 0.95 · (1 + cos(π e / epochs)) / 2)", () => {
    const f = structure();
    initialiseTables(f, target, 5);
    const snapshots: Float32Array[] = [Float32Array.from(f.tables.digit0)];
    const epochs = 5,
      lr = 1e-4;
    const curve = fitFactors(f, target, {
      epochs,
      learningRate: lr,
      batch: 30,
      seed: 1,
      direction: 1,
      onEpoch: () => snapshots.push(Float32Array.from(f.tables.digit0)),
    });
    expect(curve).toHaveLength(epochs);
    expect(snapshots).toHaveLength(epochs + 1);
    for (let e = 0; e < epochs; e++) {
      const steps = Array.from(snapshots[e + 1], (v, i) => Math.abs(v - snapshots[e][i])).sort((a, b) => a - b);
      const median = steps[steps.length >> 1];
      expect(median / (lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * e) / epochs)))), `epoch ${e}`).toBeCloseTo(1, 1);
    }
  });
});
