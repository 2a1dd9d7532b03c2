import { at, axpy, dot, scaleBy } from "./simd";

/**
 * Causal attention over the KV cache with grouped-query heads.
 * Writes k and v (T rows of kvHeads·headDim) into the caches at row pos, then for each token
 * and head runs an online softmax over cache rows 0..pos+t, accumulating into out.
 */
export function attention(
  q: usize, k: usize, v: usize, kCache: usize, vCache: usize, out: usize,
  T: i32, pos: i32, heads: i32, kvHeads: i32, headDim: i32,
): void {
  const kvDim = kvHeads * headDim;
  const group = heads / kvHeads;
  memory.copy(kCache + at(pos * kvDim), k, at(T * kvDim));
  memory.copy(vCache + at(pos * kvDim), v, at(T * kvDim));
  const scale = <f32>1.0 / Mathf.sqrt(<f32>headDim);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) {
      const kvOff = at((h / group) * headDim);
      const row = at(t * heads * headDim + h * headDim);
      attendHead(q + row, kCache + kvOff, vCache + kvOff, kvDim, pos + t + 1, headDim, scale, out + row);
    }
}

/**
 * Bidirectional attention over the T tokens of one call: for each head (a block of headDim
 * columns) and token, an online softmax of scale · q·k over all T tokens, accumulated into out.
 */
export function selfAttention(q: usize, k: usize, v: usize, out: usize, T: i32, heads: i32, headDim: i32, scale: f32): void {
  const D = heads * headDim;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) attendHead(q + at(t * D + h * headDim), k + at(h * headDim), v + at(h * headDim), D, T, headDim, scale, out + at(t * D + h * headDim));
}

/**
 * One query against n keys and values (rows `stride` floats apart): an online softmax of
 * scale · q·k, so the weighted sum of values accumulates in one pass, rescaled as the max grows.
 */
@inline function attendHead(q: usize, keys: usize, values: usize, stride: i32, n: i32, headDim: i32, scale: f32, out: usize): void {
  memory.fill(out, 0, at(headDim));
  let max = -Infinity as f32;
  let sum: f32 = 0;
  for (let j = 0; j < n; j++) {
    const s = dot(q, keys + at(j * stride), headDim) * scale;
    if (s > max) {
      const rescale = Mathf.exp(max - s);
      sum *= rescale;
      scaleBy(out, rescale, headDim);
      max = s;
    }
    const p = Mathf.exp(s - max);
    sum += p;
    axpy(out, values + at(j * stride), p, headDim);
  }
  scaleBy(out, <f32>1.0 / sum, headDim);
}
