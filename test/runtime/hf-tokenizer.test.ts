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
import { BYTE_CHAR, CHAR_BYTE, toByteChars } from "../../runtime/tokenizers/hf/byte-level.js";
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

describe("refusals name the field or the part, with the file", () => {
  const refuse = (change: Json) => catchSeec(() => new HfTokenizer(tiny(change), FILE));
  const malformed = (change: Json, at: string, message: string) => {
    const e = refuse(change);
    expect([e.code, e.at, e.file, e.message]).toEqual(["input.tokenizer", at, FILE, `${at} ${message}`]);
  };
  const unsupported = (change: Json, at: string, shown: string) => {
    const e = refuse(change);
    expect([e.code, e.at, e.file, e.message]).toEqual([
      "unsupported.tokenizer",
      at,
      FILE,
      `${at} ${shown} is not supported by seec's Hugging Face tokenizer`,
    ]);
    expect(e.hint).toBe(
      "supported: BPE, WordPiece, Unigram models with the normalizers, pre-tokenizers, post-processors and decoders the README lists",
    );
  };

  it("the file and its top-level fields", () => {
    for (const json of [null, [], "{}", 3]) {
      const e = catchSeec(() => new HfTokenizer({ type: "hf-tokenizer-json", tokenizer: json as never }, FILE));
      expect([e.code, e.at, e.message]).toEqual(["input.tokenizer", "tokenizer", "tokenizer must be a tokenizer.json object"]);
    }
    malformed({ added_tokens: { a: 1 } }, "added_tokens", "must be a list");
    const entries: unknown[] = [
      null,
      { id: -1, content: "x" },
      { id: 1.5, content: "x" },
      { content: "x" },
      { id: 3 },
      { id: 3, content: "" },
      { id: 3, content: 7 },
    ];
    for (const entry of entries)
      malformed({ added_tokens: [{ id: 0, content: "[UNK]" }, entry] }, "added_tokens[1]", "must have an id and a non-empty content");
    for (const max of [-1, 1.5, "4", null])
      malformed({ truncation: { max_length: max } }, "truncation.max_length", "must be a whole number");
    unsupported({ truncation: { max_length: 4, direction: "Middle" } }, "truncation direction", "Middle");
    unsupported({ padding: { strategy: "BatchLongest", pad_to_multiple_of: 8 } }, "padding", "BatchLongest");
    unsupported({ padding: { strategy: { Fixed: 8 } } }, "padding", '{"Fixed":8}');
  });

  it("the model", () => {
    for (const m of [null, 3]) malformed({ model: m }, "model", "must be an object");
    unsupported({ model: { type: "WordLevel", vocab: {} } }, "model", "WordLevel");
    unsupported({ model: { type: "BPE", dropout: 0.1, vocab: {}, merges: [] } }, "BPE dropout", "0.1");
    for (const vocab of [null, [], "a"])
      malformed({ model: { type: "BPE", vocab, merges: [] } }, "model.vocab", "must be an object of token: id");
    for (const id of [-1, 0.5, "1"])
      malformed({ model: { type: "BPE", vocab: { a: 0, b: id }, merges: [] } }, 'model.vocab["b"]', "must be a token id");
    malformed(
      { model: { type: "BPE", vocab: { a: 0 }, merges: [], unk_token: "<unk>" } },
      "model.unk_token",
      '"<unk>" is not in the vocabulary',
    );
    malformed({ model: { type: "BPE", vocab: { a: 0 } } }, "model.merges", "must be a list");
    malformed(
      { model: { type: "BPE", vocab: { a: 0 }, merges: [["a", "z"]] } },
      "model.merges[0]",
      '["a","z"] names a token outside the vocabulary',
    );
    malformed(
      { model: { type: "BPE", vocab: { a: 0 }, merges: ["z a"] } },
      "model.merges[0]",
      '"z a" names a token outside the vocabulary',
    );
    malformed({ model: { type: "WordPiece", vocab: { a: 0 }, unk_token: "<unk>" } }, "model.unk_token", '"<unk>" is not in the vocabulary');
    malformed({ model: { type: "WordPiece", vocab: { a: 0 } } }, "model.unk_token", "undefined is not in the vocabulary");
    malformed({ model: { type: "Unigram", vocab: { a: 0 } } }, "model.vocab", "must be a list of [token, score]");
    for (const piece of [["a"], ["a", "1"], [1, 0], "a", null])
      malformed({ model: { type: "Unigram", vocab: [["a", 0], piece] } }, "model.vocab[1]", "must be [token, score]");
    for (const unk of [-1, 2, 0.5, "0"])
      malformed(
        {
          model: {
            type: "Unigram",
            unk_id: unk,
            vocab: [
              ["a", 0],
              ["b", 0],
            ],
          },
        },
        "model.unk_id",
        "must be a token id below 2",
      );
  });

  it("a merge into a token outside the vocabulary, when it is first used", () => {
    const bpe = { type: "BPE", vocab: { a: 0, b: 1 }, merges: ["a b"] };
    const hf = new HfTokenizer(tiny({ added_tokens: [], pre_tokenizer: null, post_processor: null, model: bpe }), FILE);
    expect(hf.encode("ba")).toEqual([1, 0]);
    const e = catchSeec(() => hf.encode("ab"));
    expect([e.code, e.at, e.message]).toEqual([
      "input.tokenizer",
      "model.merges",
      'model.merges merge into "ab", a token outside the vocabulary',
    ]);
  });

  it("text a Unigram model without unk_id cannot cover", () => {
    const hf = new HfTokenizer(
      tiny({
        pre_tokenizer: null,
        post_processor: null,
        model: {
          type: "Unigram",
          vocab: [
            ["a", -1],
            ["b", -1],
          ],
        },
      }),
      FILE,
    );
    expect(hf.encode("ab")).toEqual([0, 1]);
    const e = catchSeec(() => hf.encode("abc"));
    expect([e.code, e.at, e.file, e.message]).toEqual([
      "unsupported.tokenizer",
      "Unigram text outside the vocabulary without unk_id",
      FILE,
      "Unigram text outside the vocabulary without unk_id abc is not supported by seec's Hugging Face tokenizer",
    ]);
  });

  it("the components' lists and fields", () => {
    malformed({ normalizer: { type: "Sequence", normalizers: {} } }, "normalizer.normalizers", "must be a list");
    malformed({ pre_tokenizer: { type: "Sequence" } }, "pre_tokenizer.pretokenizers", "must be a list");
    malformed({ decoder: { type: "Sequence", decoders: null } }, "decoder.decoders", "must be a list");
    malformed({ post_processor: { type: "Sequence", processors: "x" } }, "post_processor.processors", "must be a list");
    malformed({ post_processor: { type: "BertProcessing", cls: "[CLS]", sep: ["[SEP]", 2] } }, "post_processor.cls", "must be [token, id]");
    malformed(
      { post_processor: { type: "RobertaProcessing", cls: ["<s>", 0], sep: ["</s>", "2"] } },
      "post_processor.sep",
      "must be [token, id]",
    );
    malformed({ post_processor: { type: "TemplateProcessing", single: null } }, "post_processor.single", "must be a list");
    const single = [{ Sequence: { id: "A" } }, { SpecialToken: { id: "[X]" } }];
    malformed(
      { post_processor: { type: "TemplateProcessing", single, special_tokens: {} } },
      "post_processor.special_tokens",
      'has no ids for "[X]"',
    );
    malformed({ post_processor: { type: "TemplateProcessing", single } }, "post_processor.special_tokens", 'has no ids for "[X]"');
    malformed(
      { post_processor: { type: "TemplateProcessing", single, special_tokens: { "[X]": { ids: 5 } } } },
      "post_processor.special_tokens",
      'has no ids for "[X]"',
    );
    unsupported(
      { post_processor: { type: "TemplateProcessing", single: [{ Sequence: { id: "A" } }, { Other: 1 }] } },
      "template item",
      '{"Other":1}',
    );
    unsupported(
      { post_processor: { type: "TemplateProcessing", single: [{ Sequence: { id: "A" } }, { Sequence: { id: "B" } }] } },
      "template with sequences",
      "2",
    );
    unsupported({ post_processor: { type: "TemplateProcessing", single: [] } }, "template with sequences", "0");
    unsupported({ pre_tokenizer: { type: "Metaspace", prepend_scheme: "sometimes" } }, "metaspace prepend_scheme", "sometimes");
    unsupported({ decoder: { type: "Metaspace", prepend_scheme: "twice" } }, "metaspace prepend_scheme", "twice");
    unsupported({ pre_tokenizer: { type: "Punctuation", behavior: "Sideways" } }, "split behavior", "Sideways");
    unsupported({ pre_tokenizer: { type: "Split", pattern: { Glob: "*" } } }, "pattern", '{"Glob":"*"}');
    unsupported({ normalizer: { type: "Replace", pattern: null } }, "pattern", "null");
    unsupported({ decoder: { type: "Replace", pattern: { String: 5 } } }, "pattern", '{"String":5}');
    unsupported({ normalizer: { type: "Precompiled" } }, "normalizer", "Precompiled");
    unsupported({ decoder: { type: "CTC" } }, "decoder", "CTC");
    unsupported({ post_processor: { type: "Unknown" } }, "post_processor", "Unknown");
    unsupported({ pre_tokenizer: { type: "FixedLength" } }, "pre_tokenizer", "FixedLength");
  });

  it("regexes JavaScript would read differently", () => {
    for (const re of ["[a&&]", "[\\W]+", "(?i:[a-z])", "(?i:a[b])", "[a[b]]", "[a&&b]", "\\pL", "x\\", "(?>a+)b", "a++", "\\Aa", "\\h"])
      unsupported({ pre_tokenizer: { type: "Split", pattern: { Regex: re }, behavior: "Isolated" } }, "regex", re);
  });
});

describe("the runtime's side of the tokenizer", () => {
  it("matches an added token without `normalized` in the normalized text unless it is special", () => {
    const added_tokens = [
      { id: 12, content: "ce" }, // not special: normalized by default
      { id: 1, content: "[CLS]", special: true }, // special: raw by default
    ];
    const hf = new HfTokenizer(tiny({ added_tokens, normalizer: { type: "Lowercase" }, post_processor: null }));
    expect(hf.encode("CE")).toEqual([12]);
    expect(hf.encode("[CLS]")).toEqual([1]);
    expect(hf.encode("[cls]")).toEqual([0]);
    expect(hf.decode([12, 1], { skipSpecialTokens: true })).toBe("ce");
  });

  it("maxLength cuts as the file's truncation does, the smaller limit winning, and refuses one too small for the specials", () => {
    const hf = new HfTokenizer(tiny());
    expect(hf.encode("a b c d e", { maxLength: 4 })).toEqual([1, 3, 4, 2]);
    expect(hf.encode("a b c d e", { maxLength: 2, addSpecialTokens: false })).toEqual([3, 4]);
    expect(hf.encode("a b", { maxLength: 4 })).toEqual([1, 3, 4, 2]);
    expect(hf.encode("a b", { maxLength: 2 })).toEqual([1, 2]);
    const e = catchSeec(() => hf.encode("a", { maxLength: 1 }));
    expect([e.code, e.message]).toEqual(["input.tokenizer", "truncation.max_length 1 leaves no room for the special tokens"]);
    const left = new HfTokenizer(tiny({ truncation: { max_length: 5, direction: "Left" } }));
    expect(left.encode("a b c d e")).toEqual([1, 5, 6, 7, 2]);
    expect(left.encode("a b c d e", { maxLength: 3 })).toEqual([1, 7, 2]);
    expect(left.encode("a b c d e", { maxLength: 9 })).toEqual([1, 5, 6, 7, 2]);
    expect(catchSeec(() => new HfTokenizer(tiny({ truncation: { max_length: 1 } })).encode("a")).message).toBe(
      "truncation.max_length 1 leaves no room for the special tokens",
    );
    expect(new HfTokenizer(tiny({ truncation: { max_length: 0 } })).encode("a b", { addSpecialTokens: false })).toEqual([]);
    expect(new HfTokenizer(tiny({ truncation: null, padding: null })).encode("a b c d e")).toEqual([1, 3, 4, 5, 6, 7, 2]);
  });

  it("eosIds: the ids after the text and the special added tokens that end a turn", () => {
    expect(new HfTokenizer(tiny()).eosIds).toEqual([2]);
    const ends = [
      "</s>",
      "<eos>",
      "<|endoftext|>",
      "<|end_of_text|>",
      "<|eot_id|>",
      "<|eom_id|>",
      "<|im_end|>",
      "<|end|>",
      "<end_of_turn>",
    ];
    const added_tokens = [
      ...ends.map((content, i) => ({ id: 20 - i, content, special: true })),
      { id: 30, content: "<|im_start|>", special: true },
      { id: 31, content: "<eot>", special: true },
      { id: 32, content: "</s >", special: true },
      { id: 21, content: "<|eot_id|>x", special: true },
    ];
    expect(new HfTokenizer(tiny({ added_tokens, post_processor: null })).eosIds).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20]);
    // Not special: text that happens to read "</s>".
    const plain = new HfTokenizer(tiny({ added_tokens: [{ id: 12, content: "</s>", special: false }] }));
    expect(plain.eosIds).toEqual([2]);
    // Both sources, each id once, in order.
    const both = new HfTokenizer(
      tiny({
        added_tokens: [
          { id: 2, content: "</s>", special: true },
          { id: 0, content: "<eos>", special: true },
        ],
      }),
    );
    expect(both.eosIds).toEqual([0, 2]);
  });

  it("decodes with every token's string: added tokens over the model's, and spaces between them without a decoder", () => {
    const hf = new HfTokenizer(tiny({ decoder: null, added_tokens: [{ id: 14, content: "<new>", special: true }] }));
    expect(hf.vocabSize).toBe(15);
    expect(hf.tokens.slice(11)).toEqual(["!", undefined, undefined, "<new>"]);
    expect(hf.decode([3, 9, 14])).toBe("a ##b <new>");
    expect(hf.decode([3, 9, 14], { skipSpecialTokens: true })).toBe("a ##b");
    expect(hf.decode([])).toBe("");
    const holes = new HfTokenizer(tiny({ decoder: null, added_tokens: [], model: { type: "WordPiece", vocab: { "[UNK]": 2, a: 3 } } }));
    expect(holes.vocabSize).toBe(4);
    expect(catchSeec(() => holes.decode([0])).message).toBe("token id 0 is outside the vocabulary [0, 4)");
    for (const id of [12, 15, -1, 1.5]) {
      const e = catchSeec(() => hf.decode([3, id]));
      expect([e.code, e.message]).toEqual(["runtime.token", `token id ${id} is outside the vocabulary [0, 15)`]);
    }
  });

  it("has a chat template only where the spec carries one", () => {
    const none = new HfTokenizer(tiny());
    expect(none.hasChatTemplate).toBe(false);
    const e = catchSeec(() => none.applyChatTemplate([{ role: "user", content: "hi" }]));
    expect([e.code, e.message]).toEqual(["runtime.chat", "this artifact carries no chat template"]);
    expect(e.hint).toContain("tokenizer_config.json");
    const chat = {
      template: "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{{ bos_token }}",
      tokens: { bos_token: "[CLS]" },
    };
    const hf = new HfTokenizer({ ...tiny(), chat });
    expect(hf.hasChatTemplate).toBe(true);
    expect(hf.applyChatTemplate([{ role: "user", content: "hi" }])).toBe("<user>hi[CLS]");
  });
});

describe("textStream hands out the text each generated token adds", () => {
  /** SentencePiece-style BPE with byte fallback, as Llama-2's file: the stream must hold back a run of <0xNN> until it ends. */
  function llamaLike(): HfTokenizer {
    const vocab = [
      "<unk>",
      "<s>",
      "</s>",
      "▁",
      "a",
      "b",
      "▁a",
      "▁b",
      "<0xE2>",
      "<0x82>",
      "<0xAC>",
      "<0xC3>",
      "<0xA9>",
      "▁c",
      "▁x<0x41>",
      "<0x41>x",
    ];
    return new HfTokenizer({
      type: "hf-tokenizer-json",
      tokenizer: {
        added_tokens: [0, 1, 2].map((id) => ({ id, content: vocab[id], special: true, normalized: false })),
        normalizer: {
          type: "Sequence",
          normalizers: [
            { type: "Prepend", prepend: "▁" },
            { type: "Replace", pattern: { String: " " }, content: "▁" },
          ],
        },
        pre_tokenizer: null,
        post_processor: {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: "<s>" } }, { Sequence: { id: "A" } }],
          special_tokens: { "<s>": { ids: [1] } },
        },
        decoder: {
          type: "Sequence",
          decoders: [
            { type: "Replace", pattern: { String: "▁" }, content: " " },
            { type: "ByteFallback" },
            { type: "Fuse" },
            { type: "Strip", content: " ", start: 1, stop: 0 },
          ],
        },
        model: {
          type: "BPE",
          unk_token: "<unk>",
          byte_fallback: true,
          fuse_unk: true,
          vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
          merges: ["▁ a", "▁ b"],
        },
      },
    });
  }

  it("holds back a byte run and a broken character, and skips special tokens", () => {
    const hf = llamaLike();
    const context = [1, 6]; // <s> ▁a
    const stream = hf.textStream(context);
    const pieces = [8, 9, 10, 7, 11, 12, 2, 13].map((id) => stream.push(id));
    expect(pieces).toEqual(["", "", "", "€ b", "", "", "é", " c"]);
    expect(stream.end()).toBe("");
    const all = hf.decode([...context, 8, 9, 10, 7, 11, 12, 2, 13], { skipSpecialTokens: true });
    expect(pieces.join("")).toBe(all.slice(hf.decode(context, { skipSpecialTokens: true }).length));
  });

  it("end() hands out what was held back, and a stream with nothing new gives nothing", () => {
    const hf = llamaLike();
    const stream = hf.textStream([1, 6, 7, 6, 7, 6]); // more than the window of four
    expect(stream.end()).toBe("");
    expect(stream.push(11)).toBe("");
    expect(stream.end()).toBe("\uFFFD");
    expect(stream.end()).toBe("");
    const empty = hf.textStream([]);
    expect([empty.push(6), empty.push(7)]).toEqual(["a", " b"]);
    // end() with nothing new keeps the window: the next token's space is still its own.
    const again = hf.textStream([1, 6]);
    expect([again.end(), again.push(7), again.end(), again.push(7)]).toEqual(["", " b", "", " b"]);
  });

  it("holds back only whole <0xNN> tokens, not tokens that merely contain one", () => {
    const hf = llamaLike();
    const stream = hf.textStream([1, 6]);
    expect([14, 15, 8].map((id) => stream.push(id))).toEqual([" x<0x41>", "<0x41>x", ""]);
  });

  it("without byte fallback, a byte-level token that ends inside a character is held until the character is whole", () => {
    const hf = new HfTokenizer({
      type: "hf-tokenizer-json",
      tokenizer: {
        pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
        decoder: { type: "ByteLevel" },
        model: { type: "BPE", vocab: { Ġ: 0, a: 1, â: 2, Ĥ: 3, "¬": 4, "<0xE2>": 5 }, merges: [] },
      },
    });
    const stream = hf.textStream([1]);
    expect([0, 2, 3, 4, 1, 5].map((id) => stream.push(id))).toEqual([" ", "", "", "€", "a", "<0xE2>"]);
  });

  it("where the context ends inside a character, the new text starts after what both decodings share", () => {
    const hf = new HfTokenizer({
      type: "hf-tokenizer-json",
      tokenizer: { decoder: { type: "ByteLevel" }, model: { type: "BPE", vocab: { a: 1, â: 2, Ĥ: 3, "¬": 4 }, merges: [] } },
    });
    // The context decodes to "a\uFFFD"; with the character's last bytes, to "a€".
    const stream = hf.textStream([1, 2]);
    expect([3, 4, 1].map((id) => stream.push(id))).toEqual(["", "€", "a"]);
    const alone = hf.textStream([2]);
    expect([3, 4].map((id) => alone.push(id))).toEqual(["", "€"]);
  });
});

describe("GPT-2's byte-level alphabet", () => {
  it("maps each of the 256 bytes to its own character, as bytes_to_unicode in GPT-2's encoder.py", () => {
    expect(BYTE_CHAR).toHaveLength(256);
    expect(CHAR_BYTE.size).toBe(256);
    BYTE_CHAR.forEach((ch, b) => expect(CHAR_BYTE.get(ch)).toBe(b));
    // Printable Latin-1 as itself; the 68 others from U+0100 on, in byte order.
    const at = (b: number) => BYTE_CHAR[b].codePointAt(0);
    expect([0x21, 0x7e, 0xa1, 0xac, 0xae, 0xff].map(at)).toEqual([0x21, 0x7e, 0xa1, 0xac, 0xae, 0xff]);
    expect([0x00, 0x0a, 0x20, 0x7f, 0x80, 0xa0, 0xad].map(at)).toEqual([0x100, 0x10a, 0x120, 0x121, 0x122, 0x142, 0x143]);
    expect(toByteChars(" é\n€")).toBe("ĠÃ©ĊâĤ¬");
  });
});

describe("fields a file may leave out", () => {
  // The Rust library refuses most of these files (it wants every field written, as its own
  // serializer writes them); seec reads them with the defaults of the Python constructors.
  const pre = (json: Json, text: string) => preTokenizer(json)!([text], true);
  const dec = (json: Json, tokens: string[]) => decoder(json)!(tokens).join("");

  it("pre-tokenizers", () => {
    expect(pre({ type: "ByteLevel" }, "Hi  there")).toEqual(["ĠHi", "Ġ", "Ġthere"]);
    expect(pre({ type: "Metaspace" }, "a b")).toEqual(["▁a", "▁b"]);
    expect(pre({ type: "Metaspace", add_prefix_space: false }, "a b")).toEqual(["a", "▁b"]);
    expect(pre({ type: "Metaspace", add_prefix_space: true }, "a b")).toEqual(["▁a", "▁b"]);
    expect(pre({ type: "Split", pattern: { String: "-" } }, "a-b")).toEqual(["a", "-", "b"]);
    expect(pre({ type: "Split", pattern: { String: "-" }, behavior: null }, "a-b")).toEqual(["a", "-", "b"]);
    expect(pre({ type: "Sequence", pretokenizers: [null, { type: "WhitespaceSplit" }] }, "a b")).toEqual(["a", "b"]);
  });

  it("normalizers", () => {
    expect(normalizer({ type: "Prepend" })!("a")).toBe("a");
    expect(normalizer({ type: "Replace", pattern: { String: "a" } })!("bab")).toBe("bb");
    expect(normalizer({ type: "BertNormalizer" })!("ÉCOLE 日本\u0000")).toBe("ecole  日  本 ");
    expect(normalizer({ type: "Sequence", normalizers: [null, { type: "Lowercase" }] })!("AB")).toBe("ab");
  });

  it("decoders", () => {
    expect(dec({ type: "Replace", pattern: { String: "a" } }, ["xay"])).toBe("xy");
    expect(dec({ type: "WordPiece" }, ["a", "##b", "."])).toBe("ab.");
    expect(dec({ type: "BPEDecoder" }, ["a</w>", "b</w>"])).toBe("a b");
    expect(dec({ type: "Metaspace" }, ["▁a", "▁b"])).toBe("a b");
    expect(dec({ type: "Strip", content: "x" }, ["xax"])).toBe("xax");
    expect(dec({ type: "Sequence", decoders: [null, { type: "Fuse" }] }, ["a", "b"])).toBe("ab");
  });

  it("WordPiece's prefix and unknown token", () => {
    const hf = new HfTokenizer(
      tiny({ added_tokens: [], post_processor: null, model: { type: "WordPiece", vocab: { "[UNK]": 0, a: 1, "##b": 2 } } }),
    );
    expect(hf.encode("ab a c")).toEqual([1, 2, 1, 0]);
  });
});
