// The tokenizers on small vocabularies written out here, so each rule is seen on its own: BPE
// merges by score (ties to the leftmost pair), byte fallback, BOS/EOS, what a piece prints after
// BOS and for control bytes; unigram segmentation with reserved ids and unknown runs; and every
// field the spec validation checks. The real vocabularies are tested against their references in
// test/frontends/llama2c-tokenizer.test.ts and test/runtime/sentencepiece.test.ts.
import { beforeEach, describe, expect, it } from "vitest";
import { createTokenizer, plainIds, validateTokenizerSpec, vocabularyPieces, type TokenizerSpec } from "../../runtime/tokenizers/index.js";
import { Llama2cTokenizer, printedPieces, type Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import { SentencePieceTokenizer, type SentencePieceSpec } from "../../runtime/tokenizers/sentencepiece.js";
import { catchSeec } from "../helpers/errors.js";

const BYTES = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
const byte = (b: number) => b + 3;
// 259 " ", 260 "a", 261 "b", 262 "c", 263 "ab", 264 " a", 265 "abc", 266 "ca", 267 "a" again.
const EXTRA: [string, number][] = [
  [" ", 0],
  ["a", 0],
  ["b", 0],
  ["c", 0],
  ["ab", 1],
  [" a", 2],
  ["abc", 3],
  ["ca", 1],
  ["a", 5],
];
const BPE: Llama2cTokenizerSpec = {
  type: "llama2c-bpe",
  pieces: ["<unk>", "<s>", "</s>", ...BYTES, ...EXTRA.map(([p]) => p)],
  scores: [0, 0, 0, ...BYTES.map(() => 0), ...EXTRA.map(([, s]) => s)],
  bosId: 1,
  eosId: 2,
};

describe("llama2.c BPE on a small vocabulary", () => {
  let tok: Llama2cTokenizer;
  beforeEach(() => {
    tok = new Llama2cTokenizer(BPE);
  });

  it("merges the best-scoring pair first, the leftmost of equal scores", () => {
    expect(tok.encode("ab")).toEqual([1, 264, 261]); // " a" (2) before "ab" (1)
    expect(tok.encode("a", { bos: false })).toEqual([264]); // a merge at the first position
    expect(tok.encode("cab", { bos: false })).toEqual([259, 266, 261]); // "ca" and "ab" tie: "ca" is leftmost
    expect(tok.encode("bab", { bos: false })).toEqual([259, 261, 263]);
    expect(tok.encode("ba", { bos: false })).toEqual([259, 261, 260]); // a piece listed twice is its first id
  });

  it("falls back to bytes, and adds BOS and EOS only when asked", () => {
    expect(tok.encode("é", { bos: false })).toEqual([259, byte(0xc3), byte(0xa9)]);
    expect(tok.encode("", { bos: false })).toEqual([]);
    expect(tok.encode("")).toEqual([1]);
    expect(tok.encode("b", { eos: true })).toEqual([1, 259, 261, 2]);
    expect(plainIds(tok, "b")).toEqual([259, 261]);
    expect(tok.vocabSize).toBe(BPE.pieces.length);
  });

  it("bounds the token count from below by the longest piece", () => {
    // The longest piece prints 5 bytes ("<unk>"); "abcabcabca" and its leading space are 11.
    expect(tok.minTokens("abcabcabca")).toBe(4);
    expect(tok.minTokens("abcabcabca", { bos: false })).toBe(3);
    expect(tok.minTokens("")).toBe(1);
    expect(tok.minTokens("", { bos: false })).toBe(0);
  });

  it("prints pieces as llama2.c does: no leading space after BOS, nothing for a lone control byte", () => {
    const printed = (prev: number, token: number) => Array.from(tok.pieceBytes(prev, token));
    expect(printed(1, 264)).toEqual([0x61]);
    expect(printed(260, 264)).toEqual([0x20, 0x61]);
    expect(printed(1, 260)).toEqual([0x61]);
    expect(printed(260, 0)).toEqual(Array.from(new TextEncoder().encode("<unk>")));
    for (const b of [0x00, 0x01, 0x08, 0x0e, 0x1f, 0x7f]) expect(printed(260, byte(b))).toEqual([]);
    for (const b of [0x09, 0x0a, 0x0d, 0x20, 0x41]) expect(printed(260, byte(b))).toEqual([b]);
    expect(tok.decode([259, 260, byte(0xc3), byte(0xa9)], 260)).toBe(" aé");
    expect(tok.decode([264, 261])).toBe("ab");
  });

  it("refuses token ids outside the vocabulary", () => {
    expect(tok.pieceBytes(260, BPE.pieces.length - 1)).toEqual(new TextEncoder().encode("a"));
    for (const id of [-1, BPE.pieces.length]) {
      const e = catchSeec(() => tok.pieceBytes(260, id));
      expect([e.code, e.message]).toEqual(["runtime.token", `token id ${id} is outside the vocabulary [0, ${BPE.pieces.length})`]);
    }
  });

  it("says when the vocabulary has no piece for the leading space", () => {
    const e = catchSeec(() => new Llama2cTokenizer({ ...BPE, pieces: BPE.pieces.map((p) => (p === " " ? "_" : p)) }).encode("a"));
    expect([e.code, e.message]).toEqual(["input.tokenizer", 'the tokenizer has no piece for " "']);
  });

  it("reads a byte piece only when the whole piece is <0xNN>", () => {
    expect(printedPieces(["<0x41>", "x<0x41>", "<0x41>y", "<0x4G>"]).map((b) => new TextDecoder().decode(b))).toEqual([
      "A",
      "x<0x41>",
      "<0x41>y",
      "<0x4G>",
    ]);
  });
});

const UNIGRAM: SentencePieceSpec = {
  type: "sentencepiece-unigram",
  // A one-character unknown piece: the backtrack steps back by its length over an unknown run.
  pieces: [
    ["?", 0],
    ["<s>", 0],
    ["</s>", 0],
    ["▁", -1],
    ["a", -2],
    ["b", -2],
    ["▁a", -1],
    ["ab", -1.5],
    ["▁ab", -0.5],
  ],
  reserved: 3,
};

describe("SentencePiece unigram on a small vocabulary", () => {
  // Built in each test, not once per file: Stryker's mutants are active only while a test runs.
  let tok: SentencePieceTokenizer;
  beforeEach(() => {
    tok = new SentencePieceTokenizer(UNIGRAM);
  });

  it("takes the best-scoring segmentation", () => {
    expect(tok.encode("ab")).toEqual([8]);
    expect(tok.encode("a b")).toEqual([6, 3, 5]);
    expect(tok.encode("")).toEqual([]);
    expect(tok.vocabSize).toBe(9);
  });

  it("makes a run of uncovered characters one unknown id, wherever it is", () => {
    expect(tok.encode("a☃☃b")).toEqual([6, 0, 5]);
    expect(tok.encode("a☃")).toEqual([6, 0]);
    expect(tok.encode("☃a")).toEqual([3, 0, 4]);
  });

  it("never produces a reserved id, even for its text", () => {
    expect(tok.encode("<s>")).toEqual([3, 0]);
    expect(createTokenizer(UNIGRAM).encode("<s>")).toEqual([3, 0]);
  });
});

describe("tokenizer specs", () => {
  it("gives every id its piece, padded to the vocabulary", () => {
    expect(vocabularyPieces(UNIGRAM, 11).slice(7)).toEqual(["ab", "▁ab", "<id:9>", "<id:10>"]);
    expect(vocabularyPieces(BPE, BPE.pieces.length + 1).slice(-3)).toEqual(["ca", "a", `<id:${BPE.pieces.length}>`]);
    expect(plainIds(createTokenizer(UNIGRAM), "ab")).toEqual([8]);
    expect(createTokenizer(BPE)).toBeInstanceOf(Llama2cTokenizer);
  });

  const small = { type: "llama2c-bpe", pieces: ["<unk>", "<s>", " "], scores: [0, 0, 0], bosId: 1, eosId: 2 };
  const uni = {
    type: "sentencepiece-unigram",
    pieces: [
      ["<unk>", 0],
      ["▁", -1],
    ],
    reserved: 1,
  };
  it.each([
    ["not an object", [], undefined, "a tokenizer spec must be an object, got []"],
    ["a string", "abc", undefined, 'a tokenizer spec must be an object, got "abc"'],
    ["null", null, undefined, "a tokenizer spec must be an object, got null"],
    [
      "an unknown type",
      { ...small, type: "wordpiece" },
      "type",
      'type "wordpiece" is not a tokenizer type this runtime knows (llama2c-bpe, sentencepiece-unigram, hf-tokenizer-json)',
    ],
    ["pieces not a list", { ...small, pieces: "abc" }, "pieces", 'pieces must be a list, got "abc"'],
    ["a piece not a string", { ...small, pieces: ["<unk>", 5, " "] }, "pieces[1]", "pieces[1] must be a string, got 5"],
    ["scores not a list", { ...small, scores: null }, "scores", "scores must be a list, got null"],
    ["scores short", { ...small, scores: [0, 0] }, "scores", "scores has 2 entries for 3 pieces"],
    ["a score not finite", { ...small, scores: [0, 0, "1"] }, "scores[2]", 'scores[2] must be a number, got "1"'],
    ["a score infinite", { ...small, scores: [0, Infinity, 0] }, "scores[1]", "scores[1] must be a number, got Infinity"],
    ["bosId too big", { ...small, bosId: 3 }, "bosId", "bosId must be a token id from 0 to 2, got 3"],
    ["bosId negative", { ...small, bosId: -1 }, "bosId", "bosId must be a token id from 0 to 2, got -1"],
    ["eosId not whole", { ...small, eosId: 1.5 }, "eosId", "eosId must be a token id from 0 to 2, got 1.5"],
    ["unigram pieces not a list", { ...uni, pieces: {} }, "pieces", "pieces must be a list, got {}"],
    ["a unigram piece not a pair", { ...uni, pieces: [["<unk>", 0], "▁"] }, "pieces[1]", 'pieces[1] must be [piece, score], got "▁"'],
    [
      "a unigram piece of three",
      {
        ...uni,
        pieces: [
          ["<unk>", 0],
          ["▁", -1, 2],
        ],
      },
      "pieces[1]",
      'pieces[1] must be [piece, score], got ["▁",-1,2]',
    ],
    [
      "a unigram piece not a string",
      {
        ...uni,
        pieces: [
          ["<unk>", 0],
          [1, -1],
        ],
      },
      "pieces[1]",
      "pieces[1] must be [piece, score], got [1,-1]",
    ],
    [
      "a unigram score not a number",
      {
        ...uni,
        pieces: [
          ["<unk>", 0],
          ["▁", "x"],
        ],
      },
      "pieces[1]",
      'pieces[1] must be [piece, score], got ["▁","x"]',
    ],
    [
      "a unigram score not finite",
      {
        ...uni,
        pieces: [
          ["<unk>", 0],
          ["▁", Infinity],
        ],
      },
      "pieces[1]",
      'pieces[1] must be [piece, score], got ["▁",null]',
    ],
    ["no unknown piece", { ...uni, pieces: [] }, "pieces[0]", "pieces[0] must be the unknown piece, a string of at least one character"],
    [
      "an empty unknown piece",
      { ...uni, pieces: [["", 0]] },
      "pieces[0]",
      "pieces[0] must be the unknown piece, a string of at least one character",
    ],
    ["reserved past the pieces", { ...uni, reserved: 3 }, "reserved", "reserved must be a whole number from 0 to 2, got 3"],
    ["reserved negative", { ...uni, reserved: -1 }, "reserved", "reserved must be a whole number from 0 to 2, got -1"],
    ["reserved not whole", { ...uni, reserved: 0.5 }, "reserved", "reserved must be a whole number from 0 to 2, got 0.5"],
  ])("%s is input.tokenizer naming the field", (_what, spec, at, message) => {
    const e = catchSeec(() => validateTokenizerSpec(spec, "tok.json"));
    expect([e.code, e.at, e.file, e.message]).toEqual(["input.tokenizer", at, "tok.json", message]);
  });

  it("accepts the ends of each range", () => {
    for (const spec of [
      { ...small, bosId: 0, eosId: 2 },
      { ...uni, reserved: 0 },
      { ...uni, reserved: 2 },
    ])
      expect(() => validateTokenizerSpec(spec as TokenizerSpec)).not.toThrow();
  });
});
