/** Normalizations over the last axis. */
import type { OpDef } from "./op.js";
import { dOut, expectRank, f32, fail, num } from "./op.js";

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
    const xs = f32(x),
      ws = f32(w);
    const y = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let i = 0; i < D; i++) ss += xs[t * D + i] ** 2;
      const scale = 1 / Math.sqrt(ss / D + eps);
      for (let i = 0; i < D; i++) y[t * D + i] = ws[i] * xs[t * D + i] * scale;
    }
    return [{ shape: [T, D], data: y }];
  },
  /** With r = (mean(x²) + eps)^-½: dx = r·w·dy − r³·x·(Σ w·dy·x)/D, dw = Σ_t dy·x·r. */
  vjp(step) {
    const [x, w] = step.inputs,
      [T, D] = x.shape;
    const eps = num(step.attrs, "epsilon");
    const xs = f32(x),
      ws = f32(w),
      dy = dOut(step);
    const dx = new Float32Array(T * D),
      dw = step.wants[1] ? new Float32Array(D) : undefined;
    for (let t = 0, o = 0; t < T; t++, o += D) {
      let ss = 0,
        dot = 0;
      for (let i = 0; i < D; i++) {
        ss += xs[o + i] ** 2;
        dot += ws[i] * dy[o + i] * xs[o + i];
      }
      const r = 1 / Math.sqrt(ss / D + eps),
        k = (r * r * r * dot) / D;
      for (let i = 0; i < D; i++) dx[o + i] = r * ws[i] * dy[o + i] - k * xs[o + i];
      if (dw) for (let i = 0; i < D; i++) dw[i] += dy[o + i] * xs[o + i] * r;
    }
    return [dx, dw];
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
    const xs = f32(x),
      ws = f32(w),
      bs = f32(b);
    const y = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      let mean = 0,
        v = 0;
      for (let i = 0; i < D; i++) mean += xs[t * D + i];
      mean /= D;
      for (let i = 0; i < D; i++) v += (xs[t * D + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / D + eps);
      for (let i = 0; i < D; i++) y[t * D + i] = (xs[t * D + i] - mean) * inv * ws[i] + bs[i];
    }
    return [{ shape: [T, D], data: y }];
  },
  /** With x̂ the normalized row and g = dy·w: dx = inv·(g − mean(g) − x̂·mean(g·x̂)); dw = Σ dy·x̂, db = Σ dy. */
  vjp(step) {
    const [x, w] = step.inputs,
      [T, D] = x.shape;
    const eps = num(step.attrs, "epsilon");
    const xs = f32(x),
      ws = f32(w),
      dy = dOut(step);
    const dx = new Float32Array(T * D);
    const dw = step.wants[1] ? new Float32Array(D) : undefined,
      db = step.wants[2] ? new Float32Array(D) : undefined;
    const xhat = new Float64Array(D);
    for (let t = 0, o = 0; t < T; t++, o += D) {
      let mean = 0,
        v = 0;
      for (let i = 0; i < D; i++) mean += xs[o + i];
      mean /= D;
      for (let i = 0; i < D; i++) v += (xs[o + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / D + eps);
      let gMean = 0,
        gxMean = 0;
      for (let i = 0; i < D; i++) {
        xhat[i] = (xs[o + i] - mean) * inv;
        const g = dy[o + i] * ws[i];
        gMean += g;
        gxMean += g * xhat[i];
      }
      gMean /= D;
      gxMean /= D;
      for (let i = 0; i < D; i++) dx[o + i] = inv * (dy[o + i] * ws[i] - gMean - xhat[i] * gxMean);
      if (dw) for (let i = 0; i < D; i++) dw[i] += dy[o + i] * xhat[i];
      if (db) for (let i = 0; i < D; i++) db[i] += dy[o + i];
    }
    return [dx, dw, db];
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
  /** dx = (dy − y·(y·dy)) / n, or dy / n where the floor eps holds n constant. */
  vjp(step) {
    const [x] = step.inputs,
      [T, D] = x.shape;
    const eps = num(step.attrs, "epsilon");
    const xs = f32(x),
      ys = f32(step.outputs[0]),
      dy = dOut(step);
    const dx = new Float32Array(T * D);
    for (let t = 0, o = 0; t < T; t++, o += D) {
      let ss = 0,
        dot = 0;
      for (let i = 0; i < D; i++) {
        ss += xs[o + i] ** 2;
        dot += ys[o + i] * dy[o + i];
      }
      const inv = 1 / Math.sqrt(Math.max(ss, eps)),
        project = ss > eps ? dot : 0;
      for (let i = 0; i < D; i++) dx[o + i] = (dy[o + i] - ys[o + i] * project) * inv;
    }
    return [dx];
  },
};
