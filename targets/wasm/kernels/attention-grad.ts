// Attention backwards, for training (seec distill): the gradients of softmax(scale · q·kᵀ)·v
// into q, k and v, one query row at a time. The interpreter's vjp of Attention and SelfAttention
// (compiler/ir/ops/attention.ts) is the reference.
import { at, axpy, dot } from "./simd";
import { expf } from "./math";

/**
 * Gradients of attention over key rows `stride` floats apart, heads of headDim columns (query head
 * h reads kv head h / (heads / kvHeads)). Query t attends to keys 0..first+t when causal (first:
 * the keys before this call's tokens, a KV cache's earlier rows), else to all T. dq is [T, heads ·
 * headDim]; dk and dv have a row for every key, like keys (first + T rows when causal); all three
 * are added into. scratch: two floats per key.
 */
export function attentionBackward(
  q: usize, dy: usize, keys: usize, values: usize, dq: usize, dk: usize, dv: usize, scratch: usize,
  T: i32, first: i32, causal: i32, heads: i32, kvHeads: i32, headDim: i32, scale: f32,
): void {
  const D = heads * headDim, stride = kvHeads * headDim, group = heads / kvHeads;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) {
      const row = at(t * D + h * headDim), kv = at((h / group) * headDim);
      const n = causal ? first + t + 1 : T;
      attendRowBackward(q + row, dy + row, keys + kv, values + kv, stride, n, headDim, scale, dq + row, dk + kv, dv + kv, scratch);
    }
}

/**
 * One query row: recomputes its probabilities p over n keys, then with dp_j = dy·v_j and
 * ds_j = p_j·(dp_j − Σ p·dp): dq += scale · Σ ds_j·k_j, dk_j += scale · ds_j·q, dv_j += p_j·dy.
 * p and dp go to scratch (2n floats).
 */
function attendRowBackward(
  q: usize, dy: usize, keys: usize, values: usize, stride: i32, n: i32, headDim: i32, scale: f32,
  dq: usize, dk: usize, dv: usize, scratch: usize,
): void {
  const p = scratch, dp = scratch + at(n);
  let top: f32 = -Infinity;
  for (let j = 0; j < n; j++) {
    const s = dot(q, keys + at(j * stride), headDim) * scale;
    store<f32>(p + at(j), s);
    top = max(top, s);
  }
  let sum: f32 = 0;
  for (let j = 0; j < n; j++) {
    const e = expf(load<f32>(p + at(j)) - top);
    store<f32>(p + at(j), e);
    sum += e;
  }
  const inv = <f32>1 / sum;
  let pdp: f32 = 0;
  for (let j = 0; j < n; j++) {
    const pj = load<f32>(p + at(j)) * inv, d = dot(dy, values + at(j * stride), headDim);
    store<f32>(p + at(j), pj);
    store<f32>(dp + at(j), d);
    pdp += pj * d;
  }
  for (let j = 0; j < n; j++) {
    const pj = load<f32>(p + at(j)), ds = pj * (load<f32>(dp + at(j)) - pdp) * scale;
    axpy(dq, keys + at(j * stride), ds, headDim);
    axpy(dk + at(j * stride), q, ds, headDim);
    axpy(dv + at(j * stride), dy, pj, headDim);
  }
}
