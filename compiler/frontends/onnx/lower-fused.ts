/**
 * The fused ops of ONNX (Attention, RotaryEmbedding) and of ONNX Runtime's com.microsoft domain,
 * lowered to seec IR as the computations they are defined by (ONNX Runtime's docs/ContribOperators.md
 * for the com.microsoft ones): projections through Linear, heads as strided copies, the KV cache
 * as concatenation, masks as additive biases, softmax, and the norms' fused kernels.
 */
import type { Lowerer, Lowering } from "./lower-ops.js";
import { attr } from "./read.js";

const present = (name: string | undefined): name is string => !!name;

/** [B, S, N·H] → [B, N, S, H]. */
export function splitHeads(l: Lowerer, x: string, heads: number): string {
  const [B, S, D] = l.irShape(x);
  return l.transpose(l.reshape(x, [B, S, heads, D / heads]), [0, 2, 1, 3]);
}

/** [B, N, S, H] → [B, S, N·H]. */
export function mergeHeads(l: Lowerer, x: string): string {
  const [B, N, S, H] = l.irShape(x);
  return l.reshape(l.transpose(x, [0, 2, 1, 3]), [B, S, N * H]);
}

/** past ++ new along the sequence axis of [B, N, *, H] (an empty or absent past: new). */
function appendCache(l: Lowerer, past: string | undefined, next: string): string {
  return past && l.irShape(past)[2] > 0 ? l.concat([past, next], 2) : next;
}

export interface Attend {
  /** [B, Nq, S, H] */
  q: string;
  /** [B, Nkv, T, H] with the cache already appended. */
  k: string;
  v: string;
  scale: number;
  /** Additive biases broadcastable to [B, Nq, S, T]. */
  biases: string[];
  /** Keys after query i + (T − S) get this added (causal attention over a cache); undefined: none. */
  causal?: number;
}

/** softmax(q·kᵀ · scale + biases)·v as [B, Nq, S, H], on the fused attention kernel (grouped K/V heads read in place). */
export function attend(l: Lowerer, { q, k, v, scale, biases, causal }: Attend): string {
  let bias: string | undefined;
  for (const b of biases) bias = bias ? l.map("add", [bias, b]) : b;
  const attrs = { scale, bias: bias ? 1 : 0, keep: 0, fill: 0, causal: causal === undefined ? 0 : 1, causalFill: causal ?? 0 };
  return l.add("ScaledAttention", [q, k, v, ...(bias ? [bias] : [])], attrs);
}

/** A [B, T] key mask (non-zero keeps) as an additive bias [B, 1, 1, T] of 0 or `filter`. */
function keyMask(l: Lowerer, mask: string, filter: number): string {
  const [B, T] = l.irShape(mask);
  return l.reshape(l.map("where", [mask, l.scalar(0), l.scalar(filter)]), [B, 1, 1, T]);
}

/**
 * Rotary embedding of x [..., H] (the head axis last) by cos and sin rows broadcastable to
 * [..., rotary / 2]: pairs (d, d + half), or (2d, 2d + 1) when interleaved; features past
 * `rotary` pass through.
 */
export function rotate(l: Lowerer, x: string, cos: string, sin: string, rotary: number, interleaved: boolean): string {
  const X = l.irShape(x),
    last = X.length - 1,
    H = X[last],
    half = rotary / 2;
  const x1 = interleaved ? l.slice(x, last, 0, half, 2) : l.slice(x, last, 0, half);
  const x2 = interleaved ? l.slice(x, last, 1, half, 2) : l.slice(x, last, half, half);
  const o1 = l.map("sub", [l.map("mul", [x1, cos]), l.map("mul", [x2, sin])]);
  const o2 = l.map("add", [l.map("mul", [x2, cos]), l.map("mul", [x1, sin])]);
  const rest = rotary < H ? [l.slice(x, last, rotary, H - rotary)] : [];
  if (!interleaved) return l.concat([o1, o2, ...rest], last);
  const pairs = l.reshape(l.concat([l.reshape(o1, [...X.slice(0, -1), half, 1]), l.reshape(o2, [...X.slice(0, -1), half, 1])], last + 1), [
    ...X.slice(0, -1),
    rotary,
  ]);
  return rest.length ? l.concat([pairs, ...rest], last) : pairs;
}

/** cos/sin cache rows for position ids [B, S] (or one offset, 1-D [1]): [B, S, half]. */
export function cacheRows(l: Lowerer, cache: string, positions: string, B: number, S: number): string {
  let ids = positions;
  // By rank, not size: ids [1, 1] (one token) are gathered as ids of any length are.
  if (l.irShape(positions).length === 1) {
    const steps = l.constantData(
      Int32Array.from({ length: S }, (_, s) => s),
      [1, S],
    );
    ids = l.expand(l.map("add", [l.reshape(positions, [1, 1]), steps], "i32"), [B, S]);
  }
  return l.gatherRows(l.ir(cache), ids);
}

/** ONNX Attention (opset 23): Q, K, V 4-D [B, N, S, H] or 3-D with head counts; cache; causal or masked. */
const onnxAttention: Lowering = (l, n) => {
  const [q, k, v, mask, pastKey, pastValue] = n.inputs;
  if (n.outputs[3]) l.fail("the qk_matmul_output output is not supported");
  if (attr(n, "softcap", 0) !== 0) l.fail("Attention with softcap is not supported");
  const threeD = l.shape(q).length === 3;
  const heads = (x: string, key: string) => (threeD ? splitHeads(l, l.ir(x), attr(n, key, 1)) : l.ir(x));
  const keys = appendCache(l, pastKey ? l.ir(pastKey) : undefined, heads(k, "kv_num_heads"));
  const values = appendCache(l, pastValue ? l.ir(pastValue) : undefined, heads(v, "kv_num_heads"));
  const Q = heads(q, "q_num_heads");
  const H = l.irShape(Q)[3];
  const biases = present(mask)
    ? [l.onnxDtype(mask) === "bool" ? l.map("where", [l.ir(mask), l.scalar(0), l.scalar(-Infinity)]) : l.ir(mask)]
    : [];
  const y = attend(l, {
    q: Q,
    k: keys,
    v: values,
    scale: attr(n, "scale", 1 / Math.sqrt(H)),
    biases,
    causal: attr(n, "is_causal", 0) ? -Infinity : undefined,
  });
  return [threeD ? mergeHeads(l, y) : y, keys, values];
};

/** ONNX RotaryEmbedding (opset 23): X [B, N, S, H] (or [B, S, N·H] with num_heads), caches by position. */
const onnxRotary: Lowering = (l, n) => {
  const [x, cos, sin, positions] = n.inputs;
  const X = l.shape(x),
    threeD = X.length === 3;
  const N = threeD ? attr(n, "num_heads", 0) || l.fail("3-D RotaryEmbedding input needs num_heads") : 0;
  const x4 = threeD ? l.reshape(l.ir(x), [X[0], X[1], N, X[2] / N]) : l.ir(x);
  const [B, A1, A2, H] = l.irShape(x4);
  const S = threeD ? A1 : A2;
  const rotary = attr(n, "rotary_embedding_dim", 0) || H;
  const rows = (cache: string) => (present(positions) ? cacheRows(l, cache, l.ir(positions), B, S) : l.ir(cache));
  // Rows [B, S, half] line up with the sequence axis: [B, S, 1, half] in BSNH, [B, 1, S, half] in BNSH.
  const shape = threeD ? [B, S, 1, rotary / 2] : [B, 1, S, rotary / 2];
  const y = rotate(l, x4, l.reshape(rows(cos), shape), l.reshape(rows(sin), shape), rotary, attr(n, "interleaved", 0) === 1);
  return [threeD ? l.reshape(y, X) : y];
};

/** com.microsoft RotaryEmbedding: input [B, S, N·H] or [B, N, S, H], position ids [B, S] or an offset. */
const msRotary: Lowering = (l, n) => {
  const [x, positions, cos, sin] = n.inputs;
  const X = l.shape(x),
    threeD = X.length === 3;
  const rotaryAttr = attr(n, "rotary_embedding_dim", 0);
  const head = threeD ? (attr(n, "num_heads", 0) ? X[2] / attr(n, "num_heads", 0) : rotaryAttr || l.shape(cos)[1] * 2) : X[3];
  const B = X[0],
    S = threeD ? X[1] : X[2];
  const x4 = threeD ? l.reshape(l.ir(x), [B, S, X[2] / head, head]) : l.ir(x);
  const rotary = rotaryAttr || head;
  const shape = threeD ? [B, S, 1, rotary / 2] : [B, 1, S, rotary / 2];
  const [c, s] = [cos, sin].map((cache) => l.reshape(cacheRows(l, cache, l.ir(positions), B, S), shape));
  const y = rotate(l, x4, c, s, rotary, attr(n, "interleaved", 0) === 1);
  return [threeD ? l.reshape(y, X) : y];
};

/** com.microsoft Attention: packed QKV projection, past [2, B, N, P, H], raw or key mask, causal. */
const msAttention: Lowering = (l, n) => {
  const [x, weights, bias, maskIndex, past, attentionBias] = n.inputs;
  const heads = attr(n, "num_heads", 0) || l.fail("Attention needs num_heads");
  const [Din, Dqkv] = l.shape(weights);
  const sizes = Array.isArray(n.attrs.qkv_hidden_sizes) ? (n.attrs.qkv_hidden_sizes as number[]) : [Dqkv / 3, Dqkv / 3, Dqkv / 3];
  const w = l.value(weights).data;
  const wt = new Float32Array(Dqkv * Din);
  for (let i = 0; i < Din; i++) for (let j = 0; j < Dqkv; j++) wt[j * Din + i] = w[i * Dqkv + j];
  const b = present(bias) ? l.constantData(Float32Array.from(l.value(bias).data), [Dqkv]) : undefined;
  const qkv = l.linear(l.ir(x), l.constantData(wt, [Dqkv, Din]), b);
  const part = (from: number, width: number) => splitHeads(l, l.slice(qkv, 2, from, width), heads);
  const [q, k, v] = [part(0, sizes[0]), part(sizes[0], sizes[1]), part(sizes[0] + sizes[1], sizes[2])];
  let pastK: string | undefined, pastV: string | undefined;
  if (present(past) && l.shape(past)[3] > 0) {
    const P = l.shape(past);
    [pastK, pastV] = [0, 1].map((i) => l.reshape(l.slice(l.ir(past), 0, i, 1), P.slice(1)));
  }
  const keys = appendCache(l, pastK, k),
    values = appendCache(l, pastV, v);
  const filter = attr(n, "mask_filter_value", -10000);
  const biases: string[] = [];
  if (present(maskIndex)) {
    if (l.shape(maskIndex).length !== 2) l.fail("Attention masks other than a raw [batch, total length] mask are not supported");
    biases.push(keyMask(l, l.ir(maskIndex), filter));
  }
  if (present(attentionBias)) biases.push(l.ir(attentionBias));
  const H = l.irShape(q)[3];
  const y = attend(l, {
    q,
    k: keys,
    v: values,
    scale: attr(n, "scale", 1 / Math.sqrt(H)),
    biases,
    causal: attr(n, "unidirectional", 0) ? filter : undefined,
  });
  const K = l.irShape(keys);
  const cache = n.outputs[1] ? l.concat([l.reshape(keys, [1, ...K]), l.reshape(values, [1, ...K])], 0) : undefined;
  return [mergeHeads(l, y), cache];
};

/** com.microsoft MultiHeadAttention: separate Q, K, V, past [B, N, P, H], key padding mask, attention bias. */
const msMultiHeadAttention: Lowering = (l, n) => {
  const [query, key, value, bias, keyPadding, attentionBias, pastKey, pastValue] = n.inputs;
  if (present(bias)) l.fail("MultiHeadAttention with a packed bias input is not supported");
  const heads = attr(n, "num_heads", 0) || l.fail("MultiHeadAttention needs num_heads");
  const q = splitHeads(l, l.ir(query), heads);
  const kv = (t: string) => (l.shape(t).length === 4 ? l.ir(t) : splitHeads(l, l.ir(t), heads));
  const keys = appendCache(l, present(pastKey) ? l.ir(pastKey) : undefined, kv(key));
  const values = appendCache(l, present(pastValue) ? l.ir(pastValue) : undefined, kv(value));
  const filter = attr(n, "mask_filter_value", -10000);
  const biases: string[] = [];
  if (present(keyPadding)) biases.push(keyMask(l, l.ir(keyPadding), filter));
  if (present(attentionBias)) biases.push(l.ir(attentionBias));
  const H = l.irShape(q)[3];
  const y = attend(l, {
    q,
    k: keys,
    v: values,
    scale: attr(n, "scale", 1 / Math.sqrt(H)),
    biases,
    causal: attr(n, "unidirectional", 0) ? filter : undefined,
  });
  return [mergeHeads(l, y), keys, values];
};

/** com.microsoft EmbedLayerNormalization: word + position (+ segment) embeddings, layer-normalized. */
const embedLayerNorm: Lowering = (l, n) => {
  const [ids, segments, word, position, segment, gamma, beta, mask, positions] = n.inputs;
  const [B, S] = l.shape(ids);
  const posIds = present(positions)
    ? l.ir(positions)
    : l.constantData(
        Int32Array.from({ length: S }, (_, s) => s),
        [1, S],
      );
  let sum = l.map("add", [l.gatherRows(l.ir(word), l.ir(ids)), l.gatherRows(l.ir(position), posIds)]);
  if (present(segment) && present(segments)) sum = l.map("add", [sum, l.gatherRows(l.ir(segment), l.ir(segments))]);
  const maskIndex =
    n.outputs[1] && l.isUsed(n.outputs[1])
      ? present(mask)
        ? l.reshape(l.reduce("sum", l.map("copy", [l.ir(mask)], "f32"), [1]), [B])
        : l.constantData(new Int32Array(B), [B])
      : undefined;
  return [
    l.norm("LayerNorm", sum, gamma, beta, attr(n, "epsilon", 1e-12)),
    maskIndex && l.map(present(mask) ? "trunc" : "copy", [maskIndex], "i32"),
    sum,
  ];
};

/** com.microsoft Skip(Simplified)LayerNormalization: input + skip (+ bias), normalized; also the sum. */
const skipNorm =
  (rms: boolean): Lowering =>
  (l, n) => {
    const [x, skip, gamma] = n.inputs;
    const beta = rms ? undefined : n.inputs[3];
    const bias = rms ? n.inputs[3] : n.inputs[4];
    if ([n.outputs[1], n.outputs[2]].some((o) => o && l.isUsed(o)))
      l.fail("the mean and inverse standard deviation outputs are not supported");
    let sum = l.map("add", [l.ir(x), l.ir(skip)]);
    if (present(bias)) sum = l.map("add", [sum, l.ir(bias)]);
    return [
      l.norm(rms ? "RMSNorm" : "LayerNorm", sum, gamma, present(beta) ? beta : undefined, attr(n, "epsilon", 1e-12)),
      undefined,
      undefined,
      sum,
    ];
  };

/** com.microsoft FastGelu (tanh) and BiasGelu (erf): gelu(x + bias). */
const biasedGelu =
  (fn: "gelu" | "geluTanh"): Lowering =>
  (l, n) => {
    const [x, bias] = n.inputs;
    return [l.map(fn, [present(bias) ? l.map("add", [l.ir(x), l.ir(bias)]) : l.ir(x)])];
  };

/** com.microsoft QuickGelu: x · sigmoid(alpha · x) (alpha 1.702 by default, CLIP's activation). */
const quickGelu: Lowering = (l, n) => {
  const x = l.ir(n.inputs[0]);
  return [l.map("mul", [x, l.map("sigmoid", [l.map("mul", [x, l.scalar(attr(n, "alpha", 1.702))])])])];
};

/** com.microsoft BiasAdd: x + bias + skip. */
const biasAdd: Lowering = (l, n) => [l.map("add", [l.map("add", [l.ir(n.inputs[0]), l.ir(n.inputs[1])]), l.ir(n.inputs[2])])];

/** com.microsoft BiasSplitGelu: (x + bias) split in halves along the last axis, left · gelu(right). */
const biasSplitGelu: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  const y = l.map("add", [l.ir(n.inputs[0]), l.ir(n.inputs[1])]);
  const half = X.at(-1)! / 2;
  return [l.map("mul", [l.slice(y, X.length - 1, 0, half), l.map("gelu", [l.slice(y, X.length - 1, half, half)])])];
};

/** com.microsoft FusedMatMul: alpha · op(A) · op(B), op transposing the last two axes where transA / transB say. */
const fusedMatMul: Lowering = (l, n) => {
  if (attr(n, "transBatchA", 0) || attr(n, "transBatchB", 0)) l.fail("FusedMatMul with transBatchA or transBatchB is not supported");
  const swapLast = (name: string) => {
    const rank = l.shape(name).length;
    if (rank < 2) l.fail("FusedMatMul transposes an operand of rank 1");
    return l.transpose(l.ir(name), [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2]);
  };
  const [a, b] = n.inputs;
  const left = attr(n, "transA", 0) ? swapLast(a) : l.ir(a);
  const y = attr(n, "transB", 0) ? l.matmul(left, undefined, swapLast(b)) : l.matmul(left, b);
  const alpha = attr(n, "alpha", 1);
  return [alpha === 1 ? y : l.map("mul", [y, l.scalar(alpha)])];
};

export const FUSED_LOWERINGS: Readonly<Record<string, Lowering>> = {
  Attention: onnxAttention,
  RotaryEmbedding: onnxRotary,
  "com.microsoft:Attention": msAttention,
  "com.microsoft:MultiHeadAttention": msMultiHeadAttention,
  "com.microsoft:RotaryEmbedding": msRotary,
  "com.microsoft:EmbedLayerNormalization": embedLayerNorm,
  "com.microsoft:SkipLayerNormalization": skipNorm(false),
  "com.microsoft:SkipSimplifiedLayerNormalization": skipNorm(true),
  "com.microsoft:FastGelu": biasedGelu("geluTanh"),
  "com.microsoft:BiasGelu": biasedGelu("gelu"),
  "com.microsoft:Gelu": biasedGelu("gelu"),
  "com.microsoft:QuickGelu": quickGelu,
  "com.microsoft:BiasAdd": biasAdd,
  "com.microsoft:BiasSplitGelu": biasSplitGelu,
  "com.microsoft:FusedMatMul": fusedMatMul,
};
