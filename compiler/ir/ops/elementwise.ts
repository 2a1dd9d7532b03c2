/** Elementwise ops on tensors of the same shape. */
import type { OpDef, Tensor } from "./op.js";
import { f32, fail } from "./op.js";

function sameShape(name: string): OpDef["infer"] {
  return ([a, b], _attrs, node) => {
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
      fail(node, `${name} needs equal shapes, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`);
    return [{ dtype: "f32", shape: a.shape }];
  };
}

function binary(f: (a: number, b: number) => number): OpDef["run"] {
  return ([a, b]: readonly Tensor[]) => {
    const as = f32(a), bs = f32(b);
    return [{ shape: a.shape, data: as.map((v, i) => f(v, bs[i])) }];
  };
}

export const Add: OpDef = { infer: sameShape("Add"), run: binary((a, b) => a + b) };

/** SwiGLU(gate, up) = silu(gate) · up, with silu(g) = g / (1 + e^-g). */
export const SwiGLU: OpDef = {
  infer: sameShape("SwiGLU"),
  run: binary((g, u) => (g / (1 + Math.exp(-g))) * u),
};
