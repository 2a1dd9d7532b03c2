/**
 * llama2.c checkpoints (github.com/karpathy/llama2.c) -> IR.
 *
 * Two layouts exist. The original ("legacy") one: 7 int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier is not shared),
 * then fp32 weights grouped by kind across layers, then the RoPE tables, then wcls.
 * The newer export: magic "ak42", a version, the same 7 ints, a shared-classifier byte, padded
 * to 256 bytes; version 1 is fp32 with the norms first; version 2 is Q8_0, which seec rejects.
 */
import { SeecError } from "../../runtime/errors.js";
import { ByteReader } from "./byte-reader.js";
import type { DeferredData } from "../ir/graph.js";
import type { InputFile } from "./input-file.js";
import { checkLlamaConfig, type LlamaConfig, type LlamaWeights } from "./llama-graph.js";

/** llama2.c's config and weights are the Llama graph builder's own (llama-graph.ts). */
export type Llama2cConfig = LlamaConfig;
export type Llama2cWeights = LlamaWeights;

const MAGIC = 0x616b3432; // "ak42"

export function readLlama2cCheckpoint(bytes: Uint8Array, file: string): { config: Llama2cConfig; weights: Llama2cWeights } {
  const r = new ByteReader(bytes, file);
  return readCheckpoint(r, file, (count, what) => r.f32s(count, what));
}

/**
 * A checkpoint left in its file (one too large to hold while it builds): the header is read now,
 * each tensor when a pass reads its values (frontends/input-file.ts).
 */
export function readLlama2cFile(input: InputFile): { config: Llama2cConfig; weights: LlamaWeights<Float32Array | DeferredData> } {
  const r = new ByteReader(input.read(0, Math.min(HEADER_BYTES, input.size)), input.path, input);
  return readCheckpoint(r, input.path, (count, what) => r.f32Tensor(count, what));
}

/** The most bytes either layout's header takes (version 1 pads it to 256). */
const HEADER_BYTES = 256;

function readCheckpoint<T extends { length: number }>(
  r: ByteReader,
  file: string,
  f32s: (count: number, what: string) => T,
): { config: Llama2cConfig; weights: LlamaWeights<T> } {
  const first = r.u32("the header");
  let version = 0;
  if (first === MAGIC) {
    version = r.i32("the version");
    if (version === 2)
      throw new SeecError("unsupported.checkpoint_version", "llama2.c version-2 checkpoints (Q8_0 quantized) are not supported", {
        file,
        at: "byte 4",
        hint: "export the model with llama2.c's export.py --version 1 (fp32), or use the legacy format",
      });
    if (version !== 1)
      throw new SeecError("input.checkpoint_version", `unknown llama2.c checkpoint version ${version}`, { file, at: "byte 4" });
  } else r.offset = 0;

  const header = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"].map((k) => r.i32(`header field ${k}`));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = header;
  const sharedClassifier = version === 0 ? rawVocab > 0 : r.bytesOf(1, "the shared-classifier flag")[0] === 1;
  const config: Llama2cConfig = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(rawVocab), seqLen, sharedClassifier };
  checkLlamaConfig(config, (msg) => {
    throw new SeecError("input.checkpoint_header", msg, { file, at: "header", hint: "this does not look like a llama2.c checkpoint" });
  });
  if (version === 1) r.offset = 256;

  const kvDim = (dim / nHeads) * nKvHeads;
  const headSize = dim / nHeads;
  const perLayer = (what: string, size: number) => Array.from({ length: nLayers }, (_, l) => f32s(size, `layers.${l}.${what}`));

  let w: LlamaWeights<T>;
  if (version === 0) {
    const tokEmbeddings = f32s(config.vocabSize * dim, "tok_embeddings");
    const attentionNorm = perLayer("attention_norm", dim);
    const wq = perLayer("attention.wq", dim * dim);
    const wk = perLayer("attention.wk", kvDim * dim);
    const wv = perLayer("attention.wv", kvDim * dim);
    const wo = perLayer("attention.wo", dim * dim);
    const ffnNorm = perLayer("ffn_norm", dim);
    const w1 = perLayer("feed_forward.w1", hiddenDim * dim);
    const w2 = perLayer("feed_forward.w2", dim * hiddenDim);
    const w3 = perLayer("feed_forward.w3", hiddenDim * dim);
    const norm = f32s(dim, "norm");
    r.skip(seqLen * headSize * 4, "the RoPE tables (freq_cis_real, freq_cis_imag)");
    const output = sharedClassifier ? tokEmbeddings : f32s(config.vocabSize * dim, "output (wcls)");
    w = { tokEmbeddings, attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, norm, output };
  } else {
    const attentionNorm = perLayer("attention_norm", dim);
    const ffnNorm = perLayer("ffn_norm", dim);
    const norm = f32s(dim, "norm");
    const tokEmbeddings = f32s(config.vocabSize * dim, "tok_embeddings");
    const wq = perLayer("attention.wq", dim * dim);
    const wk = perLayer("attention.wk", kvDim * dim);
    const wv = perLayer("attention.wv", kvDim * dim);
    const wo = perLayer("attention.wo", dim * dim);
    const w1 = perLayer("feed_forward.w1", hiddenDim * dim);
    const w2 = perLayer("feed_forward.w2", dim * hiddenDim);
    const w3 = perLayer("feed_forward.w3", hiddenDim * dim);
    const output = sharedClassifier ? tokEmbeddings : f32s(config.vocabSize * dim, "output");
    w = { tokEmbeddings, attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, norm, output };
  }
  if (r.remaining !== 0)
    throw new SeecError("input.trailing_bytes", `${r.remaining} bytes follow the last tensor`, {
      file,
      at: `byte ${r.offset}`,
      hint: "the header does not describe this file: is it a llama2.c checkpoint?",
    });
  return { config, weights: w };
}
