/**
 * The two computations every attention-shaped op shares (ONNX Attention and RotaryEmbedding,
 * com.microsoft Attention, MultiHeadAttention and RotaryEmbedding): scaled dot-product attention
 * over heads with a KV cache, and rotary position embedding. Reference semantics, plain loops.
 */
import { tensor, type OnnxDType, type OnnxTensor } from "./tensor.js";

export interface AttendInput {
  /** [B, Nq, S, H] */
  q: OnnxTensor;
  /** [B, Nkv, T, H] (T = past + new); Nq is a multiple of Nkv (grouped-query attention). */
  k: OnnxTensor;
  v: OnnxTensor;
  scale: number;
  /** Added to the score of query i (of S) and key j (of T) in batch b, head h; -Infinity masks it. */
  bias?: (b: number, h: number, i: number, j: number) => number;
  dtype: OnnxDType;
}

/** softmax(q·kᵀ × scale + bias)·v, as [B, Nq, S, H]. */
export function attend({ q, k, v, scale, bias, dtype }: AttendInput): OnnxTensor {
  const [B, Nq, S, H] = q.shape;
  const [, Nkv, T] = k.shape;
  const group = Nq / Nkv;
  const out = tensor(dtype, [B, Nq, S, H]);
  const scores = new Float64Array(T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Nq; h++) {
      const kv = (b * Nkv + Math.floor(h / group)) * T * H;
      for (let i = 0; i < S; i++) {
        const qo = ((b * Nq + h) * S + i) * H;
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let d = 0; d < H; d++) dot += q.data[qo + d] * k.data[kv + j * H + d];
          scores[j] = Math.fround(dot * scale) + (bias ? bias(b, h, i, j) : 0);
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += scores[j] = max === -Infinity ? 0 : Math.exp(scores[j] - max);
        for (let d = 0; d < H; d++) {
          let acc = 0;
          for (let j = 0; j < T; j++) acc += scores[j] * v.data[kv + j * H + d];
          out.data[qo + d] = sum > 0 ? acc / sum : 0;
        }
      }
    }
  return out;
}

/** [B, S, N·H] → [B, N, S, H]. */
export function splitHeads(x: OnnxTensor, heads: number): OnnxTensor {
  const [B, S, D] = x.shape;
  const H = D / heads;
  const out = tensor(x.dtype, [B, heads, S, H]);
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++)
      for (let n = 0; n < heads; n++)
        for (let d = 0; d < H; d++) out.data[((b * heads + n) * S + s) * H + d] = x.data[(b * S + s) * D + n * H + d];
  return out;
}

/** [B, N, S, H] → [B, S, N·H]. */
export function mergeHeads(x: OnnxTensor): OnnxTensor {
  const [B, N, S, H] = x.shape;
  const out = tensor(x.dtype, [B, S, N * H]);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++)
      for (let s = 0; s < S; s++)
        for (let d = 0; d < H; d++) out.data[(b * S + s) * N * H + n * H + d] = x.data[((b * N + n) * S + s) * H + d];
  return out;
}

/** past ++ new along the sequence axis of [B, N, *, H] tensors (no past: new as is). */
export function appendCache(past: OnnxTensor | undefined, next: OnnxTensor): OnnxTensor {
  if (!past || past.shape[2] === 0) return next;
  const [B, N, P, H] = past.shape;
  const S = next.shape[2];
  const out = tensor(next.dtype, [B, N, P + S, H]);
  for (let bn = 0; bn < B * N; bn++) {
    out.data.set(past.data.subarray(bn * P * H, (bn + 1) * P * H), bn * (P + S) * H);
    out.data.set(next.data.subarray(bn * S * H, (bn + 1) * S * H), bn * (P + S) * H + P * H);
  }
  return out;
}

/**
 * Rotary embedding of x [B, N, S, H] in place of its first `rotary` features per head: pairs
 * (d, d + rotary/2), or (2d, 2d + 1) when interleaved, turned by the angle whose cos and sin the
 * caches hold at `position(b, s)`.
 */
export function rotate(
  x: OnnxTensor,
  cos: OnnxTensor,
  sin: OnnxTensor,
  position: (b: number, s: number) => number,
  rotary: number,
  interleaved: boolean,
): OnnxTensor {
  const [B, N, S, H] = x.shape;
  const half = rotary / 2;
  const width = cos.shape[cos.shape.length - 1];
  const out = tensor(x.dtype, x.shape, x.data);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++)
      for (let s = 0; s < S; s++) {
        const o = ((b * N + n) * S + s) * H;
        const p = position(b, s) * width;
        for (let d = 0; d < half; d++) {
          const [i, j] = interleaved ? [2 * d, 2 * d + 1] : [d, d + half];
          const c = cos.data[p + d],
            sn = sin.data[p + d];
          const a = x.data[o + i],
            e = x.data[o + j];
          out.data[o + i] = a * c - e * sn;
          out.data[o + j] = e * c + a * sn;
        }
      }
  return out;
}
