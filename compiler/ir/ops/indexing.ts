/** Ops that select rows. */
import { SeecError } from "../../../runtime/errors.js";
import type { OpDef } from "./op.js";
import { weightIndex } from "./linear.js";
import { dOut, expectRank, f32, fail, i32, oneOf } from "./op.js";

/**
 * Gather: y[t] = table[ids[t]] (the token embedding lookup). Attribute `layout: "n4"`: the table
 * stored as a tied classifier's Linear reads it from memory, four rows interleaved by four columns
 * (ir/ops/linear.ts's WeightLayout, passes/weight-layout.ts).
 */
export const Gather: OpDef = {
  infer([table, ids], attrs, node) {
    expectRank(node, "table", table.shape, 2);
    expectRank(node, "ids", ids.shape, 1);
    if (ids.dtype !== "i32") fail(node, "ids must be i32");
    const [V, D] = table.shape;
    if (
      attrs.layout !== undefined &&
      oneOf(attrs, "layout", { n4: 1 }) &&
      (typeof V !== "number" || V % 4 || typeof D !== "number" || D % 4)
    )
      fail(node, `table layout "n4" needs V and D multiples of 4, got [${V}, ${D}]`);
    return [{ dtype: "f32", shape: [ids.shape[0], D] }];
  },
  run([table, ids], attrs) {
    const [V, D] = table.shape;
    const tab = f32(table),
      idx = i32(ids),
      at = attrs.layout === "n4" ? weightIndex("n4", V, D) : undefined;
    const y = new Float32Array(idx.length * D);
    idx.forEach((id, t) => {
      if (id < 0 || id >= V) throw new SeecError("runtime.token", `token id ${id} is outside the vocabulary [0, ${V})`);
      if (at) for (let d = 0; d < D; d++) y[t * D + d] = tab[at(id, d)];
      else y.set(tab.subarray(id * D, (id + 1) * D), t * D);
    });
    return [{ shape: [idx.length, D], data: y }];
  },
  /** Each row's gradient is added into the table row it was read from (the ids have none). */
  vjp(step) {
    // Layouts are the SIMD targets' business, after training (passes/weight-layout.ts).
    if (step.attrs.layout !== undefined) throw new SeecError("internal.ir", "Gather's gradient reads its table as written, not laid out");
    const D = step.inputs[0].shape[1],
      idx = i32(step.inputs[1]),
      dy = dOut(step);
    if (!step.wants[0]) return [undefined, undefined];
    const dTable = new Float32Array(step.inputs[0].data.length);
    idx.forEach((id, t) => {
      for (let i = 0; i < D; i++) dTable[id * D + i] += dy[t * D + i];
    });
    return [dTable, undefined];
  },
};

/**
 * QGather: Gather from an int8 table with one f32 scale per row (passes/quantize.ts):
 * y[t, d] = scale[ids[t]] · table[ids[t], d]. Inputs [table (i8 [V, D]), scale (f32 [V]), ids].
 * Attribute `layout: "n4k16"`: the table stored as a tied classifier's QLinear reads it
 * (ir/ops/linear.ts's WeightLayout, passes/weight-layout.ts).
 */
export const QGather: OpDef = {
  infer([table, scale, ids], attrs, node) {
    expectRank(node, "table", table.shape, 2);
    expectRank(node, "scale", scale.shape, 1);
    expectRank(node, "ids", ids.shape, 1);
    if (table.dtype !== "i8") fail(node, "table must be i8");
    if (scale.dtype !== "f32" || scale.shape[0] !== table.shape[0]) fail(node, `scale must be f32 [${table.shape[0]}]`);
    if (ids.dtype !== "i32") fail(node, "ids must be i32");
    const [V, D] = table.shape;
    if (
      attrs.layout !== undefined &&
      oneOf(attrs, "layout", { n4k16: 1 }) &&
      (typeof V !== "number" || V % 4 || typeof D !== "number" || D % 16)
    )
      fail(node, `table layout "n4k16" needs V a multiple of 4 and D of 16, got [${V}, ${D}]`);
    return [{ dtype: "f32", shape: [ids.shape[0], D] }];
  },
  run([table, scale, ids], attrs) {
    const [V, D] = table.shape;
    const tab = table.data,
      s = f32(scale),
      idx = i32(ids),
      at = weightIndex(attrs.layout === "n4k16" ? "n4k16" : "nk", V, D);
    const y = new Float32Array(idx.length * D);
    idx.forEach((id, t) => {
      if (id < 0 || id >= V) throw new SeecError("runtime.token", `token id ${id} is outside the vocabulary [0, ${V})`);
      for (let d = 0; d < D; d++) y[t * D + d] = s[id] * tab[at(id, d)];
    });
    return [{ shape: [idx.length, D], data: y }];
  },
};

/** LastRow: the last row of a [T, D] matrix, as [1, D] (only the last token's logits are needed). */
export const LastRow: OpDef = {
  infer([x], _attrs, node) {
    expectRank(node, "x", x.shape, 2);
    return [{ dtype: x.dtype, shape: [1, x.shape[1]] }];
  },
  run([x]) {
    const [T, D] = x.shape;
    return [{ shape: [1, D], data: f32(x).slice((T - 1) * D, T * D) }];
  },
  vjp(step) {
    const [T, D] = step.inputs[0].shape;
    const dx = new Float32Array(T * D);
    dx.set(dOut(step), (T - 1) * D);
    return [dx];
  },
};
