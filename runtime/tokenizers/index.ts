/** Tokenizers by the `type` of their spec (tokenizer.json in an artifact). */
import { SeecError } from "../errors.js";
import { Llama2cTokenizer, type Llama2cTokenizerSpec } from "./llama2c-bpe.js";
import { SentencePieceTokenizer, type SentencePieceSpec } from "./sentencepiece.js";

export type TokenizerSpec = Llama2cTokenizerSpec | SentencePieceSpec;
export type Tokenizer = Llama2cTokenizer | SentencePieceTokenizer;

export function createTokenizer(spec: TokenizerSpec): Tokenizer {
  if (spec.type === "llama2c-bpe") return new Llama2cTokenizer(spec);
  if (spec.type === "sentencepiece-unigram") return new SentencePieceTokenizer(spec);
  throw new SeecError("input.tokenizer", `unknown tokenizer type ${JSON.stringify((spec as { type: unknown }).type)}`);
}

/** The piece of every id, for tools that look at the vocabulary (padded with <id:N> up to vocab). */
export function vocabularyPieces(spec: TokenizerSpec, vocab: number): string[] {
  const pieces = spec.type === "llama2c-bpe" ? spec.pieces : spec.pieces.map(([p]) => p);
  return Array.from({ length: vocab }, (_, i) => pieces[i] ?? `<id:${i}>`);
}

/** Token ids of a text without control tokens (no BOS/EOS). */
export function plainIds(t: Tokenizer, text: string): number[] {
  return t instanceof Llama2cTokenizer ? t.encode(text, { bos: false }) : t.encode(text);
}
