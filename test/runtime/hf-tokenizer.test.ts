// The Hugging Face tokenizer.json reader on small hand-written files: its registration among the
// runtime's tokenizers, the refusal of everything it does not implement (never a silent wrong id),
// and the Rust library's rules where @huggingface/tokenizers (the parity test's oracle) departs
// from them: Punctuation isolates each mark by default, Metaspace splits before each ▁,
// Lowercase has no final-sigma rule, Digits and Whitespace are Unicode-aware, truncation.
import { describe, expect, it } from "vitest";
import { createTokenizer, plainIds, vocabularyPieces } from "../../runtime/tokenizers/index.js";
import { HfTokenizer, type HfTokenizerSpec } from "../../runtime/tokenizers/hf/index.js";
import { decoder } from "../../runtime/tokenizers/hf/decoders.js";
import { normalizer } from "../../runtime/tokenizers/hf/normalizers.js";
import { preTokenizer } from "../../runtime/tokenizers/hf/pre-tokenizers.js";
import { catchSeec } from "../helpers/errors.js";

type Json = Record<string, unknown>;
const FILE = "models/tiny/tokenizer.json";

/** A WordPiece tokenizer over the letters a-e, "ab", "##b", "##c", [UNK], [CLS], [SEP]. */
function tiny(extra: Json = {}): HfTokenizerSpec {
  const tokens = ["[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d", "e", "ab", "##b", "##c", "!"];
  return {
    type: "hf-tokenizer-json",
    tokenizer: {
      version: "1.0",
      added_tokens: [
        { id: 1, content: "[CLS]", special: true, normalized: false },
        { id: 2, content: "[SEP]", special: true, normalized: false },
      ],
      normalizer: null,
      pre_tokenizer: { type: "WhitespaceSplit" },
      post_processor: { type: "BertProcessing", cls: ["[CLS]", 1], sep: ["[SEP]", 2] },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      },
      ...extra,
    },
  };
}

describe("Hugging Face tokenizer.json in the runtime", () => {
  it("is created from its spec type, with and without the post-processor's special tokens", () => {
    const tok = createTokenizer(tiny(), FILE);
    expect(tok).toBeInstanceOf(HfTokenizer);
    const hf = tok as HfTokenizer;
    expect(hf.encode("abc d")).toEqual([1, 8, 10, 6, 2]);
    expect(hf.encode("abc d", { addSpecialTokens: false })).toEqual([8, 10, 6]);
    expect(plainIds(hf, "abc d")).toEqual([8, 10, 6]);
    expect(hf.encode("xyz a")).toEqual([1, 0, 3, 2]);
    expect(hf.decode([1, 8, 10, 6, 2])).toBe("[CLS] abc d [SEP]");
    expect(hf.decode([1, 8, 10, 6, 2], { skipSpecialTokens: true })).toBe("abc d");
    expect(vocabularyPieces(tiny(), 13).slice(-3)).toEqual(["##c", "!", "<id:12>"]);
  });

  it("cuts added tokens out before the model, with lstrip and rstrip taking the spaces beside them", () => {
    const added = [
      { id: 1, content: "[CLS]", special: true, normalized: false },
      { id: 2, content: "[SEP]", special: true, normalized: false, lstrip: true, rstrip: true },
    ];
    const hf = new HfTokenizer(tiny({ added_tokens: added, pre_tokenizer: null }), FILE);
    // Without a pre-tokenizer the spaces would reach WordPiece as part of a word (and make it unknown).
    expect(hf.encode("ab [SEP] c", { addSpecialTokens: false })).toEqual([8, 2, 5]);
    expect(hf.encode("[CLS]ab", { addSpecialTokens: false })).toEqual([1, 8]);
  });

  it("truncates to max_length counting the special tokens, from the side the file names", () => {
    expect(new HfTokenizer(tiny({ truncation: { max_length: 4, direction: "Right" } })).encode("a b c d e")).toEqual([1, 3, 4, 2]);
    expect(new HfTokenizer(tiny({ truncation: { max_length: 4, direction: "Left" } })).encode("a b c d e")).toEqual([1, 6, 7, 2]);
    expect(new HfTokenizer(tiny({ truncation: { max_length: 4 } })).encode("a b c d e", { addSpecialTokens: false })).toEqual([3, 4, 5, 6]);
  });

  it("refuses an id outside the vocabulary when decoding", () => {
    expect(catchSeec(() => new HfTokenizer(tiny()).decode([3, 99])).code).toBe("runtime.token");
  });
});

describe("what the reader does not implement is refused by name", () => {
  const cases: [string, Json, string][] = [
    ["the Precompiled normalizer", { normalizer: { type: "Precompiled", precompiled_charsmap: "" } }, "Precompiled"],
    ["an unknown pre-tokenizer", { pre_tokenizer: { type: "FixedLength", length: 3 } }, "FixedLength"],
    ["an unknown decoder", { decoder: { type: "CTC" } }, "CTC"],
    ["an unknown post-processor", { post_processor: { type: "Unknown" } }, "Unknown"],
    ["a pair-only template", { post_processor: { type: "TemplateProcessing", single: [], special_tokens: {} } }, "template"],
    ["BPE dropout", { model: { type: "BPE", dropout: 0.1, vocab: { a: 0 }, merges: [] } }, "dropout"],
    ["a WordLevel model", { model: { type: "WordLevel", vocab: { a: 0 }, unk_token: "a" } }, "WordLevel"],
    ["an atomic group in a regex", { pre_tokenizer: { type: "Split", pattern: { Regex: "(?>a+)b" }, behavior: "Isolated" } }, "(?>a+)b"],
    [
      "a letter class in a case-insensitive group",
      { pre_tokenizer: { type: "Split", pattern: { Regex: "(?i:[a-z]+)" }, behavior: "Isolated" } },
      "regex",
    ],
    ["a nested class", { pre_tokenizer: { type: "Split", pattern: { Regex: "[a[b]]" }, behavior: "Isolated" } }, "regex"],
    ["an unknown split behavior", { pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "Sideways" } }, "Sideways"],
    ["padding to a fixed length", { padding: { strategy: { Fixed: 8 }, pad_id: 0 } }, "padding"],
  ];
  it.each(cases)("%s", (_what, change, named) => {
    const e = catchSeec(() => createTokenizer(tiny(change), FILE));
    expect(e.code).toBe("unsupported.tokenizer");
    expect(e.file).toBe(FILE);
    expect(e.message).toContain(named);
  });

  it("reads a damaged file as input.tokenizer, naming the field", () => {
    expect(catchSeec(() => createTokenizer({ type: "hf-tokenizer-json", tokenizer: null } as never, FILE)).code).toBe("input.tokenizer");
    const e = catchSeec(() => createTokenizer(tiny({ model: { type: "BPE", vocab: { a: 0 }, merges: ["a z"] } }), FILE));
    expect([e.code, e.at]).toEqual(["input.tokenizer", "model.merges[0]"]);
  });
});

describe("components follow Hugging Face's Rust library", () => {
  const pre = (json: Json, text: string, first = true) => preTokenizer(json)!([text], first);

  it("Punctuation isolates each mark unless told otherwise; BertPreTokenizer drops whitespace", () => {
    expect(pre({ type: "Punctuation" }, "a!!b")).toEqual(["a", "!", "!", "b"]);
    expect(pre({ type: "Punctuation", behavior: "Contiguous" }, "a!!b")).toEqual(["a", "!!", "b"]);
    expect(pre({ type: "BertPreTokenizer" }, " Hi,\u3000there! ")).toEqual(["Hi", ",", "there", "!"]);
  });

  it("Digits and Whitespace see Unicode digits and letters", () => {
    expect(pre({ type: "Digits", individual_digits: false }, "a١٢b34")).toEqual(["a", "١٢", "b", "34"]);
    expect(pre({ type: "Digits", individual_digits: true }, "x12")).toEqual(["x", "1", "2"]);
    expect(pre({ type: "Whitespace" }, "Café, naïve!")).toEqual(["Café", ",", "naïve", "!"]);
  });

  it("Split folds matches by behavior and inverts", () => {
    const split = (behavior: string, invert = false) => pre({ type: "Split", pattern: { String: "-" }, behavior, invert }, "a-b--c");
    expect(split("Removed")).toEqual(["a", "b", "c"]);
    expect(split("Isolated")).toEqual(["a", "-", "b", "-", "-", "c"]);
    expect(split("MergedWithPrevious")).toEqual(["a-", "b-", "-", "c"]);
    expect(split("MergedWithNext")).toEqual(["a", "-b", "-", "-c"]);
    expect(split("Contiguous")).toEqual(["a", "-", "b", "--", "c"]);
    expect(split("Removed", true)).toEqual(["-", "-", "-"]); // each match its own piece, as in Rust
    expect(pre({ type: "Split", pattern: { Regex: "(?i:'S|'T)" }, behavior: "Isolated" }, "IT'S it's")).toEqual(["IT", "'S", " it", "'s"]);
  });

  it("Metaspace replaces spaces, prepends by its scheme and splits before each ▁", () => {
    expect(pre({ type: "Metaspace", replacement: "▁", prepend_scheme: "always" }, "Hey  you")).toEqual(["▁Hey", "▁", "▁you"]);
    expect(pre({ type: "Metaspace", replacement: "▁", prepend_scheme: "first" }, "you", false)).toEqual(["you"]);
    expect(pre({ type: "Metaspace", replacement: "▁", add_prefix_space: true, split: false }, "a b")).toEqual(["▁a▁b"]);
  });

  it("ByteLevel maps bytes to GPT-2's alphabet, with its regex and prefix space", () => {
    expect(pre({ type: "ByteLevel", add_prefix_space: true, use_regex: true }, "Hi  é!")).toEqual(["ĠHi", "Ġ", "ĠÃ©", "!"]);
  });

  it("Lowercase goes character by character (no final sigma), BertNormalizer pads CJK beyond the BMP", () => {
    expect(normalizer({ type: "Lowercase" })!("ΟΔΟΣ")).toBe("οδοσ");
    expect(normalizer({ type: "BertNormalizer", lowercase: false })!("a\u0000b\u200bc𠀀d\te")).toBe("abc 𠀀 d e");
    expect(normalizer({ type: "BertNormalizer", lowercase: true })!("Élan")).toBe("elan");
    expect(normalizer({ type: "Strip", strip_left: true, strip_right: false })!("\u3000 a ")).toBe("a ");
  });

  it("decoders: byte fallback's invalid bytes are one U+FFFD each; Strip and Metaspace as in Rust", () => {
    expect(decoder({ type: "ByteFallback" })!(["<0xE2>", "<0x82>", "a", "<0xE2>", "<0x82>", "<0xAC>"])).toEqual([
      "\uFFFD",
      "\uFFFD",
      "a",
      "€",
    ]);
    expect(decoder({ type: "Strip", content: " ", start: 1, stop: 1 })!(["  a  "])).toEqual([" a "]);
    expect(decoder({ type: "Metaspace", replacement: "▁", prepend_scheme: "always" })!(["▁Hi", "▁there"])).toEqual(["Hi", " there"]);
    expect(decoder({ type: "ByteLevel" })!(["ĠHi", "Ġâ", "Ĥ¬"])).toEqual([" Hi €"]);
  });
});
