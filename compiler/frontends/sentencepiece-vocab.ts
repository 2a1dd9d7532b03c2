/** A SentencePiece vocabulary as TF.js models ship it: vocab.json, a list of [piece, score]. */
import { SeecError } from "../../runtime/errors.js";
import { readTokenizerJson } from "./tokenizer-json.js";
import type { SentencePieceSpec } from "../../runtime/tokenizers/sentencepiece.js";

/** Control symbols at the start of the vocabulary that segmentation never produces. */
const RESERVED = 6;

export async function readSentencePieceVocab(file: string, vocabSize: number): Promise<SentencePieceSpec> {
  const json = await readTokenizerJson(file, "the vocabulary", {
    hint: "a TF.js model's vocab.json sits beside model.json; or pass --tokenizer",
  });
  if (!Array.isArray(json)) throw new SeecError("input.tokenizer", "vocab.json must be a list of [piece, score]", { file });
  // USE-Lite's vocab.json has a few null scores; the reference's arithmetic reads them as 0.
  const pieces = json.map((p, i) => {
    if (!Array.isArray(p) || typeof p[0] !== "string" || (typeof p[1] !== "number" && p[1] !== null))
      throw new SeecError("input.tokenizer", `entry ${i} is not [piece, score]`, { file, at: `entry ${i}` });
    return [p[0], p[1] ?? 0];
  });
  if (!Array.isArray(pieces) || pieces.length > vocabSize || pieces.length <= RESERVED)
    throw new SeecError("mismatch.tokenizer", `the vocabulary has ${pieces.length} pieces; the model's embedding has ${vocabSize} rows`, {
      file,
    });
  return { type: "sentencepiece-unigram", pieces: pieces as [string, number][], reserved: RESERVED };
}
