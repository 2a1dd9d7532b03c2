/**
 * A Llama model (as the llama2.c frontend reads it) written as GGUF the way llama.cpp writes the
 * llama architecture, so llama.cpp (and wllama) run the same model seec compiles.
 */
import type { Llama2cTokenizerSpec } from "../../../runtime/tokenizers/llama2c-bpe.js";
import type { LlamaConfig, LlamaWeights } from "../llama-graph.js";
import { llamaTensors, pieceToGguf, BYTE_PIECE, TOKEN_TYPE } from "./llama-layout.js";
import { quantize } from "./quant.js";
import { GGML } from "./tensor-types.js";
import { writeGguf, type GgufEntry, type GgufTensorOut } from "./write.js";

export type GgufWeightType = "f32" | "f16" | "q8_0" | "q4_0";

/** llama.cpp's general.file_type (enum llama_ftype) for each choice. */
const FILE_TYPE: Record<GgufWeightType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };
const GGML_TYPE: Record<GgufWeightType, number> = { f32: GGML.F32, f16: GGML.F16, q8_0: GGML.Q8_0, q4_0: GGML.Q4_0 };

export interface LlamaGgufOptions {
  name: string;
  type: GgufWeightType;
  /** llama2.c's RMSNorm epsilon and RoPE base, the defaults of seec's Llama graph. */
  rmsEpsilon?: number;
  ropeTheta?: number;
  alignment?: number;
  /** A Jinja chat template, written as tokenizer.chat_template (llama.cpp and seec render conversations with it). */
  chatTemplate?: string;
  /** Further metadata, written after the model's. */
  metadata?: [string, GgufEntry][];
}

export interface LlamaGguf {
  bytes: Uint8Array;
  /** Matrices written as F16 because their rows do not fill 32-value blocks (llama.cpp's converter does the same). */
  fallbacks: string[];
}

export function llamaToGguf(
  c: LlamaConfig,
  w: LlamaWeights,
  tokenizer: Llama2cTokenizerSpec | undefined,
  opts: LlamaGgufOptions,
): LlamaGguf {
  const u32 = (value: number): GgufEntry => ({ type: "u32", value });
  const metadata: [string, GgufEntry][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: opts.name }],
    ["general.file_type", u32(FILE_TYPE[opts.type])],
    ["llama.vocab_size", u32(c.vocabSize)],
    ["llama.context_length", u32(c.seqLen)],
    ["llama.embedding_length", u32(c.dim)],
    ["llama.block_count", u32(c.nLayers)],
    ["llama.feed_forward_length", u32(c.hiddenDim)],
    ["llama.rope.dimension_count", u32(c.dim / c.nHeads)],
    ["llama.rope.freq_base", { type: "f32", value: opts.ropeTheta ?? 10000 }],
    ["llama.attention.head_count", u32(c.nHeads)],
    ["llama.attention.head_count_kv", u32(c.nKvHeads)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: opts.rmsEpsilon ?? 1e-5 }],
  ];
  if (tokenizer) metadata.push(...tokenizerMetadata(tokenizer));
  if (opts.chatTemplate !== undefined) metadata.push(["tokenizer.chat_template", { type: "string", value: opts.chatTemplate }]);
  metadata.push(...(opts.metadata ?? []));

  const fallbacks: string[] = [];
  const tensors: GgufTensorOut[] = llamaTensors(c, w).map(({ name, shape, data }) => {
    // As llama.cpp: vectors (the norms) stay F32; a matrix whose rows do not fill blocks falls back to F16.
    let type = shape.length === 1 ? GGML.F32 : GGML_TYPE[opts.type];
    if ((type === GGML.Q8_0 || type === GGML.Q4_0) && shape[shape.length - 1] % 32 !== 0) {
      type = GGML.F16;
      fallbacks.push(name);
    }
    return { name, dims: [...shape].reverse(), type, data: quantize(type, data) };
  });
  return { bytes: writeGguf(metadata, tensors, opts.alignment), fallbacks };
}

function tokenizerMetadata(t: Llama2cTokenizerSpec): [string, GgufEntry][] {
  const type = (piece: string, id: number) =>
    id === 0 && piece === "<unk>"
      ? TOKEN_TYPE.unknown
      : id === t.bosId || id === t.eosId
        ? TOKEN_TYPE.control
        : BYTE_PIECE.test(piece)
          ? TOKEN_TYPE.byte
          : TOKEN_TYPE.normal;
  return [
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "array", of: "string", value: t.pieces.map((p, i) => pieceToGguf(p, i, t.bosId, t.eosId)) }],
    ["tokenizer.ggml.scores", { type: "array", of: "f32", value: t.scores }],
    ["tokenizer.ggml.token_type", { type: "array", of: "i32", value: t.pieces.map(type) }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: t.bosId }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: t.eosId }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: 0 }],
  ];
}
