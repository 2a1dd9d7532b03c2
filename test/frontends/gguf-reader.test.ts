// gguf.ts: a llama GGUF file -> config, weights, tokenizer and graph options. Files written byte by byte
// (test/helpers/gguf-bytes.ts): each metadata key's default, type and refusal; each tensor's name and
// shape; the SentencePiece vocabulary's checks.
import { describe, expect, it } from "vitest";
import { readGguf } from "../../compiler/frontends/gguf.js";
import type { LlamaConfig, LlamaWeights } from "../../compiler/frontends/llama-graph.js";
import { catchSeec } from "../helpers/errors.js";
import { array, f32le, ggufBytes, scalar, type MetaValue, type TensorInfoOut } from "../helpers/gguf-bytes.js";
import { randomF32 } from "../helpers/random.js";

const config: LlamaConfig = {
  dim: 8,
  hiddenDim: 12,
  nLayers: 2,
  nHeads: 2,
  nKvHeads: 1,
  vocabSize: 6,
  seqLen: 16,
  sharedClassifier: false,
};

function weights(): LlamaWeights {
  let seed = 3;
  const m = (n: number) => randomF32(n, seed++);
  const two = (n: number) => [m(n), m(n)];
  return {
    tokEmbeddings: m(48),
    attentionNorm: two(8),
    wq: two(64),
    wk: two(32),
    wv: two(32),
    wo: two(64),
    ffnNorm: two(8),
    w1: two(96),
    w2: two(96),
    w3: two(96),
    norm: m(8),
    output: m(48),
  };
}

/** llama.cpp's names and ggml's dims (innermost first) for each tensor, as F32, in a deliberately shuffled order. */
function tensors(w: LlamaWeights): TensorInfoOut[] {
  const t = (name: string, dims: number[], data: Float32Array): TensorInfoOut => ({ name, dims, type: 0, data: f32le(data) });
  const out = [t("output.weight", [8, 6], w.output), t("output_norm.weight", [8], w.norm)];
  for (const l of [1, 0])
    out.push(
      t(`blk.${l}.ffn_up.weight`, [8, 12], w.w3[l]),
      t(`blk.${l}.ffn_down.weight`, [12, 8], w.w2[l]),
      t(`blk.${l}.ffn_gate.weight`, [8, 12], w.w1[l]),
      t(`blk.${l}.ffn_norm.weight`, [8], w.ffnNorm[l]),
      t(`blk.${l}.attn_output.weight`, [8, 8], w.wo[l]),
      t(`blk.${l}.attn_v.weight`, [8, 4], w.wv[l]),
      t(`blk.${l}.attn_k.weight`, [8, 4], w.wk[l]),
      t(`blk.${l}.attn_q.weight`, [8, 8], w.wq[l]),
      t(`blk.${l}.attn_norm.weight`, [8], w.attentionNorm[l]),
    );
  out.push(t("token_embd.weight", [8, 6], w.tokEmbeddings));
  return out;
}

const PIECES = ["<unk>", "<s>", "</s>", "▁a", "b▁c", "<0x41>"];
const SCORES = [0, 0, 0, -1.5, -2, -3];

/** Every key a llama.cpp llama file has; `undefined` in `change` drops one. */
function meta(change: Record<string, MetaValue | undefined> = {}): [string, MetaValue][] {
  const base: Record<string, MetaValue> = {
    "general.architecture": scalar("string", "llama"),
    "llama.context_length": scalar("u32", 16),
    "llama.embedding_length": scalar("u32", 8),
    "llama.block_count": scalar("u32", 2),
    "llama.feed_forward_length": scalar("u32", 12),
    "llama.rope.dimension_count": scalar("u32", 4),
    "llama.rope.freq_base": scalar("f32", 500000),
    "llama.attention.head_count": scalar("u32", 2),
    "llama.attention.head_count_kv": scalar("u32", 1),
    "llama.attention.layer_norm_rms_epsilon": scalar("f32", 1e-6),
    "tokenizer.ggml.model": scalar("string", "llama"),
    "tokenizer.ggml.tokens": array("string", PIECES),
    "tokenizer.ggml.scores": array("f32", SCORES),
    "tokenizer.ggml.bos_token_id": scalar("u32", 1),
    "tokenizer.ggml.eos_token_id": scalar("u32", 2),
  };
  const all = { ...base, ...change };
  return Object.entries(all).filter((e): e is [string, MetaValue] => e[1] !== undefined);
}

const file = (change: Record<string, MetaValue | undefined> = {}, ts: TensorInfoOut[] = tensors(weights())) =>
  ggufBytes({ meta: meta(change), tensors: ts });

/** The SeecError readGguf throws, as { code, message, at, hint } (file checked once here). */
function refusal(bytes: Uint8Array) {
  const e = catchSeec(() => readGguf(bytes, "m.gguf"));
  expect(e.file).toBe("m.gguf");
  return { code: e.code, message: e.message, at: e.at, hint: e.hint };
}

describe("readGguf", () => {
  it("reads config, every weight by llama.cpp's name, the vocabulary and the graph options", () => {
    const w = weights();
    const m = readGguf(file({}, tensors(w)), "m.gguf");
    expect(m.config).toEqual(config);
    expect(m.weights).toEqual(w);
    expect(m.options).toEqual({ rmsEpsilon: 1e-6, ropeTheta: 500000, bosId: 1, eosId: 2 });
    // SentencePiece's pieces as llama2.c's tokenizer has them: "▁" a space, BOS and EOS between newlines.
    expect(m.tokenizer).toEqual({
      type: "llama2c-bpe",
      pieces: ["<unk>", "\n<s>\n", "\n</s>\n", " a", "b c", "<0x41>"],
      scores: SCORES,
      bosId: 1,
      eosId: 2,
    });
  });

  it("shares the classifier when there is no output.weight, and takes the defaults of absent optional keys", () => {
    const w = weights();
    const m = readGguf(
      file(
        {
          "llama.rope.dimension_count": undefined,
          "llama.rope.freq_base": undefined,
          "llama.attention.layer_norm_rms_epsilon": undefined,
          "tokenizer.ggml.bos_token_id": undefined,
          "tokenizer.ggml.eos_token_id": undefined,
        },
        tensors(w).filter((t) => t.name !== "output.weight"),
      ),
      "m.gguf",
    );
    expect(m.config).toEqual({ ...config, sharedClassifier: true });
    expect(m.weights.output).toBe(m.weights.tokEmbeddings);
    expect(m.options).toEqual({ rmsEpsilon: 1e-5, ropeTheta: 10000, bosId: 1, eosId: 2 });
    // Without head_count_kv every head has its own K and V: these (shared) ones then have the wrong shape.
    expect(refusal(file({ "llama.attention.head_count_kv": undefined })).message).toBe(
      "tensor blk.0.attn_k.weight is 8 x 4; the metadata makes it 8 x 8 (innermost first)",
    );
  });

  it("has no tokenizer without tokenizer.ggml.model, and takes BOS and EOS from the metadata", () => {
    expect(readGguf(file({ "tokenizer.ggml.model": undefined }), "m.gguf").tokenizer).toBeUndefined();
    const m = readGguf(
      file({ "tokenizer.ggml.bos_token_id": scalar("u32", 4), "tokenizer.ggml.eos_token_id": scalar("u32", 3) }),
      "m.gguf",
    );
    expect([m.options.bosId, m.options.eosId, m.tokenizer!.bosId, m.tokenizer!.eosId]).toEqual([4, 3, 4, 3]);
    expect(m.tokenizer!.pieces).toEqual(["<unk>", "<s>", "</s>", "\n▁a\n", "\nb▁c\n", "<0x41>"]);
  });

  it("reads f32 metadata as the shortest decimal that rounds to it, and other numbers as they are", () => {
    const options = (eps: MetaValue) => readGguf(file({ "llama.attention.layer_norm_rms_epsilon": eps }), "m.gguf").options.rmsEpsilon;
    expect(options(scalar("f32", 1e-5))).toBe(1e-5);
    expect(options(scalar("f32", 0.1))).toBe(0.1);
    expect(options(scalar("f32", 1 / 3))).toBe(0.33333334);
    expect(options(scalar("f64", 0.1))).toBe(0.1);
    expect(options(scalar("f64", 1 / 3))).toBe(1 / 3); // no shorter decimal is this f64
    expect(options(scalar("u32", 2))).toBe(2);
  });

  it("takes integers of any width, u64 up to 2^53", () => {
    const layers = (v: MetaValue) => readGguf(file({ "llama.context_length": v }), "m.gguf").config.seqLen;
    expect(layers(scalar("u64", 16n))).toBe(16);
    expect(layers(scalar("i32", 16))).toBe(16);
    expect(layers(scalar("u16", 16))).toBe(16);
    // 2^53 − 1 is still a number (and then too long a context); 0 is an integer too (here a BOS id).
    expect(refusal(file({ "llama.context_length": scalar("u64", 2n ** 53n - 1n) })).message).toBe(
      "seqLen = 9007199254740991 is out of range [1, 1048576]",
    );
    expect(readGguf(file({ "tokenizer.ggml.bos_token_id": scalar("u32", 0) }), "m.gguf").options.bosId).toBe(0);
    expect(refusal(file({ "llama.context_length": scalar("u64", 2n ** 53n + 1n) }))).toEqual({
      code: "input.gguf",
      message: 'metadata llama.context_length is "9007199254740993", not a non-negative integer',
      at: "llama.context_length",
      hint: undefined,
    });
  });

  it("names a missing or mistyped key and what it should be", () => {
    const bad = (change: Record<string, MetaValue | undefined>) => {
      const r = refusal(file(change));
      expect(r.code).toBe("input.gguf");
      return [r.message, r.at];
    };
    expect(bad({ "llama.block_count": undefined })).toEqual(["metadata llama.block_count is missing (an integer)", "llama.block_count"]);
    expect(bad({ "llama.attention.head_count": undefined })[0]).toBe("metadata llama.attention.head_count is missing (an integer)");
    expect(bad({ "llama.block_count": scalar("string", "2") })).toEqual([
      'metadata llama.block_count is "2", not a non-negative integer',
      "llama.block_count",
    ]);
    expect(bad({ "llama.block_count": scalar("i32", -2) })[0]).toBe('metadata llama.block_count is "-2", not a non-negative integer');
    expect(bad({ "llama.block_count": scalar("f32", 2.5) })[0]).toBe('metadata llama.block_count is "2.5", not a non-negative integer');
    expect(bad({ "llama.block_count": array("u32", [2]) })[0]).toBe("metadata llama.block_count is an array, not a non-negative integer");
    expect(bad({ "llama.rope.freq_base": scalar("string", "1e4") })).toEqual([
      'metadata llama.rope.freq_base is "1e4", not a finite number',
      "llama.rope.freq_base",
    ]);
    expect(bad({ "llama.rope.freq_base": scalar("f32", Infinity) })[0]).toBe(
      'metadata llama.rope.freq_base is "Infinity", not a finite number',
    );
    expect(bad({ "llama.rope.freq_base": scalar("f64", NaN) })[0]).toBe('metadata llama.rope.freq_base is "NaN", not a finite number');
    expect(bad({ "general.architecture": undefined })).toEqual([
      "metadata general.architecture is missing (a string)",
      "general.architecture",
    ]);
    expect(bad({ "general.architecture": scalar("u32", 1) })).toEqual([
      'metadata general.architecture is "1", not a string',
      "general.architecture",
    ]);
    expect(bad({ "tokenizer.ggml.tokens": undefined })).toEqual(["metadata tokenizer.ggml.tokens is missing", "tokenizer.ggml.tokens"]);
    expect(bad({ "tokenizer.ggml.scores": scalar("string", "x") })).toEqual([
      'metadata tokenizer.ggml.scores is "x", not an array',
      "tokenizer.ggml.scores",
    ]);
  });

  it("refuses another architecture, RoPE it cannot compute, and sizes the Llama graph cannot take", () => {
    expect(refusal(file({ "general.architecture": scalar("string", "gpt2") }))).toEqual({
      code: "unsupported.gguf_architecture",
      message: 'general.architecture is "gpt2"; seec reads the llama architecture',
      at: "general.architecture",
      hint: undefined,
    });
    const freqs: TensorInfoOut = { name: "rope_freqs.weight", dims: [2], type: 0, data: f32le([1, 1]) };
    expect(refusal(file({}, [...tensors(weights()), freqs]))).toEqual({
      code: "unsupported.gguf_rope",
      message: "rope_freqs.weight rescales RoPE's frequencies (Llama 3.1 style)",
      at: "rope_freqs.weight",
      hint: undefined,
    });
    expect(refusal(file({ "llama.rope.dimension_count": scalar("u32", 2) }))).toEqual({
      code: "unsupported.gguf_rope",
      message: "llama.rope.dimension_count 2 rotates part of each head of 4",
      at: "llama.rope.dimension_count",
      hint: undefined,
    });
    expect(refusal(file({ "llama.rope.scaling.type": scalar("string", "linear") }))).toEqual({
      code: "unsupported.gguf_rope",
      message: 'RoPE scaling "linear" is not supported',
      at: "llama.rope.scaling.type",
      hint: undefined,
    });
    expect(readGguf(file({ "llama.rope.scaling.type": scalar("string", "none") }), "m.gguf").config).toEqual(config);
    expect(refusal(file({ "llama.attention.head_count": scalar("u32", 3) }))).toEqual({
      code: "input.gguf",
      message: "dim 8 is not a multiple of n_heads 3",
      at: "llama.* metadata",
      hint: undefined,
    });
    // A one-dimensional embedding gives no vocabulary size.
    const flat = tensors(weights()).map((t) => (t.name === "token_embd.weight" ? { ...t, dims: [48] } : t));
    expect(refusal(file({}, flat)).message).toBe("vocabSize = 0 is out of range [1, 1048576]");
  });

  it("names a missing tensor, and one whose shape is not the metadata's", () => {
    const without = (name: string) => tensors(weights()).filter((t) => t.name !== name);
    for (const name of ["token_embd.weight", "blk.1.attn_k.weight", "output_norm.weight"])
      expect(refusal(file({}, without(name)))).toEqual({
        code: "input.gguf",
        message: `tensor ${name} is missing`,
        at: name,
        hint: "is this a llama-architecture GGUF file?",
      });
    const reshaped = (name: string, dims: number[]) => tensors(weights()).map((t) => (t.name === name ? { ...t, dims } : t));
    expect(refusal(file({}, reshaped("blk.0.ffn_down.weight", [8, 12])))).toEqual({
      code: "input.gguf",
      message: "tensor blk.0.ffn_down.weight is 8 x 12; the metadata makes it 12 x 8 (innermost first)",
      at: "blk.0.ffn_down.weight",
      hint: undefined,
    });
    expect(refusal(file({}, reshaped("blk.1.ffn_norm.weight", [8, 1]))).message).toBe(
      "tensor blk.1.ffn_norm.weight is 8 x 1; the metadata makes it 8 (innermost first)",
    );
    expect(refusal(file({}, reshaped("output.weight", [48]))).message).toBe(
      "tensor output.weight is 48; the metadata makes it 8 x 6 (innermost first)",
    );
    // Fewer dimensions that agree as far as they go are still the wrong shape.
    expect(refusal(file({}, reshaped("output.weight", [8]))).message).toBe(
      "tensor output.weight is 8; the metadata makes it 8 x 6 (innermost first)",
    );
  });

  it("refuses a vocabulary that is not SentencePiece's, or does not fit the model, naming the key", () => {
    const bad = (change: Record<string, MetaValue | undefined>) => refusal(file(change));
    expect(bad({ "tokenizer.ggml.model": scalar("string", "gpt2") })).toEqual({
      code: "unsupported.gguf_tokenizer",
      message: 'tokenizer.ggml.model is "gpt2"; seec reads SentencePiece ("llama") vocabularies',
      at: "tokenizer.ggml.model",
      hint: undefined,
    });
    const input = (message: string, at: string) => ({ code: "input.gguf", message, at, hint: undefined });
    expect(bad({ "tokenizer.ggml.tokens": array("string", PIECES.slice(0, 5)) })).toEqual(
      input("5 tokens for a model of 6", "tokenizer.ggml.tokens"),
    );
    expect(bad({ "tokenizer.ggml.scores": array("f32", [...SCORES, 0]) })).toEqual(input("7 scores for 6 tokens", "tokenizer.ggml.scores"));
    expect(bad({ "tokenizer.ggml.bos_token_id": scalar("u32", 6) })).toEqual(
      input("BOS 6 or EOS 2 is outside the 6 tokens", "tokenizer.ggml.bos_token_id"),
    );
    expect(bad({ "tokenizer.ggml.eos_token_id": scalar("u32", 6) })).toEqual(
      input("BOS 1 or EOS 6 is outside the 6 tokens", "tokenizer.ggml.bos_token_id"),
    );
    expect(readGguf(file({ "tokenizer.ggml.eos_token_id": scalar("u32", 5) }), "m.gguf").tokenizer!.eosId).toBe(5);
    expect(bad({ "tokenizer.ggml.tokens": array("i32", [0, 1, 2, 3, 4, 5]) })).toEqual(
      input("token 0 is not a string", "tokenizer.ggml.tokens"),
    );
    expect(bad({ "tokenizer.ggml.scores": array("f32", [0, 0, 0, NaN, 0, 0]) })).toEqual(
      input("score 3 is not a finite number", "tokenizer.ggml.scores"),
    );
    expect(bad({ "tokenizer.ggml.scores": array("string", ["0", "0", "0", "0", "0", "0"]) })).toEqual(
      input("score 0 is not a finite number", "tokenizer.ggml.scores"),
    );
  });
});
