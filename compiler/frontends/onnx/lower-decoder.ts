/**
 * The ops of seec's own domain "ai.seec", and their lowerings. Two a stateful ONNX decoder is
 * rewritten into (decoder-state.ts):
 *
 * - CachedAttention(q, k, v, pos[, cos, sin]): the new tokens' q, k and v, in the layout of the
 *   attention they replace ([1, S, N·H], packed [1, S, (Nq + 2·Nkv)·H] with an empty k and v, or
 *   [1, N, S, H]), attending causally over a KV cache kept in the module's memory: the IR's
 *   Attention op, whose caches [context, Nkv·H] are `state`, written at rows pos..pos+S−1. With
 *   `rotary`, q and k are rotated first by the cos/sin cache rows at positions pos..pos+S−1 (as
 *   GroupQueryAttention's do_rotary). `scale` other than 1/√H scales q.
 * - PositionAffine(pos): base + pos · slope, for a value the graph computed from the past's length
 *   (position ids, offsets), given at two sample lengths.
 *
 * And the two that seec's export-onnx writes as calls of local functions (seec-export.ts reads them
 * back), each straight onto the IR op it was written from:
 *
 * - Attention(q, k, v, pos): q [T, heads·headDim], k and v [T, kvHeads·headDim], the IR's
 *   Attention over the caches `kCache` and `vCache` ([context, kvHeads·headDim], `state`).
 * - RoPE(x, pos, cos, sin): the IR's RoPE (interleaved pairs), cos and sin [context, headDim/2].
 */
import type { Lowering } from "./lower-ops.js";
import { cacheRows, rotate } from "./lower-fused.js";
import { attr } from "./read.js";
import { SEEC_DOMAIN } from "./seec-domain.js";
import { isFloat, type OnnxTensor } from "./tensor.js";

const cachedAttention: Lowering = (l, n) => {
  const [query, key, value, pos, cos, sin] = n.inputs;
  const Q = l.shape(query);
  // Written-out attention leaves the head counts to the 4-D shapes.
  const heads = attr(n, "heads", 0) || Q[1],
    kvHeads = attr(n, "kvHeads", 0) || l.shape(key)[1],
    context = attr(n, "context", 0),
    layer = attr(n, "layer", 0);
  if (Q[0] !== 1) l.fail(`a stateful decoder runs one sequence: the batch is ${Q[0]}`);
  let q: string, k: string, v: string, S: number, H: number;
  if (Q.length === 4) {
    [, , S, H] = Q;
    if (Q[1] !== heads) l.fail(`q has ${Q[1]} heads, not ${heads}`);
    const rows = (x: string, N: number) => {
      const X = l.shape(x);
      if (X.length !== 4 || X[1] !== N || X[2] !== S || X[3] !== H) l.fail(`k and v must be [1, ${N}, ${S}, ${H}], not [${X.join(", ")}]`);
      return l.reshape(l.transpose(l.ir(x), [0, 2, 1, 3]), [S, N * H]);
    };
    [q, k, v] = [rows(query, heads), rows(key, kvHeads), rows(value, kvHeads)];
  } else if (Q.length === 3) {
    if (!attr(n, "heads", 0)) l.fail("3-D q, k and v need the head counts (ONNX Attention's q_num_heads and kv_num_heads)");
    S = Q[1];
    const x = l.reshape(l.ir(query), [S, Q[2]]);
    if (!key) {
      H = Q[2] / (heads + 2 * kvHeads);
      [q, k, v] = [l.slice(x, 1, 0, heads * H), l.slice(x, 1, heads * H, kvHeads * H), l.slice(x, 1, (heads + kvHeads) * H, kvHeads * H)];
    } else {
      H = Q[2] / heads;
      const rows = (t: string) => {
        const T = l.shape(t);
        if (T.length !== 3 || T[1] !== S || T[2] !== kvHeads * H)
          l.fail(`k and v must be [1, ${S}, ${kvHeads * H}] (self-attention), not [${T.join(", ")}]`);
        return l.reshape(l.ir(t), [S, kvHeads * H]);
      };
      [q, k, v] = [x, rows(key), rows(value)];
    }
  } else return l.fail(`q must be [1, S, N·H] or [1, N, S, H], not [${Q.join(", ")}]`);
  if (!Number.isInteger(H) || H <= 0) l.fail(`q's ${Q.at(-1)} features do not split into ${heads} heads`);
  const rotary = attr(n, "rotary", 0);
  if (rotary) {
    const half = l.shape(cos)[1];
    if (2 * half > H) l.fail(`the rotary caches are ${half} wide, more than half the head size ${H}`);
    const rows = (cache: string) => l.reshape(cacheRows(l, cache, l.ir(pos), 1, S), [S, 1, half]);
    const [c, s] = [rows(cos), rows(sin)];
    const interleaved = attr(n, "interleaved", 0) === 1;
    const turn = (x: string, N: number) => l.reshape(rotate(l, l.reshape(x, [S, N, H]), c, s, 2 * half, interleaved), [S, N * H]);
    [q, k] = [turn(q, heads), turn(k, kvHeads)];
  }
  const scale = attr(n, "scale", 0);
  if (scale && Math.abs(scale * Math.sqrt(H) - 1) > 1e-7) q = l.map("mul", [q, l.scalar(scale * Math.sqrt(H))]);
  const kCache = l.state(`kv_cache.${layer}.key`, [context, kvHeads * H]);
  const vCache = l.state(`kv_cache.${layer}.value`, [context, kvHeads * H]);
  const y = l.add("Attention", [q, k, v, l.reshape(l.ir(pos), [1]), kCache, vCache], { heads, kvHeads, headDim: H });
  if (Q.length === 3) return [l.reshape(y, [1, S, heads * H])];
  return [l.reshape(l.transpose(l.reshape(y, [S, heads, H]), [1, 0, 2]), [1, heads, S, H])];
};

const positionAffine: Lowering = (l, n) => {
  const base = n.attrs.base as OnnxTensor,
    slope = n.attrs.slope as OnnxTensor;
  const float = isFloat(base.dtype);
  const dtype = float ? "f32" : "i32";
  const constant = (t: OnnxTensor) => l.constantData(float ? Float32Array.from(t.data) : Int32Array.from(t.data), t.shape);
  let p = l.reshape(
    l.ir(n.inputs[0]),
    base.shape.map(() => 1),
  );
  if (float) p = l.map("copy", [p], "f32");
  return [l.map("add", [constant(base), l.map("mul", [p, constant(slope)], dtype)], dtype)];
};

const seecAttention: Lowering = (l, n) => {
  const [q, k, v, pos] = n.inputs;
  const [heads, kvHeads, headDim, context] = ["heads", "kvHeads", "headDim", "context"].map((a) => attr(n, a, 0));
  const expect = (x: string, N: number) => {
    const X = l.shape(x);
    if (X.length !== 2 || X[1] !== N * headDim) l.fail(`${x} must be [T, ${N * headDim}], not [${X.join(", ")}]`);
  };
  expect(q, heads);
  expect(k, kvHeads);
  expect(v, kvHeads);
  const cache = (key: string) => l.state(String(n.attrs[key]), [context, kvHeads * headDim]);
  return [l.add("Attention", [l.ir(q), l.ir(k), l.ir(v), l.ir(pos), cache("kCache"), cache("vCache")], { heads, kvHeads, headDim })];
};

const seecRope: Lowering = (l, n) => {
  const [x, pos, cos, sin] = n.inputs.map((i) => l.ir(i));
  return [l.add("RoPE", [x, pos, cos, sin], { headDim: attr(n, "headDim", 0), interleaved: 1 })];
};

export const DECODER_LOWERINGS: Readonly<Record<string, Lowering>> = {
  [`${SEEC_DOMAIN}:CachedAttention`]: cachedAttention,
  [`${SEEC_DOMAIN}:PositionAffine`]: positionAffine,
  [`${SEEC_DOMAIN}:Attention`]: seecAttention,
  [`${SEEC_DOMAIN}:RoPE`]: seecRope,
};
