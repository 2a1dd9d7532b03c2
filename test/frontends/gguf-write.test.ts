// Writing GGUF (gguf/write.ts, gguf/export-llama.ts, gguf/llama-layout.ts): the bytes against a
// writer made from ggml's docs/gguf.md (test/helpers/gguf-bytes.ts), and a Llama model's metadata,
// tensor names, types, dims and vocabulary as llama.cpp's convert script writes them.
import { describe, expect, it } from "vitest";
import { readGgufContainer } from "../../compiler/frontends/gguf/container.js";
import { llamaToGguf } from "../../compiler/frontends/gguf/export-llama.js";
import {
  BYTE_PIECE,
  LAYER_TENSORS,
  llamaTensors,
  pieceFromGguf,
  pieceToGguf,
  TOKEN_TYPE,
} from "../../compiler/frontends/gguf/llama-layout.js";
import { quantize } from "../../compiler/frontends/gguf/quant.js";
import { GGML } from "../../compiler/frontends/gguf/tensor-types.js";
import { writeGguf } from "../../compiler/frontends/gguf/write.js";
import type { LlamaConfig, LlamaWeights } from "../../compiler/frontends/llama-graph.js";
import type { Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import { array, f32le, ggufBytes, scalar, type MetaValue } from "../helpers/gguf-bytes.js";
import { randomF32 } from "../helpers/random.js";

describe("writeGguf", () => {
  it("writes the header, every entry type, tensor infos and padded data as gguf.md lays them out", () => {
    const a = f32le([1, 2, 3]); // 12 bytes: padded
    const b = new Uint8Array(34).fill(7);
    for (const alignment of [32, 64, 8]) {
      const written = writeGguf(
        [
          ["u", { type: "u32", value: 4000000000 }],
          ["i", { type: "i32", value: -7 }],
          ["f", { type: "f32", value: 0.1 }],
          ["yes", { type: "bool", value: true }],
          ["no", { type: "bool", value: false }],
          ["s", { type: "string", value: "é▁" }],
          ["ss", { type: "array", of: "string", value: ["x", ""] }],
          ["fs", { type: "array", of: "f32", value: [1.5, -2] }],
          ["is", { type: "array", of: "i32", value: [-1, 3] }],
        ],
        [
          { name: "a", dims: [3], type: GGML.F32, data: a },
          { name: "b.weight", dims: [32, 1], type: GGML.Q8_0, data: b },
        ],
        alignment,
      );
      const expected = ggufBytes({
        meta: [
          ["u", scalar("u32", 4000000000)],
          ["i", scalar("i32", -7)],
          ["f", scalar("f32", 0.1)],
          ["yes", scalar("bool", true)],
          ["no", scalar("bool", false)],
          ["s", scalar("string", "é▁")],
          ["ss", array("string", ["x", ""])],
          ["fs", array("f32", [1.5, -2])],
          ["is", array("i32", [-1, 3])],
          ...(alignment === 32 ? [] : [["general.alignment", scalar("u32", alignment)] as [string, MetaValue]]),
        ],
        tensors: [
          { name: "a", dims: [3], type: GGML.F32, data: a },
          { name: "b.weight", dims: [32, 1], type: GGML.Q8_0, data: b },
        ],
        alignment,
      });
      expect([alignment, ...written]).toEqual([alignment, ...expected]);
    }
  });

  it("writes a file with nothing in it as its 24-byte header, padded", () => {
    expect([...writeGguf([], [])]).toEqual([...ggufBytes({})]);
    expect(writeGguf([], []).length).toBe(32);
  });
});

const config = (shared: boolean): LlamaConfig => ({
  dim: 32,
  hiddenDim: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 6,
  seqLen: 64,
  sharedClassifier: shared,
});

function weights(shared: boolean): LlamaWeights {
  let seed = 21;
  const m = (n: number) => randomF32(n, seed++);
  const two = (n: number) => [m(n), m(n)];
  const tokEmbeddings = m(6 * 32);
  return {
    tokEmbeddings,
    attentionNorm: two(32),
    wq: two(32 * 32),
    wk: two(16 * 32),
    wv: two(16 * 32),
    wo: two(32 * 32),
    ffnNorm: two(32),
    w1: two(64 * 32),
    w2: two(32 * 64),
    w3: two(64 * 32),
    norm: m(32),
    output: shared ? tokEmbeddings : m(6 * 32),
  };
}

const spec: Llama2cTokenizerSpec = {
  type: "llama2c-bpe",
  pieces: ["<unk>", "\n<s>\n", "\n</s>\n", "<0x0A>", " the", "a b "],
  scores: [0, 0, 0, 0, -1, -2.5],
  bosId: 1,
  eosId: 2,
};

describe("llamaToGguf", () => {
  it("writes llama.cpp's llama metadata and SentencePiece vocabulary", () => {
    const g = readGgufContainer(llamaToGguf(config(true), weights(true), spec, { name: "tiny", type: "f32" }).bytes, "t.gguf");
    expect([...g.metadata]).toEqual([
      ["general.architecture", "llama"],
      ["general.name", "tiny"],
      ["general.file_type", 0],
      ["llama.vocab_size", 6],
      ["llama.context_length", 64],
      ["llama.embedding_length", 32],
      ["llama.block_count", 2],
      ["llama.feed_forward_length", 64],
      ["llama.rope.dimension_count", 8],
      ["llama.rope.freq_base", 10000],
      ["llama.attention.head_count", 4],
      ["llama.attention.head_count_kv", 2],
      ["llama.attention.layer_norm_rms_epsilon", Math.fround(1e-5)],
      ["tokenizer.ggml.model", "llama"],
      ["tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "<0x0A>", "▁the", "a▁b▁"]],
      ["tokenizer.ggml.scores", [0, 0, 0, 0, -1, -2.5]],
      // unknown, control, control, byte, normal, normal
      ["tokenizer.ggml.token_type", [2, 3, 3, 6, 1, 1]],
      ["tokenizer.ggml.bos_token_id", 1],
      ["tokenizer.ggml.eos_token_id", 2],
      ["tokenizer.ggml.unknown_token_id", 0],
    ]);
    const other = readGgufContainer(
      llamaToGguf(config(true), weights(true), undefined, { name: "x", type: "q4_0", ropeTheta: 500000, rmsEpsilon: 1e-6, alignment: 64 })
        .bytes,
      "t.gguf",
    );
    expect(other.alignment).toBe(64);
    expect([
      other.metadata.get("general.file_type"),
      other.metadata.get("llama.rope.freq_base"),
      other.metadata.get("llama.attention.layer_norm_rms_epsilon"),
      other.metadata.has("tokenizer.ggml.model"),
    ]).toEqual([2, 500000, Math.fround(1e-6), false]);
    const fileType = (type: "f16" | "q8_0") =>
      readGgufContainer(llamaToGguf(config(true), weights(true), undefined, { name: "x", type }).bytes, "t").metadata.get(
        "general.file_type",
      );
    expect([fileType("f16"), fileType("q8_0")]).toEqual([1, 7]);
  });

  it("types a token by its piece: <unk> only at id 0, BOS and EOS control, <0xXX> bytes", () => {
    const odd: Llama2cTokenizerSpec = { ...spec, pieces: ["<s>", "<unk>", "\n<s>\n", "<0xff>", "<0x0A> ", "\n</s>\n"], bosId: 2, eosId: 5 };
    const g = readGgufContainer(llamaToGguf(config(true), weights(true), odd, { name: "x", type: "f32" }).bytes, "t");
    expect(g.metadata.get("tokenizer.ggml.token_type")).toEqual([1, 1, 3, 6, 1, 3]);
    expect(g.metadata.get("tokenizer.ggml.tokens")).toEqual(["<s>", "<unk>", "<s>", "<0xff>", "<0x0A>▁", "</s>"]);
    expect([g.metadata.get("tokenizer.ggml.bos_token_id"), g.metadata.get("tokenizer.ggml.eos_token_id")]).toEqual([2, 5]);
  });

  it("writes each tensor under llama.cpp's name, dims innermost first, vectors F32 and matrices in the type asked", () => {
    for (const shared of [true, false]) {
      const c = config(shared),
        w = weights(shared);
      const { bytes, fallbacks } = llamaToGguf(c, w, undefined, { name: "x", type: "q8_0" });
      expect(fallbacks).toEqual([]);
      const g = readGgufContainer(bytes, "t");
      const layer = (l: number) => [
        [`blk.${l}.attn_norm.weight`, [32], GGML.F32],
        [`blk.${l}.attn_q.weight`, [32, 32], GGML.Q8_0],
        [`blk.${l}.attn_k.weight`, [32, 16], GGML.Q8_0],
        [`blk.${l}.attn_v.weight`, [32, 16], GGML.Q8_0],
        [`blk.${l}.attn_output.weight`, [32, 32], GGML.Q8_0],
        [`blk.${l}.ffn_norm.weight`, [32], GGML.F32],
        [`blk.${l}.ffn_gate.weight`, [32, 64], GGML.Q8_0],
        [`blk.${l}.ffn_down.weight`, [64, 32], GGML.Q8_0],
        [`blk.${l}.ffn_up.weight`, [32, 64], GGML.Q8_0],
      ];
      expect([...g.tensors.values()].map((t) => [t.name, t.dims, t.type])).toEqual([
        ["token_embd.weight", [32, 6], GGML.Q8_0],
        ...layer(0),
        ...layer(1),
        ["output_norm.weight", [32], GGML.F32],
        ...(shared ? [] : [["output.weight", [32, 6], GGML.Q8_0]]),
      ]);
      // Each tensor's bytes are its quantized values, at the offset the container gives.
      const bytesOf = (name: string, n: number) => bytes.subarray(g.tensors.get(name)!.offset, g.tensors.get(name)!.offset + n);
      expect([...bytesOf("blk.1.ffn_down.weight", 64 * 34)]).toEqual([...quantize(GGML.Q8_0, w.w2[1])]);
      expect([...bytesOf("blk.0.attn_k.weight", 16 * 34)]).toEqual([...quantize(GGML.Q8_0, w.wk[0])]);
      expect([...bytesOf("output_norm.weight", 128)]).toEqual([...f32le(w.norm)]);
      if (!shared) expect([...bytesOf("output.weight", 6 * 34)]).toEqual([...quantize(GGML.Q8_0, w.output)]);
    }
  });

  it("falls back to F16 for a Q8_0 or Q4_0 matrix whose rows do not fill 32-value blocks, and lists it", () => {
    const c: LlamaConfig = { ...config(true), dim: 16, nHeads: 2, nKvHeads: 1, hiddenDim: 32 };
    let seed = 5;
    const m = (n: number) => randomF32(n, seed++);
    const two = (n: number) => [m(n), m(n)];
    const tok = m(6 * 16);
    const w: LlamaWeights = {
      tokEmbeddings: tok,
      attentionNorm: two(16),
      wq: two(256),
      wk: two(128),
      wv: two(128),
      wo: two(256),
      ffnNorm: two(16),
      w1: two(512),
      w2: two(512),
      w3: two(512),
      norm: m(16),
      output: tok,
    };
    // Rows of 16 (dim): everything but ffn_down, whose rows are hidden_dim = 32 long.
    const f16 = [
      "token_embd.weight",
      ...[0, 1].flatMap((l) => ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"].map((n) => `blk.${l}.${n}.weight`)),
    ];
    for (const type of ["q8_0", "q4_0"] as const) {
      const { bytes, fallbacks } = llamaToGguf(c, w, undefined, { name: "x", type });
      expect(fallbacks.sort()).toEqual([...f16].sort());
      const g = readGgufContainer(bytes, "t");
      expect(g.tensors.get("blk.0.ffn_down.weight")!.type).toBe(type === "q8_0" ? GGML.Q8_0 : GGML.Q4_0);
      expect(g.tensors.get("blk.1.attn_q.weight")!.type).toBe(GGML.F16);
    }
    for (const type of ["f16", "f32"] as const) expect(llamaToGguf(c, w, undefined, { name: "x", type }).fallbacks).toEqual([]);
  });
});

describe("the llama layout", () => {
  it("lists each layer's tensors with its shape [out, in] from the config", () => {
    const c = config(false);
    expect(LAYER_TENSORS.map(([suffix, key, shape]) => [suffix, key, shape(c)])).toEqual([
      ["attn_norm", "attentionNorm", [32]],
      ["attn_q", "wq", [32, 32]],
      ["attn_k", "wk", [16, 32]],
      ["attn_v", "wv", [16, 32]],
      ["attn_output", "wo", [32, 32]],
      ["ffn_norm", "ffnNorm", [32]],
      ["ffn_gate", "w1", [64, 32]],
      ["ffn_down", "w2", [32, 64]],
      ["ffn_up", "w3", [64, 32]],
    ]);
    const w = weights(false);
    const t = llamaTensors(c, w);
    expect(t.length).toBe(1 + 2 * 9 + 2);
    expect(t[0]).toEqual({ name: "token_embd.weight", shape: [6, 32], data: w.tokEmbeddings });
    expect(t[11]).toEqual({ name: "blk.1.attn_q.weight", shape: [32, 32], data: w.wq[1] });
    expect(t.at(-2)).toEqual({ name: "output_norm.weight", shape: [32], data: w.norm });
    expect(t.at(-1)).toEqual({ name: "output.weight", shape: [6, 32], data: w.output });
  });

  it("turns llama2.c's pieces into SentencePiece's and back", () => {
    expect(pieceToGguf(" a b", 5, 1, 2)).toBe("▁a▁b");
    expect(pieceToGguf("\n<s>\n", 1, 1, 2)).toBe("<s>");
    expect(pieceToGguf("\n</s>\n", 2, 1, 2)).toBe("</s>");
    expect(pieceToGguf(" x ", 3, 1, 2)).toBe("▁x▁");
    expect(pieceFromGguf("▁a▁b", 5, 1, 2)).toBe(" a b");
    expect(pieceFromGguf("<s>", 1, 1, 2)).toBe("\n<s>\n");
    expect(pieceFromGguf("</s>", 2, 1, 2)).toBe("\n</s>\n");
    expect(TOKEN_TYPE).toEqual({ normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 });
    expect(["<0x0A>", "<0xff>", "<0xA0>"].map((p) => BYTE_PIECE.test(p))).toEqual([true, true, true]);
    expect(["<0x0>", "<0xABC>", " <0x0A>", "<0x0A> ", "<0xGG>", "<0X0A>"].map((p) => BYTE_PIECE.test(p))).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
