// The tokenizer files frontends read beside a model: a TF.js model's SentencePiece vocab.json
// (sentencepiece-vocab.ts) and an ONNX model's Hugging Face tokenizer.json (hf-tokenizer.ts): what
// each gives, and each refusal's code, message, at and hint.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkTokenizerVocabulary, readHfTokenizer } from "../../compiler/frontends/hf-tokenizer.js";
import { readSentencePieceVocab } from "../../compiler/frontends/sentencepiece-vocab.js";
import type { HfTokenizerSpec } from "../../runtime/tokenizers/hf/index.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { bertTokenizerJson } from "../helpers/hf-tokenizers.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "seec-test-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const fields = (e: { code: string; message: string; file?: string; at?: string; hint?: string }) => ({
  code: e.code,
  message: e.message,
  file: e.file,
  at: e.at,
  hint: e.hint,
});

/** `json` written to a file in the test's folder (text as it is). */
function write(name: string, json: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof json === "string" ? json : JSON.stringify(json));
  return path;
}

describe("readSentencePieceVocab", () => {
  const seven = [
    ["<pad>", 0],
    ["<s>", 0],
    ["</s>", 0],
    ["<unk>", 0],
    ["<mask>", 0],
    ["<sep>", 0],
    ["▁a", -1.5],
  ];

  it("reads [piece, score] pairs, a null score as 0, with six reserved control pieces", async () => {
    const vocab = write("vocab.json", [...seven, ["b", null]]);
    expect(await readSentencePieceVocab(vocab, 8)).toEqual({
      type: "sentencepiece-unigram",
      pieces: [...seven, ["b", 0]],
      reserved: 6,
    });
    expect((await readSentencePieceVocab(write("v7.json", seven), 7)).pieces.length).toBe(7); // as many as the embedding's rows
  });

  it("refuses a file that is missing, not JSON, not a list, or holds an entry that is not [piece, score]", async () => {
    const hint = "a TF.js model's vocab.json sits beside model.json; or pass --tokenizer";
    const missing = join(dir, "none.json");
    expect(fields(await rejectsSeec(() => readSentencePieceVocab(missing, 8)))).toEqual({
      code: "io.not_found",
      message: `cannot read the vocabulary: ENOENT: no such file or directory, open '${missing}'`,
      file: missing,
      at: undefined,
      hint,
    });
    const text = write("text.json", "[1,");
    expect(fields(await rejectsSeec(() => readSentencePieceVocab(text, 8)))).toMatchObject({
      code: "input.tokenizer",
      message: expect.stringMatching(/^cannot read the vocabulary as JSON: .*JSON/),
      file: text,
      hint,
    });
    // A binary file's bytes stay out of the message (JSON.parse would quote them).
    const binary = write("b.json", "\u0000\u0001\u0002\u00ff{");
    expect(fields(await rejectsSeec(() => readSentencePieceVocab(binary, 8))).message).toBe(
      "cannot read the vocabulary as JSON: it is not text (a binary file?)",
    );
    const object = write("o.json", { a: 1 });
    expect(fields(await rejectsSeec(() => readSentencePieceVocab(object, 8)))).toEqual({
      code: "input.tokenizer",
      message: "vocab.json must be a list of [piece, score]",
      file: object,
      at: undefined,
      hint: undefined,
    });
    for (const entry of ["a", [1, 0], ["a", "0"], ["a"], null]) {
      const bad = write("bad.json", [...seven.slice(0, 3), entry, ...seven.slice(3)]);
      expect(fields(await rejectsSeec(() => readSentencePieceVocab(bad, 8)))).toEqual({
        code: "input.tokenizer",
        message: "entry 3 is not [piece, score]",
        file: bad,
        at: "entry 3",
        hint: undefined,
      });
    }
  });

  it("refuses more pieces than the embedding has rows, or no more than the reserved ones", async () => {
    const refuse = async (pieces: unknown[], rows: number) => {
      const f = write("v.json", pieces);
      return fields(await rejectsSeec(() => readSentencePieceVocab(f, rows)));
    };
    expect(await refuse(seven, 6)).toEqual({
      code: "mismatch.tokenizer",
      message: "the vocabulary has 7 pieces; the model's embedding has 6 rows",
      file: join(dir, "v.json"),
      at: undefined,
      hint: undefined,
    });
    expect((await refuse(seven.slice(0, 6), 8)).message).toBe("the vocabulary has 6 pieces; the model's embedding has 8 rows");
  });
});

describe("readHfTokenizer", () => {
  it("reads a tokenizer.json as the runtime will, with no notes when nothing is dropped", async () => {
    const json = bertTokenizerJson();
    const file = write("tokenizer.json", json);
    const { spec, notes } = await readHfTokenizer(file);
    expect(spec).toStrictEqual({ type: "hf-tokenizer-json", tokenizer: json }); // no chat key without a template
    expect(notes).toEqual([]);
  });

  it("drops a padding block, with a note unless it pads to the batch's longest only", async () => {
    const read = async (padding: unknown) => readHfTokenizer(write("tokenizer.json", { ...bertTokenizerJson(), padding }));
    const fixed = await read({ strategy: { Fixed: 128 }, pad_id: 0 });
    expect(fixed.spec.tokenizer.padding).toBeNull();
    expect(fixed.notes).toEqual(["tokenizer.json's padding ({\"Fixed\":128}) dropped: encode() gives a text's own ids"]);
    const longest = await read({ strategy: "BatchLongest", pad_id: 0 });
    expect([longest.spec.tokenizer.padding, longest.notes]).toEqual([null, []]);
    const multiple = await read({ strategy: "BatchLongest", pad_to_multiple_of: 8 });
    expect([multiple.spec.tokenizer.padding, multiple.notes]).toEqual([
      null,
      ["tokenizer.json's padding (\"BatchLongest\") dropped: encode() gives a text's own ids"],
    ]);
  });

  it("takes the chat template saved beside it, with a note", async () => {
    write("tokenizer_config.json", { chat_template: "{% for m in messages %}{{ m.content }}{% endfor %}" });
    const { spec, notes } = await readHfTokenizer(write("tokenizer.json", bertTokenizerJson()));
    expect(spec.chat).toBeDefined();
    expect(notes).toEqual(["chat template from tokenizer_config.json: generate() takes a conversation"]);
  });

  it("refuses a file that is missing, not JSON, or not a tokenizer.json, pointing at --tokenizer", async () => {
    const missing = join(dir, "none.json");
    expect(fields(await rejectsSeec(() => readHfTokenizer(missing)))).toEqual({
      code: "io.not_found",
      message: `cannot read the tokenizer: ENOENT: no such file or directory, open '${missing}'`,
      file: missing,
      at: "--tokenizer",
      hint: "an ONNX model takes its Hugging Face tokenizer.json",
    });
    for (const json of [[1], null, 3, { vocab: {} }]) {
      const f = write("t.json", json);
      expect(fields(await rejectsSeec(() => readHfTokenizer(f)))).toEqual({
        code: "input.tokenizer",
        message: "is not a Hugging Face tokenizer.json (an object with a model)",
        file: f,
        at: "--tokenizer",
        hint: "an ONNX model takes the tokenizer.json saved beside it (tokenizer.save_pretrained, or the Hub's repository)",
      });
    }
    // A model the runtime cannot run is refused now, not when the artifact first tokenizes.
    const odd = write("t.json", { ...bertTokenizerJson(), model: { type: "NoSuchModel" } });
    expect((await rejectsSeec(() => readHfTokenizer(odd))).code).toMatch(/^(unsupported|input)\.tokenizer/);
  });
});

describe("checkTokenizerVocabulary", () => {
  // bert-base-uncased: 30522 tokens, 30 · 1024 = 30720 once padded.
  const spec = (): HfTokenizerSpec => ({ type: "hf-tokenizer-json", tokenizer: bertTokenizerJson() as HfTokenizerSpec["tokenizer"] });

  it("takes an embedding with as many rows as tokens, or padded up to the next multiple of 1024", () => {
    expect(Object.keys(bertTokenizerJson().model.vocab).length).toBe(30522);
    for (const rows of [30522, 30720]) expect(() => checkTokenizerVocabulary(spec(), rows, "emb", "t.json")).not.toThrow();
  });

  it("refuses fewer rows than tokens, or more than the padding allows, saying which", () => {
    const refuse = (rows: number) => fields(catchSeec(() => checkTokenizerVocabulary(spec(), rows, "embed.weight", "t.json")));
    expect(refuse(30521)).toEqual({
      code: "mismatch.tokenizer",
      message: "the tokenizer has 30522 tokens; the model's embedding embed.weight has 30521 rows",
      file: "t.json",
      at: "--tokenizer",
      hint: "ids past the embedding's last row would read outside it: give the tokenizer.json of this model",
    });
    expect(refuse(30721)).toEqual({
      code: "mismatch.tokenizer",
      message: "the tokenizer has 30522 tokens; the model's embedding embed.weight has 30721 rows",
      file: "t.json",
      at: "--tokenizer",
      hint: "more rows than the tokenizer's 30522 padded to a multiple of 1024: give the tokenizer.json of this model",
    });
  });
});
