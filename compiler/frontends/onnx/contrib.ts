/**
 * The com.microsoft ops that ONNX Runtime's transformer optimizer and model builder leave in
 * graphs, with the semantics of ONNX Runtime's CPU kernels (docs/ContribOperators.md).
 */
import { appendCache, attend, mergeHeads, rotate, splitHeads } from "./attention.js";
import { MAP_FUNCTIONS } from "../../ir/ops/tensor.js";
import { broadcastIndex, fail, matmul, need, normalize, scaled, type OpContext, type OpImpl } from "./ops.js";
import { attr } from "./read.js";
import { tensor, type OnnxTensor } from "./tensor.js";

const epsilon = (ctx: OpContext) => attr(ctx, "epsilon", 1e-12);
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** a + b (+ c), b and c broadcast over a's leading axes. */
function sum(a: OnnxTensor, ...rest: (OnnxTensor | undefined)[]): OnnxTensor {
  const out = tensor(a.dtype, a.shape, a.data);
  for (const t of rest) {
    if (!t) continue;
    const idx = broadcastIndex(t.shape, a.shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] += t.data[idx[i]];
  }
  return out;
}

/** (input + skip + bias), normalized; outputs [y, mean, inv_std, sum] as the op lists them. */
function skipNorm(rms: boolean): OpImpl {
  return (inputs, ctx) => {
    const [x, skip, gamma] = inputs;
    const beta = rms ? undefined : inputs[3];
    const bias = rms ? inputs[3] : inputs[4];
    const s = sum(need(x, ctx, "input"), need(skip, ctx, "skip"), bias);
    const { y, mean, inv } = normalize(s, s.shape.length - 1, epsilon(ctx), rms);
    const stats = [...s.shape.slice(0, -1), 1];
    return [scaled(s, y, gamma, beta), tensor("float32", stats, mean), tensor("float32", stats, inv), s];
  };
}

/** gelu(x + bias), with the IR's GELU (erf, or the tanh approximation). */
function biasedGelu(fn: "gelu" | "geluTanh"): OpImpl {
  const { f } = MAP_FUNCTIONS[fn];
  return ([x, bias], ctx) => {
    const s = sum(need(x, ctx, "X"), bias);
    s.data.forEach((v, i) => (s.data[i] = f(v)));
    return [s];
  };
}

/** word[ids] + position[pos] (+ segment[seg]), layer-normalized; also the mask index and the plain sum. */
const EmbedLayerNormalization: OpImpl = ([ids, segments, word, position, segment, gamma, beta, mask, positions], ctx) => {
  const I = need(ids, ctx, "input_ids"),
    W = need(word, ctx, "word_embedding"),
    P = need(position, ctx, "position_embedding");
  const [B, S] = I.shape,
    D = W.shape[1];
  const e = tensor(W.dtype, [B, S, D]);
  const row = (table: OnnxTensor, r: number, what: string) => {
    if (r < 0 || r >= table.shape[0]) fail(ctx, `${what} index ${r} is outside [0, ${table.shape[0]})`);
    return table.data.subarray(r * D, (r + 1) * D);
  };
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++) {
      const w = row(W, I.data[b * S + s], "word"),
        p = row(P, positions ? positions.data[positions.shape.length === 1 ? s : b * S + s] : s, "position");
      const g = segment && segments ? row(segment, segments.data[b * S + s], "segment") : undefined;
      for (let d = 0; d < D; d++) e.data[(b * S + s) * D + d] = w[d] + p[d] + (g ? g[d] : 0);
    }
  const { y } = normalize(e, 2, epsilon(ctx), false);
  const maskIndex = tensor("int32", [B]);
  if (mask) for (let b = 0; b < B; b++) for (let s = 0; s < mask.shape[1]; s++) maskIndex.data[b] += mask.data[b * mask.shape[1] + s];
  return [scaled(e, y, gamma, beta), maskIndex, e];
};

/** Key-padding or raw attention mask [B, T] (1 keeps), or [B, S, T]: the additive bias it means. */
function maskBias(mask: OnnxTensor | undefined, S: number, T: number, filter: number, ctx: OpContext) {
  if (!mask) return () => 0;
  if (mask.shape.length === 2) return (b: number, _h: number, _i: number, j: number) => (mask.data[b * T + j] ? 0 : filter);
  if (mask.shape.length === 3) return (b: number, _h: number, i: number, j: number) => (mask.data[(b * S + i) * T + j] ? 0 : filter);
  fail(ctx, `attention mask of shape [${mask.shape.join(", ")}] is not supported (2D or 3D raw masks are)`);
}

/**
 * The attention both com.microsoft ops compute once heads and cache are in place: scale (default
 * 1/√H), a raw or key-padding mask and causality (unidirectional) as mask_filter_value, and an
 * additive attention bias.
 */
function attendMasked(
  q: OnnxTensor,
  keys: OnnxTensor,
  vals: OnnxTensor,
  mask: OnnxTensor | undefined,
  attentionBias: OnnxTensor | undefined,
  ctx: OpContext,
): OnnxTensor {
  const [B, heads, S, H] = q.shape,
    T = keys.shape[2];
  const filter = attr(ctx, "mask_filter_value", -10000);
  const causal = attr(ctx, "unidirectional", 0) === 1;
  const fromMask = maskBias(mask, S, T, filter, ctx);
  const extra = attentionBias && broadcastIndex(attentionBias.shape, [B, heads, S, T]);
  return attend({
    q,
    k: keys,
    v: vals,
    dtype: q.dtype,
    scale: attr(ctx, "scale", 1 / Math.sqrt(H)),
    bias: (b, h, i, j) =>
      (causal && j > i + T - S ? filter : 0) +
      fromMask(b, h, i, j) +
      (extra ? attentionBias!.data[extra[((b * heads + h) * S + i) * T + j]] : 0),
  });
}

/** Packed QKV projection, heads, past [2, B, N, P, H] → output [B, S, N·H] and present. */
const Attention: OpImpl = ([x, weights, bias, maskIndex, past, attentionBias], ctx) => {
  const X = need(x, ctx, "input"),
    Wt = need(weights, ctx, "weights");
  const heads = attr(ctx, "num_heads", 0) || fail(ctx, "Attention needs num_heads");
  const sizes = Array.isArray(ctx.attrs.qkv_hidden_sizes) ? (ctx.attrs.qkv_hidden_sizes as number[]) : [1, 1, 1].map(() => Wt.shape[1] / 3);
  if (sizes[0] !== sizes[2]) fail(ctx, "Attention with different Q and V hidden sizes is not supported");
  const qkv = sum(matmul(X, Wt, ctx), bias);
  const [B, S] = X.shape;
  const part = (from: number, width: number) => {
    const t = tensor(X.dtype, [B, S, width]);
    for (let r = 0; r < B * S; r++) t.data.set(qkv.data.subarray(r * qkv.shape[2] + from, r * qkv.shape[2] + from + width), r * width);
    return splitHeads(t, heads);
  };
  const [q, k, v] = [part(0, sizes[0]), part(sizes[0], sizes[1]), part(sizes[0] + sizes[1], sizes[2])];
  const [pk, pv] =
    past && past.shape[3] > 0
      ? [0, 1].map((i) => ({
          ...past,
          shape: past.shape.slice(1),
          data: past.data.subarray(i * size(past.shape.slice(1)), (i + 1) * size(past.shape.slice(1))),
        }))
      : [undefined, undefined];
  const keys = appendCache(pk, k),
    vals = appendCache(pv, v);
  const y = attendMasked(q, keys, vals, maskIndex, attentionBias, ctx);
  const present = tensor(X.dtype, [2, ...keys.shape]);
  present.data.set(keys.data, 0);
  present.data.set(vals.data, keys.data.length);
  return [mergeHeads(y), present];
};

/** Separate Q, K, V [B, S|L, N·H], past [B, N, P, H], additive attention bias. */
const MultiHeadAttention: OpImpl = ([query, key, value, bias, keyPadding, attentionBias, pastKey, pastValue], ctx) => {
  const Q = need(query, ctx, "query");
  const heads = attr(ctx, "num_heads", 0) || fail(ctx, "MultiHeadAttention needs num_heads");
  if (bias) fail(ctx, "MultiHeadAttention with a packed bias input is not supported");
  const q = splitHeads(Q, heads);
  const k4 = (t: OnnxTensor | undefined, what: string) => {
    const x = need(t, ctx, what);
    return x.shape.length === 4 ? x : splitHeads(x, heads);
  };
  const keys = appendCache(pastKey, k4(key, "key")),
    vals = appendCache(pastValue, k4(value, "value"));
  const y = attendMasked(q, keys, vals, keyPadding, attentionBias, ctx);
  return [mergeHeads(y), keys, vals];
};

/** Rotary embedding of [B, S, N·H] or [B, N, S, H] by position ids [B, S] (or one offset [1]). */
const RotaryEmbedding: OpImpl = ([x, positions, cos, sin], ctx) => {
  const X = need(x, ctx, "input"),
    C = need(cos, ctx, "cos_cache"),
    Sn = need(sin, ctx, "sin_cache"),
    P = need(positions, ctx, "position_ids");
  const threeD = X.shape.length === 3;
  const rotaryAttr = attr(ctx, "rotary_embedding_dim", 0);
  const headSize = threeD
    ? attr(ctx, "num_heads", 0)
      ? X.shape[2] / attr(ctx, "num_heads", 0)
      : rotaryAttr || C.shape[1] * 2
    : X.shape[3];
  const x4 = threeD ? splitHeads(X, X.shape[2] / headSize) : X;
  const S = x4.shape[2];
  const position = P.data.length === 1 ? (_b: number, s: number) => P.data[0] + s : (b: number, s: number) => P.data[b * S + s];
  const y = rotate(x4, C, Sn, position, rotaryAttr || headSize, attr(ctx, "interleaved", 0) === 1);
  return [threeD ? mergeHeads(y) : y];
};

export const CONTRIB_OPS: Readonly<Record<string, OpImpl>> = {
  Attention,
  BiasGelu: biasedGelu("gelu"),
  EmbedLayerNormalization,
  FastGelu: biasedGelu("geluTanh"),
  MultiHeadAttention,
  RotaryEmbedding,
  SkipLayerNormalization: skipNorm(false),
  SkipSimplifiedLayerNormalization: skipNorm(true),
};
