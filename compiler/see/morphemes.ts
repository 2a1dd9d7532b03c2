/**
 * Morphemes of a vocabulary's pieces (SEE.md §4): tokenizer markers become a marker morpheme
 * (with the word's case, so "▁The" and "▁the" differ), and the rest is split into prefix, stem
 * and suffixes by an affix splitter that only accepts a split when the stem is a WordNet lemma.
 */
import { rng } from "../util/random.js";

/** Word-boundary markers of the common tokenizers: [marker, where it sits]. llama2.c's export writes "▁" as a space. */
const MARKERS: [string, "start" | "end"][] = [
  ["▁", "start"],
  [" ", "start"],
  ["Ġ", "start"],
  ["##", "start"],
  ["@@", "end"],
];
const SPECIAL = /^(<0x[0-9A-Fa-f]{2}>|<[^<>]*>|\[[A-Z]+\]|\s*<\/?s>\s*)$/;

const PREFIXES = [
  "counter",
  "inter",
  "under",
  "super",
  "trans",
  "over",
  "fore",
  "anti",
  "semi",
  "non",
  "mis",
  "dis",
  "pre",
  "sub",
  "un",
  "re",
  "in",
  "im",
  "en",
  "de",
];
const SUFFIXES = [
  "ation",
  "ition",
  "ness",
  "ment",
  "able",
  "ible",
  "less",
  "ship",
  "hood",
  "tion",
  "sion",
  "ing",
  "ful",
  "est",
  "ous",
  "ive",
  "ize",
  "ise",
  "ity",
  "ish",
  "ly",
  "ed",
  "er",
  "al",
  "en",
  "es",
  "y",
  "s",
];

export interface Pieces {
  /** The marker morpheme ("▁", "▁^" for a capitalised word...), if the piece has one. */
  marker?: string;
  /** Prefix, stem, suffixes, lower-cased. */
  parts: string[];
}

export function splitMarker(piece: string): { marker?: string; body: string } {
  for (const [m, where] of MARKERS) {
    if (where === "start" && piece.startsWith(m) && piece.length > m.length)
      return { marker: m === " " ? "▁" : m, body: piece.slice(m.length) };
    if (where === "end" && piece.endsWith(m) && piece.length > m.length) return { marker: m, body: piece.slice(0, -m.length) };
  }
  return { body: piece };
}

/** Splits a piece into morphemes, checking stems against the lexicon. */
export function segment(piece: string, isWord: (w: string) => boolean): Pieces {
  if (SPECIAL.test(piece)) return { parts: [piece] };
  const { marker, body } = splitMarker(piece);
  const cased = marker && /^[A-Z]/.test(body) ? `${marker}^` : marker;
  const lower = body.toLowerCase();
  if (!/^[a-z]+$/.test(lower) || lower.length < 4) return { marker: cased, parts: [lower] };

  const suffixes: string[] = [];
  let stem = lower;
  for (let round = 0; round < 2; round++) {
    const found = SUFFIXES.map((s) => [s, stemFor(stem, s, isWord)] as const).find(([, base]) => base !== undefined);
    if (!found) break;
    suffixes.unshift(found[0]);
    stem = found[1]!;
  }
  let prefix: string | undefined;
  for (const p of PREFIXES)
    if (stem.startsWith(p) && stem.length - p.length >= 3 && isWord(stem.slice(p.length))) {
      prefix = p;
      stem = stem.slice(p.length);
      break;
    }
  return { marker: cased, parts: [...(prefix ? [prefix] : []), stem, ...suffixes] };
}

/** The stem left by removing suffix s, if it is a word (allowing a restored "e" or an undoubled consonant). */
function stemFor(word: string, s: string, isWord: (w: string) => boolean): string | undefined {
  if (!word.endsWith(s) || word.length - s.length < 3) return undefined;
  const base = word.slice(0, -s.length);
  if (isWord(base)) return base;
  if (isWord(`${base}e`)) return `${base}e`;
  if (base.length >= 4 && base.at(-1) === base.at(-2) && isWord(base.slice(0, -1))) return base.slice(0, -1);
  if (base.endsWith("i") && isWord(`${base.slice(0, -1)}y`)) return `${base.slice(0, -1)}y`;
  return undefined;
}

/** The ablation: the same number of parts, cut at random places. */
export function randomSegment(piece: string, parts: number, seed: number): Pieces {
  if (SPECIAL.test(piece)) return { parts: [piece] };
  const { marker, body } = splitMarker(piece);
  const cased = marker && /^[A-Z]/.test(body) ? `${marker}^` : marker;
  const lower = body.toLowerCase();
  const k = Math.min(parts, lower.length);
  if (k <= 1) return { marker: cased, parts: [lower] };
  const r = rng(seed);
  const cuts = new Set<number>();
  while (cuts.size < k - 1) cuts.add(1 + Math.floor(r() * (lower.length - 1)));
  const at = [0, ...[...cuts].sort((a, b) => a - b), lower.length];
  return { marker: cased, parts: at.slice(1).map((end, i) => lower.slice(at[i], end)) };
}

/** Exactly n morphemes: the marker last, the tail merged when there are more, distinct pads when fewer. */
export function toSlots(p: Pieces, n: number): string[] {
  const all = [...p.parts, ...(p.marker ? [p.marker] : [])];
  const out = all.length > n ? [...all.slice(0, n - 1), all.slice(n - 1).join("+")] : all;
  while (out.length < n) out.push(`<pad${out.length}>`);
  return out;
}
