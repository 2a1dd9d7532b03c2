/** Tokenizers by the `type` of their spec (tokenizer.json in an artifact). */
import { SeecError } from "../errors.js";
import { shown } from "../validate-manifest.js";
import { Llama2cTokenizer, type Llama2cTokenizerSpec } from "./llama2c-bpe.js";
import { SentencePieceTokenizer, type SentencePieceSpec } from "./sentencepiece.js";
import { HfTokenizer, type HfTokenizerSpec } from "./hf/index.js";

// The generation loop tells tokenizers apart by class; in an artifact without a tokenizer.json the class is a stub.
export { HfTokenizer };

/** Every spec this runtime reads; a Hugging Face tokenizer.json runs only here, never in a WASI program's tables. */
export type TokenizerSpec = Llama2cTokenizerSpec | SentencePieceSpec | HfTokenizerSpec;
export type Tokenizer = Llama2cTokenizer | SentencePieceTokenizer | HfTokenizer;

/** The spec each tokenizer was made from. */
const SPECS = new WeakMap<Tokenizer, TokenizerSpec>();

/** The tokenizer a spec describes, its fields checked first: a bad one is input.tokenizer naming the field (`file`: where the spec was read). */
export function createTokenizer(spec: TokenizerSpec, file?: string): Tokenizer {
  validateTokenizerSpec(spec, file);
  const tokenizer =
    spec.type === "llama2c-bpe"
      ? new Llama2cTokenizer(spec)
      : spec.type === "hf-tokenizer-json"
        ? new HfTokenizer(spec, file)
        : new SentencePieceTokenizer(spec);
  SPECS.set(tokenizer, spec);
  return tokenizer;
}

/** The spec a tokenizer was made from (a worker sends it to the page, which makes its own copy). */
export function specOf(tokenizer: Tokenizer): TokenizerSpec | undefined {
  return SPECS.get(tokenizer);
}

/** Every field a tokenizer reads, of its type and in range: never a TypeError from a null or a string where a list belongs. */
export function validateTokenizerSpec(spec: unknown, file?: string): asserts spec is TokenizerSpec {
  const bad = (at: string | undefined, what: string): never => {
    throw new SeecError("input.tokenizer", at ? `${at} ${what}` : what, { file, at });
  };
  if (typeof spec !== "object" || spec === null || Array.isArray(spec))
    return bad(undefined, `a tokenizer spec must be an object, got ${shown(spec)}`);
  const s = spec as Record<string, unknown>;
  const list = (at: string): unknown[] => (Array.isArray(s[at]) ? (s[at] as unknown[]) : bad(at, `must be a list, got ${shown(s[at])}`));
  const id = (at: string, below: number): void => {
    const x = s[at];
    if (!Number.isSafeInteger(x) || (x as number) < 0 || (x as number) >= below)
      bad(at, `must be a token id from 0 to ${below - 1}, got ${shown(x)}`);
  };
  if (s.type === "llama2c-bpe") {
    const pieces = list("pieces");
    const scores = list("scores");
    pieces.forEach((p, i) => typeof p === "string" || bad(`pieces[${i}]`, `must be a string, got ${shown(p)}`));
    if (scores.length !== pieces.length) bad("scores", `has ${scores.length} entries for ${pieces.length} pieces`);
    scores.forEach((x, i) => (typeof x === "number" && Number.isFinite(x)) || bad(`scores[${i}]`, `must be a number, got ${shown(x)}`));
    id("bosId", pieces.length);
    id("eosId", pieces.length);
    if (s.specials !== undefined)
      list("specials").forEach(
        (x, i) =>
          (Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) < pieces.length) ||
          bad(`specials[${i}]`, `must be a token id from 0 to ${pieces.length - 1}, got ${shown(x)}`),
      );
    checkChat(s.chat, bad);
  } else if (s.type === "sentencepiece-unigram") {
    const pieces = list("pieces");
    pieces.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || typeof p[1] !== "number" || !Number.isFinite(p[1]))
        bad(`pieces[${i}]`, `must be [piece, score], got ${shown(p)}`);
    });
    // Segmentation's unknown symbol is id 0, and its backtrack steps back by that piece's length.
    if (pieces.length === 0 || (pieces[0] as [string, number])[0].length === 0)
      bad("pieces[0]", "must be the unknown piece, a string of at least one character");
    if (!Number.isSafeInteger(s.reserved) || (s.reserved as number) < 0 || (s.reserved as number) > pieces.length)
      bad("reserved", `must be a whole number from 0 to ${pieces.length}, got ${shown(s.reserved)}`);
  } else if (s.type === "hf-tokenizer-json") {
    // Only the envelope here: the HF tokenizer checks each component it reads, naming the field.
    const t = s.tokenizer;
    if (typeof t !== "object" || t === null || Array.isArray(t)) bad("tokenizer", `must be a tokenizer.json object, got ${shown(t)}`);
    checkChat(s.chat, bad);
  } else bad("type", `${shown(s.type)} is not a tokenizer type this runtime knows (llama2c-bpe, sentencepiece-unigram, hf-tokenizer-json)`);
}

/** A chat template's fields (a Hugging Face tokenizer's or a GGUF file's), where the spec carries one. */
function checkChat(value: unknown, bad: (at: string, what: string) => never): void {
  if (value === undefined) return;
  const chat = value as Record<string, unknown>;
  if (typeof chat !== "object" || chat === null || typeof chat.template !== "string")
    bad("chat.template", `must be a string, got ${shown(chat?.template)}`);
  if (chat.toolUse !== undefined && typeof chat.toolUse !== "string") bad("chat.toolUse", `must be a string, got ${shown(chat.toolUse)}`);
  const tokens = chat.tokens as Record<string, unknown>;
  if (typeof tokens !== "object" || tokens === null || Array.isArray(tokens)) bad("chat.tokens", `must be an object, got ${shown(tokens)}`);
  for (const [k, v] of Object.entries(tokens)) if (typeof v !== "string") bad(`chat.tokens.${k}`, `must be a string, got ${shown(v)}`);
}

/** The piece of every id, for tools that look at the vocabulary (padded with <id:N> up to vocab). */
export function vocabularyPieces(spec: TokenizerSpec, vocab: number): string[] {
  const pieces =
    spec.type === "llama2c-bpe"
      ? spec.pieces
      : spec.type === "hf-tokenizer-json"
        ? new HfTokenizer(spec).tokens
        : spec.pieces.map(([p]) => p);
  return Array.from({ length: vocab }, (_, i) => pieces[i] ?? `<id:${i}>`);
}

/** Token ids of a text without control tokens (no BOS/EOS). */
export function plainIds(t: Tokenizer, text: string): number[] {
  if (t instanceof HfTokenizer) return t.encode(text, { addSpecialTokens: false });
  return t instanceof Llama2cTokenizer ? t.encode(text, { bos: false }) : t.encode(text);
}
