import { softmaxAdd, softmaxEnd, softmaxStart } from "./online-softmax";
import { attendRow } from "./attend-row";
import { at, dot } from "./simd";

/**
 * Causal attention over the KV cache with grouped-query heads.
 * Writes k and v (T rows of kvHeads·headDim) into the caches at row pos, then for each token
 * and head runs an online softmax over cache rows 0..pos+t, accumulating into out.
 */
export function attention(
  q: usize, k: usize, v: usize, kCache: usize, vCache: usize, out: usize,
  T: i32, pos: i32, heads: i32, kvHeads: i32, headDim: i32,
): void {
  attentionHeads(q, k, v, kCache, vCache, out, T, pos, heads, kvHeads, headDim, 0, kvHeads);
}

/**
 * attention() for the kv heads kv0..kv1 and their query heads only (a thread's part,
 * kernels/threads.ts): their columns of k and v go into the caches, and their queries read only
 * those columns, so parts over disjoint kv heads touch disjoint bytes.
 */
export function attentionHeads(
  q: usize, k: usize, v: usize, kCache: usize, vCache: usize, out: usize,
  T: i32, pos: i32, heads: i32, kvHeads: i32, headDim: i32, kv0: i32, kv1: i32,
): void {
  const kvDim = kvHeads * headDim;
  const group = heads / kvHeads;
  const first = at(kv0 * headDim), bytes = at((kv1 - kv0) * headDim);
  for (let t = 0; t < T; t++) {
    memory.copy(kCache + at((pos + t) * kvDim) + first, k + at(t * kvDim) + first, bytes);
    memory.copy(vCache + at((pos + t) * kvDim) + first, v + at(t * kvDim) + first, bytes);
  }
  const scale = <f32>1.0 / Mathf.sqrt(<f32>headDim);
  for (let t = 0; t < T; t++)
    for (let h = kv0 * group; h < kv1 * group; h++) {
      const kvOff = at((h / group) * headDim);
      const row = at(t * heads * headDim + h * headDim);
      attendRow(q + row, kCache + kvOff, vCache + kvOff, kvDim, pos + t + 1, headDim, scale, out + row);
    }
}

/**
 * Bidirectional attention over the T tokens of one call: for each head (a block of headDim
 * columns) and token, an online softmax of scale · q·k over all T tokens, accumulated into out.
 */
export function selfAttention(q: usize, k: usize, v: usize, out: usize, T: i32, heads: i32, headDim: i32, scale: f32): void {
  const D = heads * headDim;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) attendRow(q + at(t * D + h * headDim), k + at(h * headDim), v + at(h * headDim), D, T, headDim, scale, out + at(t * D + h * headDim));
}

/**
 * Attention over heads for graphs with static shapes (ScaledAttention): q [B, Nq, S, H], k and v
 * [B, Nkv, T, H]. Each query row runs an online softmax over the keys of
 *   q·k · scale (+ bias, read with element strides b0..b3) (= fill where keep is 0, strides k0..k3)
 *   (+ causalFill past the causal diagonal, j > i + T − S; with −∞ those keys are skipped).
 * bias and keep are 0 when absent.
 */
export function scaledAttention(
  q: usize, k: usize, v: usize, y: usize, B: i32, Nq: i32, Nkv: i32, S: i32, T: i32, H: i32, scale: f32,
  bias: usize, b0: i32, b1: i32, b2: i32, b3: i32,
  keep: usize, k0: i32, k1: i32, k2: i32, k3: i32, fill: f32,
  causal: i32, causalFill: f32,
): void {
  const group = Nq / Nkv;
  const skipCausal = causal != 0 && causalFill == -Infinity;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Nq; h++) {
      const keys = k + at((b * Nkv + h / group) * T * H), values = v + at((b * Nkv + h / group) * T * H);
      for (let i = 0; i < S; i++) {
        const qi = q + at(((b * Nq + h) * S + i) * H), out = y + at(((b * Nq + h) * S + i) * H);
        const last = skipCausal ? min(T, i + T - S + 1) : T;
        if (!bias && !keep && (!causal || skipCausal)) {
          attendRow(qi, keys, values, H, last, H, scale, out);
          continue;
        }
        softmaxStart(out, H);
        for (let j = 0; j < last; j++) {
          let s = dot(qi, keys + at(j * H), H) * scale;
          if (bias) s += load<f32>(bias + at(b * b0 + h * b1 + i * b2 + j * b3));
          if (keep && load<i32>(keep + at(b * k0 + h * k1 + i * k2 + j * k3)) == 0) s = fill;
          if (causal && j > i + T - S) s += causalFill;
          softmaxAdd(out, values + at(j * H), s, H);
        }
        softmaxEnd(out, H);
      }
    }
}
