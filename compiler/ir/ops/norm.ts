/** Normalizations over the last axis. */
import type { OpDef } from "./op.js";
import { expectRank, f32, fail, num } from "./op.js";

/** RMSNorm: y = w · x / sqrt(mean(x²) + eps). */
export const RMSNorm: OpDef = {
  infer([x, w], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    if (w.shape.length !== 1 || w.shape[0] !== x.shape[1]) fail(node, `weight must be [${x.shape[1]}]`);
    return [{ dtype: "f32", shape: x.shape }];
  },
  run([x, w], attrs) {
    const [T, D] = x.shape;
    const eps = num(attrs, "epsilon");
    const xs = f32(x), ws = f32(w);
    const y = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let i = 0; i < D; i++) ss += xs[t * D + i] ** 2;
      const scale = 1 / Math.sqrt(ss / D + eps);
      for (let i = 0; i < D; i++) y[t * D + i] = ws[i] * xs[t * D + i] * scale;
    }
    return [{ shape: [T, D], data: y }];
  },
};

/** LayerNorm: y = (x − mean) / sqrt(var + eps) · w + b over the last axis. */
export const LayerNorm: OpDef = {
  infer([x, w, b], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    for (const t of [w, b]) if (t.shape.length !== 1 || t.shape[0] !== x.shape[1]) fail(node, `weight and bias must be [${x.shape[1]}]`);
    return [{ dtype: "f32", shape: x.shape }];
  },
  run([x, w, b], attrs) {
    const [T, D] = x.shape;
    const eps = num(attrs, "epsilon");
    const xs = f32(x), ws = f32(w), bs = f32(b);
    const y = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      let mean = 0, v = 0;
      for (let i = 0; i < D; i++) mean += xs[t * D + i];
      mean /= D;
      for (let i = 0; i < D; i++) v += (xs[t * D + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / D + eps);
      for (let i = 0; i < D; i++) y[t * D + i] = (xs[t * D + i] - mean) * inv * ws[i] + bs[i];
    }
    return [{ shape: [T, D], data: y }];
  },
};

/** L2Normalize: y = x / sqrt(max(sum(x²), eps)) per row. */
export const L2Normalize: OpDef = {
  infer([x], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    return [{ dtype: "f32", shape: x.shape }];
  },
  run([x], attrs) {
    const [T, D] = x.shape;
    const xs = f32(x);
    const y = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let i = 0; i < D; i++) ss += xs[t * D + i] ** 2;
      const inv = 1 / Math.sqrt(Math.max(ss, num(attrs, "epsilon")));
      for (let i = 0; i < D; i++) y[t * D + i] = xs[t * D + i] * inv;
    }
    return [{ shape: [T, D], data: y }];
  },
};
