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
import { GraphBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import { ByteReader } from "./byte-reader.js";

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export interface Llama2cWeights {
  tokEmbeddings: Float32Array; // [vocab, dim]
  attentionNorm: Float32Array[]; // per layer [dim]
  wq: Float32Array[]; // [dim, dim]
  wk: Float32Array[]; // [kvDim, dim]
  wv: Float32Array[]; // [kvDim, dim]
  wo: Float32Array[]; // [dim, dim]
  ffnNorm: Float32Array[]; // [dim]
  w1: Float32Array[]; // [hidden, dim]
  w2: Float32Array[]; // [dim, hidden]
  w3: Float32Array[]; // [hidden, dim]
  norm: Float32Array; // [dim]
  output: Float32Array; // [vocab, dim]; the embedding itself when shared
}

const MAGIC = 0x616b3432; // "ak42"
const BOS = 1;
const EOS = 2;

export function readLlama2cCheckpoint(bytes: Uint8Array, file: string): { config: Llama2cConfig; weights: Llama2cWeights } {
  const r = new ByteReader(bytes, file);
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
  checkConfig(config, file);
  if (version === 1) r.offset = 256;

  const kvDim = (dim / nHeads) * nKvHeads;
  const headSize = dim / nHeads;
  const perLayer = (what: string, size: number) => Array.from({ length: nLayers }, (_, l) => r.f32s(size, `layers.${l}.${what}`));

  let w: Llama2cWeights;
  if (version === 0) {
    const tokEmbeddings = r.f32s(config.vocabSize * dim, "tok_embeddings");
    const attentionNorm = perLayer("attention_norm", dim);
    const wq = perLayer("attention.wq", dim * dim);
    const wk = perLayer("attention.wk", kvDim * dim);
    const wv = perLayer("attention.wv", kvDim * dim);
    const wo = perLayer("attention.wo", dim * dim);
    const ffnNorm = perLayer("ffn_norm", dim);
    const w1 = perLayer("feed_forward.w1", hiddenDim * dim);
    const w2 = perLayer("feed_forward.w2", dim * hiddenDim);
    const w3 = perLayer("feed_forward.w3", hiddenDim * dim);
    const norm = r.f32s(dim, "norm");
    r.skip(seqLen * headSize * 4, "the RoPE tables (freq_cis_real, freq_cis_imag)");
    const output = sharedClassifier ? tokEmbeddings : r.f32s(config.vocabSize * dim, "output (wcls)");
    w = { tokEmbeddings, attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, norm, output };
  } else {
    const attentionNorm = perLayer("attention_norm", dim);
    const ffnNorm = perLayer("ffn_norm", dim);
    const norm = r.f32s(dim, "norm");
    const tokEmbeddings = r.f32s(config.vocabSize * dim, "tok_embeddings");
    const wq = perLayer("attention.wq", dim * dim);
    const wk = perLayer("attention.wk", kvDim * dim);
    const wv = perLayer("attention.wv", kvDim * dim);
    const wo = perLayer("attention.wo", dim * dim);
    const w1 = perLayer("feed_forward.w1", hiddenDim * dim);
    const w2 = perLayer("feed_forward.w2", dim * hiddenDim);
    const w3 = perLayer("feed_forward.w3", hiddenDim * dim);
    const output = sharedClassifier ? tokEmbeddings : r.f32s(config.vocabSize * dim, "output");
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

function checkConfig(c: Llama2cConfig, file: string): void {
  const bad = (msg: string): never => {
    throw new SeecError("input.checkpoint_header", msg, { file, at: "header", hint: "this does not look like a llama2.c checkpoint" });
  };
  const limits: [keyof Llama2cConfig, number][] = [
    ["dim", 1 << 16],
    ["hiddenDim", 1 << 18],
    ["nLayers", 1024],
    ["nHeads", 1024],
    ["nKvHeads", 1024],
    ["vocabSize", 1 << 20],
    ["seqLen", 1 << 20],
  ];
  for (const [k, max] of limits) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1 || v > max) bad(`${k} = ${v} is out of range [1, ${max}]`);
  }
  if (c.dim % c.nHeads !== 0) bad(`dim ${c.dim} is not a multiple of n_heads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) bad(`n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) bad(`head size ${c.dim / c.nHeads} must be even for RoPE`);
}

export interface Llama2cGraphOptions {
  /** The most tokens one call may process (prompt chunks); the memory plan is sized for it. */
  maxChunk: number;
  /** Context length; defaults to the checkpoint's seq_len. */
  context?: number;
}

/** The Llama forward pass for T tokens at positions pos..pos+T-1, as llama2.c's forward() computes it. */
export function llama2cGraph(name: string, config: Llama2cConfig, w: Llama2cWeights, opts: Llama2cGraphOptions): Graph {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
  const context = Math.min(opts.context ?? config.seqLen, config.seqLen);
  const headDim = dim / nHeads;
  const kvDim = headDim * nKvHeads;
  const b = new GraphBuilder(name, {
    family: "decoder",
    config: { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, contextLength: context, maxChunk: opts.maxChunk },
    bosId: BOS,
    eosId: EOS,
  });
  const T = b.dim("T", Math.min(opts.maxChunk, context));
  const tokens = b.input("tokens", "i32", [T]);
  const pos = b.input("pos", "i32", [1]);
  const [cosTable, sinTable] = ropeTables(context, headDim);
  const cos = b.constant("rope.cos", cosTable, [context, headDim / 2]);
  const sin = b.constant("rope.sin", sinTable, [context, headDim / 2]);
  const emb = b.constant("tok_embeddings.weight", w.tokEmbeddings, [vocabSize, dim]);

  let x = b.node("Gather", "tok_embeddings", [emb, tokens]);
  for (let l = 0; l < nLayers; l++) {
    const p = `layers.${l}`;
    const weight = (n: string, data: Float32Array, shape: number[]) => b.constant(`${p}.${n}.weight`, data, shape);
    const h = b.node("RMSNorm", `${p}.attention_norm`, [x, weight("attention_norm", w.attentionNorm[l], [dim])], { epsilon: 1e-5 });
    const q = b.node("Linear", `${p}.attention.wq`, [h, weight("attention.wq", w.wq[l], [dim, dim])]);
    const k = b.node("Linear", `${p}.attention.wk`, [h, weight("attention.wk", w.wk[l], [kvDim, dim])]);
    const v = b.node("Linear", `${p}.attention.wv`, [h, weight("attention.wv", w.wv[l], [kvDim, dim])]);
    const rope = { headDim, interleaved: 1 };
    const qr = b.node("RoPE", `${p}.attention.rope_q`, [q, pos, cos, sin], rope);
    const kr = b.node("RoPE", `${p}.attention.rope_k`, [k, pos, cos, sin], rope);
    const kCache = b.state(`${p}.attention.k_cache`, "f32", [context, kvDim]);
    const vCache = b.state(`${p}.attention.v_cache`, "f32", [context, kvDim]);
    const att = b.node("Attention", `${p}.attention`, [qr, kr, v, pos, kCache, vCache], { heads: nHeads, kvHeads: nKvHeads, headDim });
    const o = b.node("Linear", `${p}.attention.wo`, [att, weight("attention.wo", w.wo[l], [dim, dim])]);
    x = b.node("Add", `${p}.attention.residual`, [x, o]);

    const f = b.node("RMSNorm", `${p}.ffn_norm`, [x, weight("ffn_norm", w.ffnNorm[l], [dim])], { epsilon: 1e-5 });
    const gate = b.node("Linear", `${p}.feed_forward.w1`, [f, weight("feed_forward.w1", w.w1[l], [hiddenDim, dim])]);
    const up = b.node("Linear", `${p}.feed_forward.w3`, [f, weight("feed_forward.w3", w.w3[l], [hiddenDim, dim])]);
    const act = b.node("SwiGLU", `${p}.feed_forward.swiglu`, [gate, up]);
    const down = b.node("Linear", `${p}.feed_forward.w2`, [act, weight("feed_forward.w2", w.w2[l], [dim, hiddenDim])]);
    x = b.node("Add", `${p}.feed_forward.residual`, [x, down]);
  }
  const last = b.node("LastRow", "last_token", [x]);
  const normed = b.node("RMSNorm", "norm", [last, b.constant("norm.weight", w.norm, [dim])], { epsilon: 1e-5 });
  const head = config.sharedClassifier ? emb : b.constant("output.weight", w.output, [vocabSize, dim]);
  b.output(b.node("Linear", "logits", [normed, head]));
  return b.finish();
}

/** cos/sin of pos · 10000^(-2i/headDim), rounded to f32 step by step as llama2.c computes them. */
function ropeTables(context: number, headDim: number): [Float32Array, Float32Array] {
  const half = headDim / 2;
  const cos = new Float32Array(context * half),
    sin = new Float32Array(context * half);
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const freq = f(1 / f(Math.pow(10000, f((2 * i) / headDim))));
    for (let p = 0; p < context; p++) {
      const angle = f(p * freq);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return [cos, sin];
}
