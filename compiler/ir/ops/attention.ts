/**
 * Attention: causal multi-head attention over a KV cache, with grouped-query heads.
 *
 * Inputs: q [T, heads·headDim], k and v [T, kvHeads·headDim], pos i32 [1], and the cache
 * tensors kCache, vCache [context, kvHeads·headDim] (state). Token t sits at position pos + t:
 * its k and v are written into the caches at that row, and it attends to rows 0..pos+t.
 * Query head h reads kv head floor(h / (heads / kvHeads)).
 */
import type { OpDef } from "./op.js";
import { expectRank, f32, fail, i32, num } from "./op.js";

export const Attention: OpDef = {
  writes: [4, 5],
  infer([q, k, v, pos, kCache, vCache], attrs, node) {
    const heads = num(attrs, "heads"), kvHeads = num(attrs, "kvHeads"), headDim = num(attrs, "headDim");
    for (const [n, t] of [["q", q], ["k", k], ["v", v], ["kCache", kCache], ["vCache", vCache]] as const) expectRank(node, n, t.shape, 2);
    if (heads % kvHeads !== 0) fail(node, `heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
    if (q.shape[1] !== heads * headDim) fail(node, `q must have ${heads * headDim} features`);
    for (const t of [k, v, kCache, vCache]) if (t.shape[1] !== kvHeads * headDim) fail(node, `k, v and caches must have ${kvHeads * headDim} features`);
    if (pos.dtype !== "i32") fail(node, "pos must be i32");
    return [{ dtype: "f32", shape: q.shape }];
  },
  run([q, k, v, pos, kCache, vCache], attrs) {
    const heads = num(attrs, "heads"), kvHeads = num(attrs, "kvHeads"), hd = num(attrs, "headDim");
    const T = q.shape[0], kvDim = kvHeads * hd, group = heads / kvHeads;
    const p0 = i32(pos)[0];
    const qs = f32(q), kc = f32(kCache), vc = f32(vCache);
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
        for (let j = 0; j < n; j++) sum += (scores[j] = Math.exp(scores[j] - max));
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += scores[j] * vc[j * kvDim + kvOff + i];
          out[t * heads * hd + h * hd + i] = acc / sum;
        }
      }
    }
    return [{ shape: [T, heads * hd], data: out }];
  },
};

/**
 * SelfAttention: bidirectional multi-head attention over the T tokens of one call (an encoder),
 * softmax(scale · q·kᵀ)·v per head; heads are consecutive column blocks of headDim.
 */
export const SelfAttention: OpDef = {
  infer([q, k, v], attrs, node) {
    const width = num(attrs, "heads") * num(attrs, "headDim");
    for (const [n, t] of [["q", q], ["k", k], ["v", v]] as const) {
      expectRank(node, n, t.shape, 2);
      if (t.shape[1] !== width) fail(node, `${n} must have ${width} features`);
    }
    return [{ dtype: "f32", shape: q.shape }];
  },
  run([q, k, v], attrs) {
    const heads = num(attrs, "heads"), hd = num(attrs, "headDim"), scale = num(attrs, "scale");
    const T = q.shape[0], D = heads * hd;
    const qs = f32(q), ks = f32(k), vs = f32(v);
    const out = new Float32Array(T * D);
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < T; t++) {
        const scores = Array.from({ length: T }, (_, j) => {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qs[t * D + h * hd + i] * ks[j * D + h * hd + i];
          return s * scale;
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let j = 0; j < T; j++) acc += e[j] * vs[j * D + h * hd + i];
          out[t * D + h * hd + i] = acc / sum;
        }
      }
    return [{ shape: [T, D], data: out }];
  },
};
