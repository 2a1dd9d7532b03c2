/**
 * How a Llama model sits in a GGUF file (llama.cpp's names for the llama architecture), shared by
 * the reader and the writer so the two cannot drift apart.
 *
 * Q and K rows: llama.cpp's llama architecture rotates adjacent pairs (rope type NORM), so GGUF keeps
 * wq and wk in Meta's original row order. Its convert_hf_to_gguf.py permutes Hugging Face
 * checkpoints back into that order; llama2.c checkpoints (and seec's IR, RoPE interleaved = 1) are
 * already in it, so no permutation is applied either way.
 */
import type { LlamaConfig, LlamaWeights } from "../llama-graph.js";

type LayerKey = "attentionNorm" | "wq" | "wk" | "wv" | "wo" | "ffnNorm" | "w1" | "w2" | "w3";

/** Per layer: the GGUF name after `blk.N.`, the field, and its PyTorch shape [out, in] or [n]. */
export const LAYER_TENSORS: [string, LayerKey, (c: LlamaConfig) => number[]][] = [
  ["attn_norm", "attentionNorm", (c) => [c.dim]],
  ["attn_q", "wq", (c) => [c.dim, c.dim]],
  ["attn_k", "wk", (c) => [kvDim(c), c.dim]],
  ["attn_v", "wv", (c) => [kvDim(c), c.dim]],
  ["attn_output", "wo", (c) => [c.dim, c.dim]],
  ["ffn_norm", "ffnNorm", (c) => [c.dim]],
  ["ffn_gate", "w1", (c) => [c.hiddenDim, c.dim]],
  ["ffn_down", "w2", (c) => [c.dim, c.hiddenDim]],
  ["ffn_up", "w3", (c) => [c.hiddenDim, c.dim]],
];

function kvDim(c: LlamaConfig): number {
  return (c.dim / c.nHeads) * c.nKvHeads;
}

/** Every tensor of the model: GGUF name, PyTorch shape, data. output.weight only when the classifier is its own. */
export function llamaTensors(c: LlamaConfig, w: LlamaWeights): { name: string; shape: number[]; data: Float32Array }[] {
  const out = [{ name: "token_embd.weight", shape: [c.vocabSize, c.dim], data: w.tokEmbeddings }];
  for (let l = 0; l < c.nLayers; l++)
    for (const [suffix, key, shape] of LAYER_TENSORS) out.push({ name: `blk.${l}.${suffix}.weight`, shape: shape(c), data: w[key][l] });
  out.push({ name: "output_norm.weight", shape: [c.dim], data: w.norm });
  if (!c.sharedClassifier) out.push({ name: "output.weight", shape: [c.vocabSize, c.dim], data: w.output });
  return out;
}

/** SentencePiece token types, as tokenizer.ggml.token_type stores them. */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/**
 * llama2.c's tokenizer export rewrites SentencePiece's pieces: "▁" (U+2581) becomes a space, and BOS
 * and EOS become "\n<s>\n" and "\n</s>\n". GGUF keeps SentencePiece's own pieces. These two functions
 * undo each other, so a llama2.c tokenizer survives a trip through GGUF unchanged.
 */
export function pieceToGguf(piece: string, id: number, bosId: number, eosId: number): string {
  return id === bosId || id === eosId ? piece.trim() : piece.replaceAll(" ", "\u2581");
}

export function pieceFromGguf(piece: string, id: number, bosId: number, eosId: number): string {
  return id === bosId || id === eosId ? `\n${piece}\n` : piece.replaceAll("\u2581", " ");
}

export const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;
