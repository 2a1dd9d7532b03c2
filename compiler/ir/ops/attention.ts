/**
 * Attention: causal multi-head attention over a KV cache, with grouped-query heads.
 *
 * Inputs: q [T, heads·headDim], k and v [T, kvHeads·headDim], pos i32 [1], and the cache
 * tensors kCache, vCache [context, kvHeads·headDim] (state). Token t sits at position pos + t:
 * its k and v are written into the caches at that row, and it attends to rows 0..pos+t.
 * Query head h reads kv head floor(h / (heads / kvHeads)).
 */
import type { Attrs } from "../graph.js";
import type { OpDef } from "./op.js";
import { dOut, expectRank, f32, fail, i32, num, optionalNum } from "./op.js";
import { perText } from "./per-text.js";

export const Attention: OpDef = {
  writes: [4, 5],
  infer([q, k, v, pos, kCache, vCache], attrs, node) {
    const heads = num(attrs, "heads"),
      kvHeads = num(attrs, "kvHeads"),
      headDim = num(attrs, "headDim");
    for (const [n, t] of [
      ["q", q],
      ["k", k],
      ["v", v],
      ["kCache", kCache],
      ["vCache", vCache],
    ] as const)
      expectRank(node, n, t.shape, 2);
    if (heads % kvHeads !== 0) fail(node, `heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
    if (q.shape[1] !== heads * headDim) fail(node, `q must have ${heads * headDim} features`);
    for (const t of [k, v, kCache, vCache])
      if (t.shape[1] !== kvHeads * headDim) fail(node, `k, v and caches must have ${kvHeads * headDim} features`);
    if (pos.dtype !== "i32") fail(node, "pos must be i32");
    return [{ dtype: "f32", shape: q.shape }];
  },
  run([q, k, v, pos, kCache, vCache], attrs) {
    const heads = num(attrs, "heads"),
      kvHeads = num(attrs, "kvHeads"),
      hd = num(attrs, "headDim");
    const T = q.shape[0],
      kvDim = kvHeads * hd,
      group = heads / kvHeads;
    const p0 = i32(pos)[0];
    const qs = f32(q),
      kc = f32(kCache),
      vc = f32(vCache);
    kc.set(f32(k), p0 * kvDim);
    vc.set(f32(v), p0 * kvDim);
    const out = new Float32Array(T * heads * hd);
    const scale = 1 / Math.sqrt(hd);
    for (let t = 0; t < T; t++) {
      const n = p0 + t + 1;
      for (let h = 0; h < heads; h++) {
        const kvOff = Math.floor(h / group) * hd;
        const scores = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qs[t * heads * hd + h * hd + i] * kc[j * kvDim + kvOff + i];
          scores[j] = s * scale;
        }
        const max = Math.max(...scores);
        let sum = 0;
        for (let j = 0; j < n; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += scores[j] * vc[j * kvDim + kvOff + i];
          out[t * heads * hd + h * hd + i] = acc / sum;
        }
      }
    }
    return [{ shape: [T, heads * hd], data: out }];
  },
  /**
   * Gradients into this call's q, k and v; rows of the cache written by earlier calls are held
   * constant. Reads the caches as the forward pass left them, so it runs before the next call.
   */
  vjp(step) {
    const [q, , , pos, kCache, vCache] = step.inputs;
    const heads = num(step.attrs, "heads"),
      kvHeads = num(step.attrs, "kvHeads"),
      hd = num(step.attrs, "headDim");
    const T = q.shape[0],
      kvDim = kvHeads * hd,
      group = heads / kvHeads,
      D = heads * hd;
    const p0 = i32(pos)[0],
      scale = 1 / Math.sqrt(hd);
    const qs = f32(q),
      kc = f32(kCache),
      vc = f32(vCache),
      dy = dOut(step);
    const dq = new Float32Array(T * D),
      dk = new Float32Array(T * kvDim),
      dv = new Float32Array(T * kvDim);
    const p = new Float64Array(p0 + T),
      dp = new Float64Array(p0 + T);
    for (let t = 0; t < T; t++) {
      const n = p0 + t + 1;
      for (let h = 0; h < heads; h++) {
        const kvOff = Math.floor(h / group) * hd,
          qo = t * D + h * hd;
        attentionRowVjp(qs, qo, kc, vc, kvDim, kvOff, n, hd, scale, dy, p, dp, dq, (j, ds, pj) => {
          if (j < p0) return;
          const r = (j - p0) * kvDim + kvOff;
          for (let i = 0; i < hd; i++) {
            dk[r + i] += scale * ds * qs[qo + i];
            dv[r + i] += pj * dy[qo + i];
          }
        });
      }
    }
    return [dq, dk, dv, undefined, undefined, undefined];
  },
};

/**
 * One query row's softmax attention, backwards: recomputes its probabilities p over n keys (rows
 * of k and v `stride` apart from `off`), adds scale·Σ ds_j·k_j into dq at `qo`, and hands each key
 * its ds_j = p_j·(dp_j − Σ p·dp) and p_j for the caller to route into dk and dv.
 */
function attentionRowVjp(
  qs: Float32Array,
  qo: number,
  ks: Float32Array,
  vs: Float32Array,
  stride: number,
  off: number,
  n: number,
  hd: number,
  scale: number,
  dy: Float32Array,
  p: Float64Array,
  dp: Float64Array,
  dq: Float32Array,
  key: (j: number, ds: number, pj: number) => void,
): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < hd; i++) s += qs[qo + i] * ks[j * stride + off + i];
    p[j] = s * scale;
    if (p[j] > max) max = p[j];
  }
  let sum = 0;
  for (let j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
  let pdp = 0;
  for (let j = 0; j < n; j++) {
    p[j] /= sum;
    let d = 0;
    for (let i = 0; i < hd; i++) d += dy[qo + i] * vs[j * stride + off + i];
    dp[j] = d;
    pdp += p[j] * d;
  }
  for (let j = 0; j < n; j++) {
    const ds = p[j] * (dp[j] - pdp);
    for (let i = 0; i < hd; i++) dq[qo + i] += scale * ds * ks[j * stride + off + i];
    key(j, ds, p[j]);
  }
}

/** An attention call's shape, for AttentionKernels. */
export interface AttentionShape {
  /** The call's queries. */
  T: number;
  /** Causal: query t attends to keys 0..first + t (first: the cache's earlier rows). Else to all T keys. */
  causal: boolean;
  first: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
}

/**
 * Attention's two passes, as a backend provides them for training (targets/wasm/train-kernels.ts):
 * q and dy [T, heads·headDim]; keys and values [rows, kvHeads·headDim], query head h reading kv head
 * h / (heads / kvHeads).
 */
export interface AttentionKernels {
  /** softmax(scale · q·kᵀ)·v per query row and head. */
  attention(q: Float32Array, keys: Float32Array, values: Float32Array, shape: AttentionShape): Float32Array;
  /** [dq, dk, dv]: dk and dv have a row for every key row. */
  attentionBackward(
    q: Float32Array,
    dy: Float32Array,
    keys: Float32Array,
    values: Float32Array,
    shape: AttentionShape,
  ): [Float32Array, Float32Array, Float32Array];
}

/**
 * Attention and SelfAttention on the given kernels, with the registry's shape rules and semantics
 * (training on the interpreter: seec distill's fast path).
 */
export function attentionOnKernels(kernels: AttentionKernels): { Attention: OpDef; SelfAttention: OpDef } {
  const causal = (attrs: Attrs, q: { shape: number[] }, pos: number): AttentionShape => ({
    T: q.shape[0],
    causal: true,
    first: pos,
    heads: num(attrs, "heads"),
    kvHeads: num(attrs, "kvHeads"),
    headDim: num(attrs, "headDim"),
    scale: 1 / Math.sqrt(num(attrs, "headDim")),
  });
  const self = (attrs: Attrs, q: { shape: number[] }): AttentionShape => ({
    T: q.shape[0],
    causal: false,
    first: 0,
    heads: num(attrs, "heads"),
    kvHeads: num(attrs, "heads"),
    headDim: num(attrs, "headDim"),
    scale: num(attrs, "scale"),
  });
  /** The cache rows a call reads: every row up to its last token's. */
  const rows = (cache: Float32Array, s: AttentionShape) => cache.subarray(0, (s.first + s.T) * s.kvHeads * s.headDim);
  return {
    Attention: {
      ...Attention,
      run([q, k, v, pos, kCache, vCache], attrs) {
        const s = causal(attrs, q, i32(pos)[0]);
        const kc = f32(kCache),
          vc = f32(vCache),
          kvDim = s.kvHeads * s.headDim;
        kc.set(f32(k), s.first * kvDim);
        vc.set(f32(v), s.first * kvDim);
        return [{ shape: q.shape, data: kernels.attention(f32(q), rows(kc, s), rows(vc, s), s) }];
      },
      vjp(step) {
        const [q, , , pos, kCache, vCache] = step.inputs;
        const s = causal(step.attrs, q, i32(pos)[0]),
          kvDim = s.kvHeads * s.headDim;
        const [dq, dk, dv] = kernels.attentionBackward(f32(q), dOut(step), rows(f32(kCache), s), rows(f32(vCache), s), s);
        // Rows of the cache written by earlier calls are held constant.
        return [dq, dk.subarray(s.first * kvDim), dv.subarray(s.first * kvDim), undefined, undefined, undefined];
      },
    },
    SelfAttention: {
      ...SelfAttention,
      run([q, k, v], attrs) {
        return [{ shape: q.shape, data: kernels.attention(f32(q), f32(k), f32(v), self(attrs, q)) }];
      },
      vjp(step) {
        const [q, k, v] = step.inputs;
        return kernels.attentionBackward(f32(q), dOut(step), f32(k), f32(v), self(step.attrs, q));
      },
    },
  };
}

/**
 * SelfAttention: bidirectional multi-head attention over the T tokens of one call (an encoder),
 * softmax(scale · q·kᵀ)·v per head; heads are consecutive column blocks of headDim.
 */
const selfAttention: OpDef = {
  infer([q, k, v], attrs, node) {
    const width = num(attrs, "heads") * num(attrs, "headDim");
    for (const [n, t] of [
      ["q", q],
      ["k", k],
      ["v", v],
    ] as const) {
      expectRank(node, n, t.shape, 2);
      if (t.shape[1] !== width) fail(node, `${n} must have ${width} features`);
    }
    return [{ dtype: "f32", shape: q.shape }];
  },
  run([q, k, v], attrs) {
    const heads = num(attrs, "heads"),
      hd = num(attrs, "headDim"),
      scale = num(attrs, "scale");
    const T = q.shape[0],
      D = heads * hd;
    const qs = f32(q),
      ks = f32(k),
      vs = f32(v);
    const out = new Float32Array(T * D);
    const e = new Float64Array(T),
      acc = new Float64Array(hd);
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < T; t++) {
        const qo = t * D + h * hd;
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qs[qo + i] * ks[j * D + h * hd + i];
          e[j] = s * scale;
          if (e[j] > max) max = e[j];
        }
        let sum = 0;
        acc.fill(0);
        for (let j = 0; j < T; j++) {
          sum += e[j] = Math.exp(e[j] - max);
          for (let i = 0; i < hd; i++) acc[i] += e[j] * vs[j * D + h * hd + i];
        }
        for (let i = 0; i < hd; i++) out[qo + i] = acc[i] / sum;
      }
    return [{ shape: [T, D], data: out }];
  },
  vjp(step) {
    const [q, k, v] = step.inputs;
    const heads = num(step.attrs, "heads"),
      hd = num(step.attrs, "headDim"),
      scale = num(step.attrs, "scale");
    const T = q.shape[0],
      D = heads * hd;
    const qs = f32(q),
      ks = f32(k),
      vs = f32(v),
      dy = dOut(step);
    const dq = new Float32Array(T * D),
      dk = new Float32Array(T * D),
      dv = new Float32Array(T * D);
    const p = new Float64Array(T),
      dp = new Float64Array(T);
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < T; t++) {
        const qo = t * D + h * hd;
        attentionRowVjp(qs, qo, ks, vs, D, h * hd, T, hd, scale, dy, p, dp, dq, (j, ds, pj) => {
          const r = j * D + h * hd;
          for (let i = 0; i < hd; i++) {
            dk[r + i] += scale * ds * qs[qo + i];
            dv[r + i] += pj * dy[qo + i];
          }
        });
      }
    return [dq, dk, dv];
  },
};

/** With the texts' lengths (per-text.ts), each text's tokens attend to its own alone (block-diagonal). */
export const SelfAttention = perText(selfAttention, 3, [0, 1, 2]);

/** ScaledAttention's attributes (the flags are 0 or 1 in the graph; fill and causalFill default to 0). */
export interface ScaledAttentionAttrs {
  scale: number;
  /** Whether an additive bias input follows v. */
  bias: boolean;
  /** Whether a keep-mask input follows (the bias, if any). */
  keep: boolean;
  fill: number;
  causal: boolean;
  causalFill: number;
}

export function scaledAttentionAttrs(attrs: Attrs): ScaledAttentionAttrs {
  return {
    scale: num(attrs, "scale"),
    bias: !!attrs.bias,
    keep: !!attrs.keep,
    fill: optionalNum(attrs, "fill", 0),
    causal: !!attrs.causal,
    causalFill: optionalNum(attrs, "causalFill", 0),
  };
}

/**
 * ScaledAttention: softmax(scores)·v per batch and query head, for graphs with static shapes
 * (attention written out by an imported graph, fused back). q [B, Nq, S, H]; k, v [B, Nkv, T, H]
 * with Nq a multiple of Nkv (query head h reads kv head floor(h / (Nq / Nkv))); rank-3 operands
 * [Nq, S, H] are one batch.
 * scores[b, h, i, j] = q·k · scale, then + bias (if attrs.bias: an input broadcast to [B, Nq, S, T]),
 * then = fill where keep is 0 (if attrs.keep: an i32 input broadcast likewise), then + causalFill
 * where j > i + T − S (if attrs.causal). Inputs: q, k, v[, bias][, keep].
 */
export const ScaledAttention: OpDef = {
  infer(inputs, attrs, node) {
    const [q, k, v] = inputs;
    if (q.shape.length !== k.shape.length || (q.shape.length !== 3 && q.shape.length !== 4))
      fail(node, "q, k and v must all be rank 3 or all rank 4");
    for (const [n, t] of [
      ["k", k],
      ["v", v],
    ] as const)
      expectRank(node, n, t.shape, q.shape.length);
    const [B, Nq, , H] = heads4(q.shape),
      [B2, Nkv, T, H2] = heads4(k.shape);
    if (B !== B2 || H !== H2 || v.shape.some((d, i) => d !== k.shape[i]))
      fail(node, "q, k and v must agree on batch and head size, and k and v on everything");
    if (typeof Nq !== "number" || typeof Nkv !== "number" || Nq % Nkv !== 0)
      fail(node, `query heads (${Nq}) must be a multiple of kv heads (${Nkv})`);
    if (typeof T !== "number") fail(node, "the key length must be static");
    const { bias, keep } = scaledAttentionAttrs(attrs);
    const extra = (bias ? 1 : 0) + (keep ? 1 : 0);
    if (inputs.length !== 3 + extra) fail(node, `expected ${3 + extra} inputs`);
    return [{ dtype: "f32", shape: q.shape }];
  },
  run(inputs, attrs) {
    const [q, k, v] = inputs;
    const { scale, fill, causal, causalFill, ...a } = scaledAttentionAttrs(attrs);
    const bias = a.bias ? inputs[3] : undefined,
      keep = a.keep ? inputs[3 + (a.bias ? 1 : 0)] : undefined;
    const [B, Nq, S, H] = heads4(q.shape) as number[],
      [, Nkv, T] = heads4(k.shape) as number[];
    const at = (t: { shape: number[] }, b: number, h: number, i: number, j: number) => {
      const s = [B, Nq, S, T].map((_, d) => {
        const r = t.shape.length - 4 + d;
        return r < 0 || t.shape[r] === 1 ? 0 : t.shape.slice(r + 1).reduce((a, x) => a * x, 1);
      });
      return b * s[0] + h * s[1] + i * s[2] + j * s[3];
    };
    const out = new Float32Array(B * Nq * S * H);
    const qs = f32(q),
      ks = f32(k),
      vs = f32(v);
    const scores = new Float64Array(T);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Nq; h++) {
        const kv = (b * Nkv + Math.floor(h / (Nq / Nkv))) * T * H;
        for (let i = 0; i < S; i++) {
          const qo = ((b * Nq + h) * S + i) * H;
          for (let j = 0; j < T; j++) {
            let dot = 0;
            for (let d = 0; d < H; d++) dot += qs[qo + d] * ks[kv + j * H + d];
            let s = Math.fround(dot * scale);
            if (bias) s += bias.data[at(bias, b, h, i, j)];
            if (keep && keep.data[at(keep, b, h, i, j)] === 0) s = fill;
            if (causal && j > i + T - S) s += causalFill;
            scores[j] = s;
          }
          const max = Math.max(...scores);
          let sum = 0;
          for (let j = 0; j < T; j++) sum += scores[j] = max === -Infinity ? 0 : Math.exp(scores[j] - max);
          for (let d = 0; d < H; d++) {
            let acc = 0;
            for (let j = 0; j < T; j++) acc += scores[j] * vs[kv + j * H + d];
            out[qo + d] = acc / sum;
          }
        }
      }
    return [{ shape: q.shape, data: out }];
  },
};

/** [B, N, S, H], or a rank-3 [N, S, H] as one batch. */
export function heads4<D>(shape: readonly D[]): D[] {
  return shape.length === 3 ? [1 as D, ...shape] : [...shape];
}
