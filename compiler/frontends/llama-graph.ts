/**
 * The Llama decoder as an IR graph, from a config and f32 weights in PyTorch's [out, in] layout
 * with Q and K rows in Meta's order (RoPE rotates adjacent pairs). Every Llama-family frontend
 * (llama2.c checkpoints, GGUF files) reads its file into these two structures and calls llamaGraph,
 * so the graph, and so the artifact, depends only on the numbers and never on the file format.
 */
import { GraphBuilder } from "../ir/builder.js";
import type { DeferredData, Graph } from "../ir/graph.js";

export interface LlamaConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

/** Each tensor's f32 values: in memory, or (llamaGraph's input from a large file) where to read them. */
export interface LlamaWeights<T extends { length: number } = Float32Array> {
  tokEmbeddings: T; // [vocab, dim]
  attentionNorm: T[]; // per layer [dim]
  wq: T[]; // [dim, dim]
  wk: T[]; // [kvDim, dim]
  wv: T[]; // [kvDim, dim]
  wo: T[]; // [dim, dim]
  ffnNorm: T[]; // [dim]
  w1: T[]; // [hidden, dim]
  w2: T[]; // [dim, hidden]
  w3: T[]; // [hidden, dim]
  norm: T; // [dim]
  output: T; // [vocab, dim]; the embedding itself when shared
}

/** Sizes a build can take, checked before any weight is read; `bad` throws the frontend's own error. */
export function checkLlamaConfig(c: LlamaConfig, bad: (msg: string) => never): void {
  const limits: [keyof LlamaConfig, number][] = [
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

export interface LlamaGraphOptions {
  /** The most tokens one call may process (prompt chunks); the memory plan is sized for it. */
  maxChunk: number;
  /** Context length; defaults to the model's seq_len. */
  context?: number;
  /** RMSNorm epsilon; llama2.c's 1e-5 by default. */
  rmsEpsilon?: number;
  /** RoPE base frequency; 10000 by default, as llama2.c. */
  ropeTheta?: number;
  /** Token ids the runtime starts and stops on; llama2.c's 1 and 2 by default. */
  bosId?: number;
  eosId?: number;
}

/** The Llama forward pass for T tokens at positions pos..pos+T-1, as llama2.c's forward() computes it. */
export function llamaGraph(
  name: string,
  config: LlamaConfig,
  w: LlamaWeights<Float32Array | DeferredData>,
  opts: LlamaGraphOptions,
): Graph {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
  const context = Math.min(opts.context ?? config.seqLen, config.seqLen);
  const headDim = dim / nHeads;
  const kvDim = headDim * nKvHeads;
  const epsilon = opts.rmsEpsilon ?? 1e-5;
  const b = new GraphBuilder(name, {
    family: "decoder",
    config: { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, contextLength: context, maxChunk: Math.min(opts.maxChunk, context) },
    bosId: opts.bosId ?? 1,
    eosId: opts.eosId ?? 2,
  });
  const T = b.dim("T", Math.min(opts.maxChunk, context));
  const tokens = b.input("tokens", "i32", [T]);
  const pos = b.input("pos", "i32", [1]);
  const [cosTable, sinTable] = ropeTables(context, headDim, opts.ropeTheta ?? 10000);
  const cos = b.constant("rope.cos", cosTable, [context, headDim / 2]);
  const sin = b.constant("rope.sin", sinTable, [context, headDim / 2]);
  const emb = b.constant("tok_embeddings.weight", w.tokEmbeddings, [vocabSize, dim]);

  let x = b.node("Gather", "tok_embeddings", [emb, tokens]);
  for (let l = 0; l < nLayers; l++) {
    const p = `layers.${l}`;
    const weight = (n: string, data: Float32Array | DeferredData, shape: number[]) => b.constant(`${p}.${n}.weight`, data, shape);
    const h = b.node("RMSNorm", `${p}.attention_norm`, [x, weight("attention_norm", w.attentionNorm[l], [dim])], { epsilon });
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

    const f = b.node("RMSNorm", `${p}.ffn_norm`, [x, weight("ffn_norm", w.ffnNorm[l], [dim])], { epsilon });
    const gate = b.node("Linear", `${p}.feed_forward.w1`, [f, weight("feed_forward.w1", w.w1[l], [hiddenDim, dim])]);
    const up = b.node("Linear", `${p}.feed_forward.w3`, [f, weight("feed_forward.w3", w.w3[l], [hiddenDim, dim])]);
    const act = b.node("SwiGLU", `${p}.feed_forward.swiglu`, [gate, up]);
    const down = b.node("Linear", `${p}.feed_forward.w2`, [act, weight("feed_forward.w2", w.w2[l], [dim, hiddenDim])]);
    x = b.node("Add", `${p}.feed_forward.residual`, [x, down]);
  }
  const last = b.node("LastRow", "last_token", [x]);
  const normed = b.node("RMSNorm", "norm", [last, b.constant("norm.weight", w.norm, [dim])], { epsilon });
  const head = config.sharedClassifier ? emb : b.constant("output.weight", w.output, [vocabSize, dim]);
  b.output(b.node("Linear", "logits", [normed, head]));
  return b.finish();
}

/** cos/sin of pos · theta^(-2i/headDim), rounded to f32 step by step as llama2.c computes them. */
function ropeTables(context: number, headDim: number, theta: number): [Float32Array, Float32Array] {
  const half = headDim / 2;
  const cos = new Float32Array(context * half),
    sin = new Float32Array(context * half);
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const freq = f(1 / f(Math.pow(theta, f((2 * i) / headDim))));
    for (let p = 0; p < context; p++) {
      const angle = f(p * freq);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return [cos, sin];
}
