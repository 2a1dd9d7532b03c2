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
