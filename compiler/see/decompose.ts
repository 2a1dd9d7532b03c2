/**
 * From a vocabulary to the structure of its factors: which sources and slots a method uses,
 * each token's rows in them, and the rank that meets the compression budget (SEE.md §1, §6).
 *
 * | method      | slots                                                          |
 * |-------------|----------------------------------------------------------------|
 * | see         | 2 morpheme slots (shared source) + 1 sememe bag                 |
 * | morphte     | 3 morpheme slots (shared source)                               |
 * | word2ketxs  | n digit slots (--order, 2 by default): the token id's base-b digits, b = ceil(V^(1/n)) |
 * | see-xs      | n digit slots, of each token's place in an order by knowledge                 |
 * | svd         | token (q = 1) ⊗ basis (1 row, q = dim): E ≈ U·S·Vᵀ            |
 * | pq          | block (1 row, q = M) ⊗ code (K rows, q = dim/M), the code's index per rank term: product quantization |
 */
import { SeecError } from "../../runtime/errors.js";
import { parameterCount, type SeeFactors, type SeeSpec, type SlotSpec } from "../factors/factors.js";
import { randomSegment, segment, splitMarker, toSlots, type Pieces } from "./morphemes.js";
import { NO_SEMEME, type SememeSource } from "./sememes.js";

export const METHODS = ["see", "see-xs", "morphte", "word2ketxs", "svd", "pq"] as const;

/** pq: codewords per block, at most what a u8 index holds; the width of a block by default (4: one f32x4). */
const PQ_MAX_CODES = 256;
const PQ_BLOCK_WIDTH = 4;

/** The rank a morpheme table is sized for when the budget is tight, and the fewest rows it may shrink to. */
const MIN_RANK = 2;
const MIN_MORPHEME_ROWS = 64;

/** FNV-1a, for the rows rare morphemes share. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
export type Method = (typeof METHODS)[number];

export interface DecomposeOptions {
  method: Method;
  /** Compression by trainable parameters (dense V·d ÷ factor parameters); ignored when rank is given. */
  ratio: number;
  rank?: number;
  segmentation: "lexicon" | "random";
  /** see-xs and word2ketxs: the number of digit slots (word2ketXS's tensor order); 2 unless given. */
  order?: number;
  seed: number;
  isWord: (w: string) => boolean;
  sememes?: SememeSource;
}

export interface TokenKnowledge {
  piece: string;
  morphemes: string[];
  sememes: string[];
}

export interface Decomposition {
  /** Structure and indices; tables are zero until fitted. */
  factors: SeeFactors;
  knowledge: TokenKnowledge[];
}

export function decompose(pieces: string[], dim: number, replaces: string, opts: DecomposeOptions): Decomposition {
  const vocab = pieces.length;
  const knowledge: TokenKnowledge[] = pieces.map((piece) => ({ piece, morphemes: [], sememes: [] }));
  const sources: SeeSpec["sources"] = {};
  const slots: SlotSpec[] = [];
  const rows: SeeFactors["slots"] = [];

  const budget = (vocab * dim) / opts.ratio;
  /**
   * Morpheme slots over one shared table. When the budget cannot hold every distinct morpheme at
   * rank MIN_RANK (rows · q · rank <= what the other sources leave), the most used morphemes keep
   * their own rows and the rare tail shares hashed rows, as a smaller morpheme vocabulary would.
   */
  const morphemeSlots = (n: number, q: number, otherParams: number) => {
    const lists = pieces.map((p, t) => {
      const seg: Pieces = segment(p, opts.isWord);
      const parts = opts.segmentation === "random" ? randomSegment(p, seg.parts.length, opts.seed * 100003 + t) : seg;
      return (knowledge[t].morphemes = toSlots(parts, n));
    });
    const uses = new Map<string, number>();
    for (const list of lists) for (const m of list) uses.set(m, (uses.get(m) ?? 0) + 1);
    const byUse = [...uses.keys()].sort((a, b) => uses.get(b)! - uses.get(a)! || a.localeCompare(b));
    const fit = opts.rank ? byUse.length : Math.floor((budget / MIN_RANK - otherParams) / q);
    const tableRows = Math.max(Math.min(byUse.length, fit), Math.min(byUse.length, MIN_MORPHEME_ROWS));
    const own = byUse.length <= tableRows ? byUse.length : Math.floor(tableRows / 2);
    const table = new Map(byUse.slice(0, own).map((m, i) => [m, i]));
    for (const m of byUse.slice(own)) table.set(m, own + (hash(m) % (tableRows - own)));
    sources.morpheme = { rows: tableRows, q };
    for (let j = 0; j < n; j++) {
      slots.push({ source: "morpheme" });
      rows.push({ index: Int32Array.from(lists, (l) => table.get(l[j])!) });
    }
  };

  const sememeSlot = (q: number) => {
    const source = opts.sememes;
    if (!source) throw new SeecError("internal.see", "the see method needs a sememe source");
    const bags = pieces.map((p) => (/^<.*>$/.test(p) ? [] : source.sememesOf(splitMarker(p).body.toLowerCase())));
    const counts = new Map<string, number>();
    for (const b of bags) for (const s of b) counts.set(s, (counts.get(s) ?? 0) + 1);
    const table = new Map<string, number>([[NO_SEMEME, 0]]);
    for (const [s, c] of [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) if (c >= 2) table.set(s, table.size);
    const offsets = new Int32Array(vocab + 1);
    const ids: number[] = [];
    bags.forEach((b, t) => {
      const kept = b.filter((s) => table.has(s));
      knowledge[t].sememes = kept.length ? kept : [NO_SEMEME];
      for (const s of knowledge[t].sememes) ids.push(table.get(s)!);
      offsets[t + 1] = ids.length;
    });
    const idArray = Int32Array.from(ids);
    const weights = new Float32Array(ids.length);
    for (let t = 0; t < vocab; t++) weights.fill(1 / (offsets[t + 1] - offsets[t]), offsets[t], offsets[t + 1]);
    sources.sememe = { rows: table.size, q, null: 0 };
    slots.push({ source: "sememe", bag: "mean" });
    rows.push({ bag: { offsets, ids: idArray, weights } });
  };

  /**
   * word2ketXS's n digit slots (n = --order): the base-b digits (b = ceil(V^(1/n))) of each
   * token's place, most significant first when `mostSignificantFirst` (see-xs: tokens next to each
   * other in the order share the rows of the leading slots), least significant first otherwise (as
   * word2ketXS reads the id). Each slot's width from slotWidths: their product covers dim.
   */
  const digitSlots = (place: Int32Array, mostSignificantFirst: boolean) => {
    const n = opts.order ?? 2;
    let base = Math.max(1, Math.floor(Math.pow(vocab, 1 / n)));
    while (base ** n < vocab) base++;
    const widths = slotWidths(dim, n);
    for (let j = 0; j < n; j++) {
      const digit = mostSignificantFirst ? n - 1 - j : j;
      sources[`digit${j}`] = { rows: base, q: widths[j] };
      slots.push({ source: `digit${j}` });
      rows.push({ index: Int32Array.from(place, (k) => Math.floor(k / base ** digit) % base) });
    }
  };

  /**
   * Each token's place in the vocabulary ordered by knowledge: its first sememe, then its stem (the
   * longest morpheme), then the piece. Cut into bins of b places, a bin holds tokens of one meaning.
   */
  const knowledgeOrder = (): Int32Array => {
    const source = opts.sememes;
    if (!source) throw new SeecError("internal.see", "the see-xs method needs a sememe source");
    const keys = pieces.map((p, t) => {
      const parts = segment(p, opts.isWord).parts;
      const sememes = /^<.*>$/.test(p) ? [] : source.sememesOf(splitMarker(p).body.toLowerCase());
      knowledge[t].morphemes = parts;
      knowledge[t].sememes = sememes.length ? sememes : [NO_SEMEME];
      const stem = parts.reduce((a, b) => (b.length > a.length ? b : a), "");
      return `${sememes[0] ?? "\uffff"}\u0000${stem}\u0000${p}`;
    });
    const order = pieces.map((_, t) => t).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
    const place = new Int32Array(vocab);
    order.forEach((t, k) => (place[t] = k));
    return place;
  };

  switch (opts.method) {
    case "see": {
      const qs = dim >= 16 ? 4 : 2;
      sememeSlot(qs);
      morphemeSlots(2, Math.ceil(Math.sqrt(dim / qs)), sources.sememe.rows * qs);
      slots.push(slots.shift()!);
      rows.push(rows.shift()!);
      break;
    }
    case "morphte":
      morphemeSlots(3, Math.ceil(Math.cbrt(dim) - 1e-9), 0);
      break;
    case "word2ketxs":
      digitSlots(
        Int32Array.from({ length: vocab }, (_, t) => t),
        false,
      );
      break;
    case "see-xs":
      digitSlots(knowledgeOrder(), true);
      break;
    case "svd":
      sources.token = { rows: vocab, q: 1 };
      sources.basis = { rows: 1, q: dim };
      slots.push({ source: "token" }, { source: "basis" });
      rows.push({ index: Int32Array.from({ length: vocab }, (_, t) => t) }, { index: new Int32Array(vocab) });
      break;
  }

  const spec: SeeSpec = { format: "see/1", vocab, dim, rank: 1, sources, slots, norm: "none", replaces, method: opts.method };
  if (opts.method === "pq") return productQuantizer(spec, rows, budget, opts, knowledge);
  const perRank = parameterCount(spec);
  spec.rank = opts.rank ?? Math.floor(budget / perRank);
  if (spec.rank < 1)
    throw new SeecError(
      "usage.ratio",
      `--ratio ${opts.ratio} is out of reach for ${opts.method}: one rank term already has ${perRank} parameters (ratio ${((vocab * dim) / perRank).toFixed(1)})`,
      {
        at: "--ratio",
        hint: "choose a smaller ratio or another method",
      },
    );
  if (opts.method === "svd") spec.rank = Math.min(spec.rank, dim);
  if (opts.sememes)
    spec.knowledge = {
      sememes: opts.sememes.name,
      morphemes: opts.segmentation === "random" ? "random split" : "WordNet-checked affix split",
    };
  const tables = Object.fromEntries(Object.entries(sources).map(([name, s]) => [name, new Float32Array(spec.rank * s.rows * s.q)]));
  return { factors: { spec, tables, slots: rows }, knowledge };
}

/**
 * Product quantization in SEE's terms: rank term m is block m's one-hot selector (a 1-row source of
 * width M, trainable) ⊗ the token's codeword for block m (its index per rank term), so that the sum
 * over terms concatenates M codewords of width w = ceil(dim/M). M is --rank (dim/4 by default),
 * lowered where it would leave a block wholly past dim (--rank 100 of 256: blocks of 3, so 86); the
 * budget buys the codewords per block, K, up to 256 so that each code ships as one byte. Tables and
 * codes are zero here: fitProductQuantizer (k-means per block) fills them.
 */
function productQuantizer(spec: SeeSpec, rows: SeeFactors["slots"], budget: number, opts: DecomposeOptions, knowledge: TokenKnowledge[]) {
  const { vocab, dim } = spec;
  const width = Math.ceil(dim / (opts.rank ?? Math.max(1, Math.floor(dim / PQ_BLOCK_WIDTH))));
  const M = Math.ceil(dim / width);
  const K = Math.min(PQ_MAX_CODES, vocab, Math.floor((budget - M * M) / (M * width)));
  if (K < 2) {
    const least = M * M + 2 * M * width;
    // One block of the whole row, two codewords: the smallest pq there is. A table no larger than that, or of one token, pq cannot compress.
    if (vocab < 2 || 1 + 2 * dim >= vocab * dim)
      throw new SeecError(
        "usage.ratio",
        `pq cannot compress a ${vocab} × ${dim} embedding: even two codewords of the whole row take as many parameters as the table`,
        { at: "--method", hint: "choose another method" },
      );
    throw new SeecError(
      "usage.ratio",
      `--ratio ${opts.ratio} is out of reach for pq with ${M} block${M === 1 ? "" : "s"}: two codewords a block already take ${least} parameters (ratio ${((vocab * dim) / least).toFixed(1)})`,
      opts.rank !== undefined
        ? { at: "--rank", hint: `fewer blocks (--rank) or a smaller --ratio` }
        : { at: "--ratio", hint: "choose a smaller ratio, or fewer blocks (--rank)" },
    );
  }
  spec.rank = M;
  spec.sources.block = { rows: 1, q: M };
  spec.sources.code = { rows: K, q: width };
  spec.slots.push({ source: "block" }, { source: "code", perTerm: true });
  rows.push({ index: new Int32Array(vocab) }, { index: new Int32Array(M * vocab) });
  const tables = Object.fromEntries(Object.entries(spec.sources).map(([name, s]) => [name, new Float32Array(M * s.rows * s.q)]));
  return { factors: { spec, tables, slots: rows }, knowledge };
}

/**
 * Widths of n slots whose product covers dim, with the fewest parameters a rank term (the least
 * sum), then the least waste (the product nearest dim): 64 in 3 -> 4, 4, 4; 256 in 3 -> 8, 8, 4;
 * 256 in 2 -> 16, 16. Widest first.
 */
export function slotWidths(dim: number, n: number): number[] {
  let best: number[] = [];
  const score = (w: number[]) => [w.reduce((a, b) => a + b, 0), w.reduce((a, b) => a * b, 1)];
  const search = (left: number, max: number, chosen: number[]) => {
    if (chosen.length === n - 1) {
      const last = Math.ceil(left - 1e-9);
      if (last > max) return;
      const w = [...chosen, Math.max(1, last)];
      const [sum, product] = score(w),
        [bestSum, bestProduct] = best.length ? score(best) : [Infinity, Infinity];
      if (sum < bestSum || (sum === bestSum && product < bestProduct)) best = w;
      return;
    }
    // Widths far past the balanced root never give the least sum: search up to twice it.
    const cap = Math.min(max, Math.ceil(2 * left ** (1 / (n - chosen.length))) + 1);
    for (let q = cap; q >= 1; q--) {
      if (q ** (n - chosen.length) < left) break;
      search(left / q, q, [...chosen, q]);
    }
  };
  search(dim, dim, []);
  return best;
}
