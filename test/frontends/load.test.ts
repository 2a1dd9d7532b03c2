// load.ts: which frontend a model path goes to (llama2.c, GGUF by extension or magic, TF.js folder or
// model.json, ONNX), what each returns (name, format, tokenizer, notes, end tokens), large
// checkpoints left in their file, and the errors that name the argument at fault.
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { llamaToGguf } from "../../compiler/frontends/gguf/export-llama.js";
import { READ_CHUNK_BYTES } from "../../compiler/frontends/input-file.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import {
  DEFAULT_MAX_CHUNK,
  firstNonText,
  loadModel,
  MAX_INPUT_BYTES,
  pathExists,
  readInput,
  readTextInput,
} from "../../compiler/frontends/load.js";
import { isDeferred } from "../../compiler/ir/graph.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { bertTokenizerJson } from "../helpers/hf-tokenizers.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

const ONNX = sharedPath("onnx");
/** A sysfs file: stat says 4096 bytes, a read gives a few. */
const SYSFS = "/sys/devices/system/cpu/online";
const FDS = "/proc/self/fd";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "seec-test-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The fields of the SeecError loadModel rejects with. */
async function refusal(src: Parameters<typeof loadModel>[0]) {
  const e = await rejectsSeec(() => loadModel(src));
  return { code: e.code, message: e.message, file: e.file, at: e.at, hint: e.hint };
}

const weightDeferred = (g: Awaited<ReturnType<typeof loadModel>>["graph"]) => isDeferred(g.values.get("layers.0.attention.wq.weight")!);

describe.skipIf(!LLAMA2C)("loadModel: llama2.c checkpoints and GGUF files", () => {
  const S = LLAMA2C!;
  const bytes = () => new Uint8Array(readFileSync(S.model));

  it("reads a checkpoint and its tokenizer: named after the file, chunks of 32 unless given", async () => {
    expect(DEFAULT_MAX_CHUNK).toBe(32);
    const m = await loadModel({ model: S.model, tokenizer: S.tokenizer });
    expect([m.format, m.graph.name, m.graph.dims.T.max, m.graph.model.config.contextLength]).toEqual(["llama2c", "stories260K", 32, 512]);
    expect(m.tokenizer).toEqual(readLlama2cTokenizer(new Uint8Array(readFileSync(S.tokenizer)), "t", 512));
    expect(weightDeferred(m.graph)).toBe(false);
    expect(m.notes).toBeUndefined();
    // A context beyond the positions it was trained on is cut to them, and a note says so.
    const long = await loadModel({ model: S.model, tokenizer: S.tokenizer, context: 100_000 });
    expect([long.graph.model.config.contextLength, long.notes]).toEqual([
      512,
      ["--context 100000 is more than the model's 512 positions: its context is 512"],
    ]);
    // So is a --max-chunk beyond the context: a call takes at most the context.
    const wide = await loadModel({ model: S.model, tokenizer: S.tokenizer, context: 64, maxChunk: 1000 });
    expect([wide.graph.dims.T.max, wide.graph.model.config.maxChunk, wide.notes]).toEqual([
      64,
      64,
      ["--max-chunk 1000 is more than the context (64): a call takes at most 64 tokens"],
    ]);
    const copy = join(dir, "my.model.v2.bin");
    writeFileSync(copy, bytes());
    const small = await loadModel({ model: copy, maxChunk: 4, context: 64 });
    expect([small.graph.name, small.graph.dims.T.max, small.graph.model.config.contextLength, small.tokenizer]).toEqual([
      "my.model.v2",
      4,
      64,
      undefined,
    ]);
  });

  it("leaves a checkpoint larger than streamAbove in its file, tensor by tensor, and reads one no larger whole", async () => {
    const size = bytes().length;
    const streamed = await loadModel({ model: S.model, streamAbove: size - 1 });
    expect([streamed.format, weightDeferred(streamed.graph)]).toEqual(["llama2c", true]);
    const whole = await loadModel({ model: S.model, streamAbove: size });
    expect(weightDeferred(whole.graph)).toBe(false);
    // The same numbers either way.
    expect(streamed.graph.values.get("layers.4.feed_forward.w2.weight")!.data).toEqual(
      whole.graph.values.get("layers.4.feed_forward.w2.weight")!.data,
    );
  });

  it("reads a GGUF file whole even when asked to stream, whatever its name, and refuses a --tokenizer beside it", async () => {
    const { config, weights } = readLlama2cCheckpoint(bytes(), "m.bin");
    const spec = readLlama2cTokenizer(new Uint8Array(readFileSync(S.tokenizer)), "t", 512);
    const gguf = llamaToGguf(config, weights, spec, { name: "stories", type: "f32" }).bytes;
    writeFileSync(join(dir, "s.bin"), gguf);
    writeFileSync(join(dir, "s.gguf"), gguf);
    for (const name of ["s.bin", "s.gguf"]) {
      const m = await loadModel({ model: join(dir, name), streamAbove: 0, maxChunk: 8 });
      expect([m.format, m.graph.name, m.graph.dims.T.max, weightDeferred(m.graph)]).toEqual(["gguf", "s", 8, false]);
      expect(m.tokenizer).toEqual(spec);
    }
    expect(await refusal({ model: join(dir, "s.gguf"), tokenizer: S.tokenizer })).toEqual({
      code: "usage.tokenizer",
      message: "a GGUF file carries its own tokenizer; --tokenizer is for llama2.c checkpoints",
      file: S.tokenizer,
      at: undefined,
      hint: undefined,
    });
  });

  it("takes a file for GGUF only when its first four bytes are GGUF", async () => {
    // A checkpoint whose first int reads "GGUX" (and the like): a llama2.c header with an absurd dim, not a GGUF file.
    for (const magic of ["GGUX", "GGXF", "GXUF", "XGUF"]) {
      const b = bytes();
      b.set(new TextEncoder().encode(magic));
      writeFileSync(join(dir, "m.bin"), b);
      const e = await refusal({ model: join(dir, "m.bin") });
      expect([magic, e.code]).toEqual([magic, "input.checkpoint_header"]);
    }
    // Three bytes "GGU": too short for either; read as a llama2.c header.
    writeFileSync(join(dir, "g.bin"), "GGU");
    for (const streamAbove of [undefined, 0]) {
      const e = await refusal({ model: join(dir, "g.bin"), streamAbove });
      expect([e.code, e.message]).toEqual(["input.truncated", "file ends inside the header: needs 4 bytes, 3 left"]);
    }
  });

  it("names the model when a checkpoint left in its file changes before a pass reads a tensor", async () => {
    const copy = join(dir, "m.bin");
    writeFileSync(copy, bytes());
    const m = await loadModel({ model: copy, streamAbove: 0 });
    writeFileSync(copy, new Uint8Array(100));
    const e = catchSeec(() => m.graph.values.get("layers.0.attention.wq.weight")!.data);
    expect([e.code, e.message, e.file]).toEqual([
      "io.read",
      `cannot read the model: it changed while seec built from it (${bytes().length} bytes when read began, now 100)`,
      copy,
    ]);
  });

  it("reads a file named .gguf as GGUF, whatever it holds, and names a missing tokenizer", async () => {
    writeFileSync(join(dir, "s.gguf"), bytes());
    // Also when asked to stream: a .gguf file is never left in its file as a checkpoint.
    for (const streamAbove of [undefined, 0]) expect((await refusal({ model: join(dir, "s.gguf"), streamAbove })).code).toBe("input.gguf");
    expect(await refusal({ model: S.model, tokenizer: join(dir, "tok.bin") })).toMatchObject({
      code: "io.not_found",
      message: "cannot read the tokenizer: no such file",
      file: join(dir, "tok.bin"),
    });
  });

  it("refuses --decoder for a model that is not ONNX, saying why", async () => {
    expect(await refusal({ model: S.model, decoder: true })).toEqual({
      code: "usage.decoder",
      message: "--decoder is for ONNX graphs with past/present pairs; llama2.c and GGUF models are decoders already",
      file: S.model,
      at: "--decoder",
      hint: undefined,
    });
  });
});

describe("loadModel: what it cannot read", () => {
  it("names a model or tokenizer that is missing, a folder, or under a file", async () => {
    const model = join(dir, "m.bin");
    writeFileSync(model, new Uint8Array(8));
    expect(await refusal({ model: join(dir, "none.bin") })).toEqual({
      code: "io.not_found",
      message: "cannot read the model: no such file",
      file: join(dir, "none.bin"),
      at: undefined,
      hint: undefined,
    });
    const under = join(model, "x.bin");
    expect(await refusal({ model: under })).toMatchObject({
      code: "io.not_found",
      message: `cannot read the model: ENOTDIR: not a directory, stat '${under}'`,
      file: under,
    });
    const e = await rejectsSeec(() => readInput(dir, "tokenizer"));
    expect([e.code, e.message, e.file]).toEqual(["usage.not_a_file", `the tokenizer ${dir} is not a file`, dir]);
  });

  it("refuses a file past 4 GiB before reading it, with its size", async () => {
    expect(MAX_INPUT_BYTES).toBe(4 * 1024 ** 3);
    const big = join(dir, "big.bin");
    writeFileSync(big, "");
    truncateSync(big, MAX_INPUT_BYTES + 1); // sparse: nothing is written
    const e = await rejectsSeec(() => readInput(big, "model"));
    expect({ code: e.code, message: e.message, file: e.file, hint: e.hint }).toEqual({
      code: "unsupported.too_large",
      message:
        "the model is 4294967297 bytes (4.00 GiB); seec reads files of its kind up to 4 GiB, the most a wasm32 artifact addresses (llama2.c checkpoints of any size, tensor by tensor)",
      file: big,
      hint: "a smaller or quantized file of the same model: a GGUF Q8_0 or Q4_0 export of it builds with --quantize int8",
    });
  });

  it("refuses a model past 4 GiB by its size, as the model, before reading it", async () => {
    const big = join(dir, "big.gguf");
    writeFileSync(big, "");
    truncateSync(big, MAX_INPUT_BYTES + 1);
    expect((await refusal({ model: big })).message).toMatch(/^the model is 4294967297 bytes \(4\.00 GiB\)/);
  });

  it.skipIf(!existsSync(SYSFS))("says where a file ended when it holds less than its size said (a sysfs file)", async () => {
    const e = await rejectsSeec(() => readInput(SYSFS, "tokenizer"));
    const n = readFileSync(SYSFS).length;
    expect([e.code, e.message, e.file]).toEqual([
      "io.read",
      `cannot read the tokenizer: the file ended at byte ${n} of the 4096 it had when read began`,
      SYSFS,
    ]);
  });

  it.skipIf(!existsSync(FDS))("closes the file after each whole read (counted in /proc/self/fd)", async () => {
    const f = join(dir, "f.bin");
    writeFileSync(f, new Uint8Array(100));
    const before = readdirSync(FDS).length;
    for (let i = 0; i < 10; i++) await readInput(f, "model");
    expect(readdirSync(FDS).length).toBe(before);
  });

  it("reads a file past READ_CHUNK_BYTES whole, piece by piece", async () => {
    const big = join(dir, "big.bin");
    writeFileSync(big, Uint8Array.of(1, 2, 3));
    truncateSync(big, READ_CHUNK_BYTES + 5);
    const fd = openSync(big, "r+");
    writeSync(fd, Uint8Array.of(4, 5, 6, 7), 0, 4, READ_CHUNK_BYTES - 2);
    writeSync(fd, Uint8Array.of(8, 9), 0, 2, READ_CHUNK_BYTES + 3);
    closeSync(fd);
    const b = await readInput(big, "model");
    expect(b.length).toBe(READ_CHUNK_BYTES + 5);
    expect([...b.subarray(0, 4), ...b.subarray(READ_CHUNK_BYTES - 3)]).toEqual([1, 2, 3, 0, 0, 4, 5, 6, 7, 0, 8, 9]);
    expect([await pathExists(big), await pathExists(join(dir, "none"))]).toEqual([true, false]);
  });
});

describe("readTextInput: text inputs are UTF-8 text", () => {
  it("reads UTF-8 (a byte-order mark dropped) and finds the first byte that is not text", async () => {
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const f = join(dir, "t.txt");
    writeFileSync(f, Uint8Array.of(0xef, 0xbb, 0xbf, ...utf8("naïve café ✓ 𝄞\n")));
    expect(await readTextInput(f, "training text")).toBe("naïve café ✓ 𝄞\n");
    const cases: [number[], number][] = [
      [[...utf8("ok ✓ 𝄞")], -1],
      [[0x61, 0x00, 0x62], 1], // NUL: UTF-16 text or a binary file
      [[0x61, 0xc0, 0x80], 1], // an overlong form
      [[0xe0, 0x80, 0x80], 0], // an overlong three-byte form
      [[0xed, 0xa0, 0x80], 0], // a surrogate
      [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
      [[0x61, 0x62, 0xe2, 0x9c], 2], // a sequence cut by the end of the file
      [[0xe2, 0x41, 0x9c], 0], // a continuation byte missing
      [[0x80], 0], // a continuation byte alone
    ];
    for (const [bytes, at] of cases) expect([bytes, firstNonText(Uint8Array.from(bytes))]).toEqual([bytes, at]);
  });
  it("input.text: a binary file given as text names its first byte that is not", async () => {
    const f = join(dir, "model.bin");
    writeFileSync(f, Uint8Array.of(0x48, 0x69, 0x0a, 0x89, 0x50, 0x4e, 0x47));
    const e = await rejectsSeec(() => readTextInput(f, "training text"));
    expect([e.code, e.message, e.file]).toEqual(["input.text", "the training text is not UTF-8 text: byte 0x89 at offset 3", f]);
    writeFileSync(f, new Uint8Array(Buffer.from("hi", "utf16le")));
    expect((await rejectsSeec(() => readTextInput(f, "sememes file"))).message).toBe(
      "the sememes file is not UTF-8 text: byte 0x00 at offset 1 (a NUL)",
    );
  });
});

describe("loadModel: TF.js models", () => {
  it("reads USE-Lite from its model.json, its folder or the package folder above, named after the package", async () => {
    for (const model of [join(USE_DIR, "model.json"), USE_DIR, dirname(USE_DIR)]) {
      const m = await loadModel({ model });
      expect([m.format, m.graph.name, m.graph.model.config.vocabSize, m.tokenizer?.type]).toEqual([
        "tfjs",
        "model-embeddings-en",
        8002,
        "sentencepiece-unigram",
      ]);
    }
  });

  it("takes the tokenizer from --tokenizer over the vocab.json beside the model, and names the folder of another model.json", async () => {
    const m = join(dir, "use");
    mkdirSync(m);
    for (const f of readdirSync(USE_DIR)) if (f !== "vocab.json") symlinkSync(join(USE_DIR, f), join(m, f));
    const e = await refusal({ model: m, tokenizer: join(dir, "vocab.json") });
    expect([e.code, e.file]).toEqual(["io.not_found", join(dir, "vocab.json")]);
    symlinkSync(join(USE_DIR, "vocab.json"), join(dir, "vocab.json"));
    const ok = await loadModel({ model: m, tokenizer: join(dir, "vocab.json") });
    expect([ok.graph.name, ok.tokenizer?.type]).toEqual(["use", "sentencepiece-unigram"]);
    // A model.json of its own is read before one below it; one folder below with a model.json, beside one without, is read.
    mkdirSync(join(m, "dist"));
    writeFileSync(join(m, "dist", "model.json"), "{}");
    expect((await loadModel({ model: m, tokenizer: join(dir, "vocab.json") })).graph.name).toBe("use");
    mkdirSync(join(dir, "pkg", "dist"), { recursive: true });
    mkdirSync(join(dir, "pkg", "empty"));
    for (const f of readdirSync(USE_DIR)) symlinkSync(join(USE_DIR, f), join(dir, "pkg", "dist", f));
    expect((await loadModel({ model: join(dir, "pkg") })).graph.name).toBe("pkg");
    // Two folders below, each with a model.json: neither is chosen.
    mkdirSync(join(dir, "two", "a"), { recursive: true });
    mkdirSync(join(dir, "two", "b"));
    writeFileSync(join(dir, "two", "a", "model.json"), "{}");
    writeFileSync(join(dir, "two", "b", "model.json"), "{}");
    writeFileSync(join(dir, "two", "c"), "{}");
    expect(await refusal({ model: join(dir, "two") })).toMatchObject({ code: "io.not_found", file: join(dir, "two", "model.json") });
  });
});

describe.skipIf(!ONNX)("loadModel: ONNX graphs", () => {
  const graph = (d: string) => join(ONNX!, d, "model.onnx");

  it("names a model.onnx after its folder, states what it fused and the dimensions it set to 1", async () => {
    const m = await loadModel({ model: graph("bert_distilbert_tiny_hf_pt110") });
    expect([m.format, m.graph.name, m.tokenizer, m.eosIds, m.eosFile]).toEqual([
      "onnx",
      "bert_distilbert_tiny_hf_pt110",
      undefined,
      undefined,
      undefined,
    ]);
    expect(m.notes).toEqual([
      "fused 5 LayerNormalization, 2 Gelu, 2 Attention from their decomposed forms",
      "dimensions batch, sequence were set to 1; bind them with --shape <input>=<dims>",
    ]);
    const bound = await loadModel({ model: graph("bert_distilbert_tiny_hf_pt110"), shapes: { input_ids: [2, 7], attention_mask: [2, 7] } });
    expect(bound.notes).toEqual(["fused 5 LayerNormalization, 2 Gelu, 2 Attention from their decomposed forms"]);
    expect(bound.graph.values.get("input_ids")!.shape).toEqual([2, 7]);
    // Another file name is the model's name; nothing fused, nothing defaulted: no notes.
    symlinkSync(graph("onnx_node_tests/test_layer_normalization_3d_axis_negative_1_epsilon"), join(dir, "ln.onnx"));
    const ln = await loadModel({ model: join(dir, "ln.onnx") });
    expect([ln.graph.name, ln.notes]).toEqual(["ln", []]);
    const fused = await loadModel({ model: graph("onnx_node_tests/test_gelu_default_2_expanded") });
    expect([fused.graph.name, fused.notes]).toEqual(["test_gelu_default_2_expanded", ["fused 1 Gelu from their decomposed forms"]]);
  });

  it("reads a Hugging Face tokenizer.json with its notes", async () => {
    const json = { ...bertTokenizerJson(), padding: { strategy: { Fixed: 128 }, pad_id: 0, pad_token: "[PAD]" } };
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(json));
    const m = await loadModel({
      model: graph("bert_distilbert_tiny_hf_pt110"),
      tokenizer: join(dir, "tokenizer.json"),
      shapes: { input_ids: [1, 4], attention_mask: [1, 4] },
    });
    expect(m.tokenizer?.type).toBe("hf-tokenizer-json");
    expect(m.notes).toEqual([
      "fused 5 LayerNormalization, 2 Gelu, 2 Attention from their decomposed forms",
      "tokenizer.json's padding ({\"Fixed\":128}) dropped: encode() gives a text's own ids",
    ]);
  });

  it("builds a decoder with its context and the end tokens of generation_config.json beside it, unless --eos is given", async () => {
    const src = join(ONNX!, "llama_tiny_fp16_genai_builder");
    // Its MLPs' SiLU-gated products, written Sigmoid, Mul, Mul.
    const FUSED = "fused 2 SwiGLU from their decomposed forms";
    const d = join(dir, "tiny-llama");
    mkdirSync(d);
    for (const f of ["model.onnx", "model.onnx.data"]) symlinkSync(join(src, f), join(d, f));
    const plain = await loadModel({ model: join(d, "model.onnx"), decoder: true, context: 24 });
    expect([plain.graph.name, plain.graph.model.family, plain.graph.model.config.contextLength, plain.eosIds, plain.notes]).toEqual([
      "tiny-llama",
      "decoder",
      24,
      undefined,
      [FUSED],
    ]);
    writeFileSync(join(d, "generation_config.json"), JSON.stringify({ eos_token_id: [2, 7] }));
    const withEos = await loadModel({ model: join(d, "model.onnx"), decoder: true });
    expect([withEos.eosIds, withEos.eosFile, withEos.notes]).toEqual([
      [2, 7],
      join(d, "generation_config.json"),
      [FUSED, "end tokens 2, 7 from generation_config.json (--eos overrides)"],
    ]);
    const given = await loadModel({ model: join(d, "model.onnx"), decoder: true, eos: [3] });
    expect([given.eosIds, given.eosFile, given.notes]).toEqual([undefined, undefined, [FUSED]]);
    // Not a decoder: the file is not read, the context not applied.
    const graphOnly = await loadModel({ model: join(d, "model.onnx"), context: 24 });
    expect([graphOnly.eosIds, graphOnly.graph.model.family]).toEqual([undefined, "graph"]);
  });
});
