/**
 * tokenizer.json's pre-tokenizers: each turns the pieces of a text into finer pieces, as Hugging
 * Face's PreTokenizedString::split does (offsets are not kept: seec needs only the ids).
 */
import { type Json, malformed, unsupported, WHITESPACE } from "./config.js";
import { GPT2_PATTERN, toByteChars } from "./byte-level.js";
import { pattern } from "./regex.js";
import { BEHAVIORS, type Behavior, charMatches, regexMatches, split } from "./split.js";

/** `first`: whether pieces[0] starts where the original text starts (Metaspace's prepend_scheme "first" asks). */
export type PreTokenizer = (pieces: string[], first: boolean) => string[];

/** BERT's punctuation: ASCII punctuation and symbols, and Unicode's P categories. */
const isPunctuation = (ch: string) => /[!-/:-@[-`{-~]|\p{P}/u.test(ch);
const isWhitespace = (ch: string) => WHITESPACE.test(ch);
const isNumeric = (ch: string) => /\p{N}/u.test(ch);
/** Rust's regex \w and \s, for the Whitespace pre-tokenizer's `\w+|[^\w\s]+`. */
const WORDS = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;

const each =
  (f: (piece: string) => string[]): PreTokenizer =>
  (pieces) =>
    pieces.flatMap(f);

function behavior(b: unknown, fallback: Behavior, file?: string): Behavior {
  if (b === undefined || b === null) return fallback;
  return BEHAVIORS.includes(b as string) ? (b as Behavior) : unsupported("split behavior", b, file);
}

export function preTokenizer(p: Json | null | undefined, file?: string): PreTokenizer | undefined {
  if (!p) return undefined;
  switch (p.type) {
    case "ByteLevel": {
      const prefix = p.add_prefix_space ?? true;
      const regex = p.use_regex ?? true;
      return each((piece) => {
        if (prefix && !piece.startsWith(" ")) piece = " " + piece;
        return (regex ? split(piece, regexMatches(piece, GPT2_PATTERN), "Isolated") : [piece]).map(toByteChars);
      });
    }
    case "BertPreTokenizer":
      return each((piece) =>
        split(piece, charMatches(piece, isWhitespace), "Removed").flatMap((w) => split(w, charMatches(w, isPunctuation), "Isolated")),
      );
    case "Whitespace":
      return each((piece) => split(piece, regexMatches(piece, WORDS), "Removed", true));
    case "WhitespaceSplit":
      return each((piece) => split(piece, charMatches(piece, isWhitespace), "Removed"));
    case "Punctuation": {
      const b = behavior(p.behavior, "Isolated", file);
      return each((piece) => split(piece, charMatches(piece, isPunctuation), b));
    }
    case "Digits": {
      const b: Behavior = p.individual_digits ? "Isolated" : "Contiguous";
      return each((piece) => split(piece, charMatches(piece, isNumeric), b));
    }
    case "Split": {
      const re = pattern(p.pattern, file);
      const b = behavior(p.behavior, "Isolated", file);
      return each((piece) => split(piece, regexMatches(piece, re), b, !!p.invert));
    }
    case "Metaspace":
      return metaspace(p, file);
    case "Sequence": {
      if (!Array.isArray(p.pretokenizers)) malformed("pre_tokenizer.pretokenizers", "must be a list", file);
      const steps = (p.pretokenizers as Json[]).map((x) => preTokenizer(x, file)).filter((x): x is PreTokenizer => !!x);
      return (pieces, first) => steps.reduce((ps, f) => f(ps, first), pieces);
    }
    default:
      return unsupported("pre_tokenizer", p.type, file);
  }
}

/** The replacement character's scheme: newer files say prepend_scheme, older ones add_prefix_space. */
export function prependScheme(p: Json, file?: string): "always" | "first" | "never" {
  const scheme = p.prepend_scheme ?? (p.add_prefix_space === false ? "never" : "always");
  return ["always", "first", "never"].includes(scheme) ? scheme : unsupported("metaspace prepend_scheme", scheme, file);
}

/** SentencePiece's spaces: each " " becomes the replacement (▁), one is prepended, and words split before each ▁. */
function metaspace(p: Json, file?: string): PreTokenizer {
  const rep = String(p.replacement ?? "\u2581");
  const scheme = prependScheme(p, file);
  const splitWords = p.split ?? true;
  const literal = new RegExp(rep.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"), "gu");
  return (pieces, first) =>
    pieces.flatMap((piece, i) => {
      piece = piece.replaceAll(" ", rep);
      if (!piece.startsWith(rep) && (scheme === "always" || (scheme === "first" && first && i === 0))) piece = rep + piece;
      return splitWords ? split(piece, regexMatches(piece, literal), "MergedWithNext") : [piece];
    });
}
