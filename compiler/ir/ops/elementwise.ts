/** Elementwise ops on tensors of the same shape. */
import type { OpDef, Tensor } from "./op.js";
import { dOut, expectRank, f32, fail } from "./op.js";
import { perText } from "./per-text.js";

function sameShape(name: string): OpDef["infer"] {
  return ([a, b], _attrs, node) => {
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
      fail(node, `${name} needs equal shapes, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`);
    return [{ dtype: "f32", shape: a.shape }];
  };
}

function binary(f: (a: number, b: number) => number): OpDef["run"] {
  return ([a, b]: readonly Tensor[]) => {
    const as = f32(a),
      bs = f32(b);
    return [{ shape: a.shape, data: as.map((v, i) => f(v, bs[i])) }];
  };
}

export const Add: OpDef = {
  infer: sameShape("Add"),
  run: binary((a, b) => a + b),
  vjp: (step) => step.wants.map(() => dOut(step)),
};

/** SwiGLU(gate, up) = silu(gate) · up, with silu(g) = g / (1 + e^-g). */
export const SwiGLU: OpDef = {
  infer: sameShape("SwiGLU"),
  run: binary((g, u) => (g / (1 + Math.exp(-g))) * u),
  vjp(step) {
    const gs = f32(step.inputs[0]),
      us = f32(step.inputs[1]),
      dy = dOut(step);
    const dg = new Float32Array(gs.length),
      du = new Float32Array(gs.length);
    for (let i = 0; i < gs.length; i++) {
      const sig = 1 / (1 + Math.exp(-gs[i]));
      du[i] = dy[i] * gs[i] * sig;
      dg[i] = dy[i] * us[i] * sig * (1 + gs[i] * (1 - sig));
    }
    return [dg, du];
  },
};

/** An elementwise op, its derivative given from the input x and the output y. */
function unary(f: (x: number) => number, derivative: (x: number, y: number) => number): OpDef {
  return {
    infer: ([x]) => [{ dtype: "f32", shape: x.shape }],
    run: ([x]) => [{ shape: x.shape, data: f32(x).map(f) }],
    vjp(step) {
      const xs = f32(step.inputs[0]),
        ys = f32(step.outputs[0]),
        dy = dOut(step);
      return [dy.map((g, i) => g * derivative(xs[i], ys[i]))];
    },
  };
}

export const Relu = unary(
  (x) => Math.max(0, x),
  (x) => (x > 0 ? 1 : 0),
);
export const Tanh = unary(Math.tanh, (_x, y) => 1 - y * y);

/** AddRows: y[t] = x[t] + table[t] for the T rows of x (a position table longer than any input). */
const addRows: OpDef = {
  infer([x, table], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    expectRank(node, "table", table.shape, 2);
    if (x.shape[1] !== table.shape[1]) fail(node, "x and table must have the same width");
    return [{ dtype: "f32", shape: x.shape }];
  },
  run([x, table]) {
    const xs = f32(x),
      ts = f32(table);
    return [{ shape: x.shape, data: xs.map((v, i) => v + ts[i]) }];
  },
  vjp(step) {
    const dy = dOut(step);
    const dTable = step.wants[1] ? new Float32Array(step.inputs[1].data.length) : undefined;
    dTable?.set(dy);
    return [dy, dTable];
  },
};

/** MeanRows: the mean of the T rows of x, as [1, D] (zeros when T = 0). */
const meanRows: OpDef = {
  infer([x], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    return [{ dtype: "f32", shape: [1, x.shape[1]] }];
  },
  run([x]) {
    const [T, D] = x.shape;
    const xs = f32(x);
    const y = new Float32Array(D);
    for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) y[i] += xs[t * D + i];
    return [{ shape: [1, D], data: y.map((v) => v / Math.max(T, 1)) }];
  },
  vjp(step) {
    const [T, D] = step.inputs[0].shape,
      dy = dOut(step);
    const dx = new Float32Array(T * D);
    for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) dx[t * D + i] = dy[i] / T;
    return [dx];
  },
};

/** With the texts' lengths (per-text.ts), AddRows' t counts from each text's first row, and MeanRows gives [B, D]. */
export const AddRows = perText(addRows, 2, [0]);
export const MeanRows = perText(meanRows, 1, [0]);
