/**
 * RoPE: rotary position embedding. Token t of the call sits at position pos + t; each head's
 * pairs of features are rotated by the angle in the precomputed cos/sin tables [context, headDim/2].
 * `interleaved` = 1 rotates adjacent pairs (x[2i], x[2i+1]) as llama2.c and Meta's Llama do.
 */
import type { OpDef } from "./op.js";
import { dOut, expectRank, f32, fail, i32, num } from "./op.js";

export const RoPE: OpDef = {
  infer([x, pos, cos, sin], attrs, node) {
    expectRank(node, "x", x.shape, 2);
    const headDim = num(attrs, "headDim");
    if (pos.dtype !== "i32" || pos.shape.length !== 1 || pos.shape[0] !== 1) fail(node, "pos must be i32 [1]");
    if (typeof x.shape[1] !== "number" || x.shape[1] % headDim !== 0)
      fail(node, `features ${x.shape[1]} are not a multiple of headDim ${headDim}`);
    for (const t of [cos, sin])
      if (t.shape.length !== 2 || t.shape[1] !== headDim / 2) fail(node, `cos/sin tables must be [context, ${headDim / 2}]`);
    if (num(attrs, "interleaved") !== 1) fail(node, "only interleaved RoPE is supported");
    return [{ dtype: "f32", shape: x.shape }];
  },
  run([x, pos, cos, sin], attrs) {
    const [T, D] = x.shape;
    const half = num(attrs, "headDim") / 2;
    const xs = f32(x),
      c = f32(cos),
      s = f32(sin);
    const y = new Float32Array(xs);
    for (let t = 0; t < T; t++) {
      const p = i32(pos)[0] + t;
      for (let j = 0; j < D; j += 2) {
        const i = (j / 2) % half;
        const x0 = xs[t * D + j],
          x1 = xs[t * D + j + 1];
        const ci = c[p * half + i],
          si = s[p * half + i];
        y[t * D + j] = x0 * ci - x1 * si;
        y[t * D + j + 1] = x0 * si + x1 * ci;
      }
    }
    return [{ shape: [T, D], data: y }];
  },
  /** The transposed rotation: by −angle. */
  vjp(step) {
    const [x, pos, cos, sin] = step.inputs;
    const [T, D] = x.shape;
    const half = num(step.attrs, "headDim") / 2;
    const c = f32(cos),
      s = f32(sin),
      dy = dOut(step);
    const dx = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      const p = i32(pos)[0] + t;
      for (let j = 0; j < D; j += 2) {
        const i = (j / 2) % half;
        const g0 = dy[t * D + j],
          g1 = dy[t * D + j + 1];
        const ci = c[p * half + i],
          si = s[p * half + i];
        dx[t * D + j] = g0 * ci + g1 * si;
        dx[t * D + j + 1] = -g0 * si + g1 * ci;
      }
    }
    return [dx];
  },
};
