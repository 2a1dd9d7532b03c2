/**
 * Arithmetic, comparisons, logic and reductions on integer and boolean ONNX tensors: the shape
 * arithmetic exporters write (a dimension times a head count, `Where(Equal(shape, -1), ...)`,
 * `ReduceProd(Shape(x))`). The frontend folds these itself, exactly in int64, because the IR
 * computes integers in i32 (an INT64_MAX sentinel would wrap) and has no integer reductions.
 * Floating-point inputs fold through the IR instead (fold-ir.ts).
 */
import { elementCount } from "../../ir/graph.js";
import { attr } from "./read.js";
import { axis, broadcastIndex, broadcastShape, ints, need, truncate, values, type OpImpl } from "./layout-ops.js";
import { isFloat, tensor, type OnnxDType, type OnnxTensor } from "./tensor.js";

/** f over the broadcast inputs; integer results truncated as C's integer division does. */
function elementwise(f: (...x: number[]) => number, type: "first" | "bool" | "branches" = "first"): OpImpl {
  return (inputs, ctx) => {
    const ts = inputs.map((t, i) => need(t, ctx, `input ${i}`));
    const shape = broadcastShape(
      ts.map((t) => t.shape),
      ctx,
    );
    const idx = ts.map((t) => broadcastIndex(t.shape, shape));
    const dtype: OnnxDType = type === "bool" ? "bool" : ts[type === "branches" ? 1 : 0].dtype;
    const out = tensor(dtype, shape);
    const args = new Array<number>(ts.length);
    for (let i = 0; i < out.data.length; i++) {
      for (let k = 0; k < ts.length; k++) args[k] = ts[k].data[idx[k][i]];
      out.data[i] = truncate(f(...args));
    }
    return [out];
  };
}

const REDUCTIONS = {
  sum: { init: 0, step: (acc: number, v: number) => acc + v },
  prod: { init: 1, step: (acc: number, v: number) => acc * v },
  max: { init: -Infinity, step: Math.max },
  min: { init: Infinity, step: Math.min },
};

function reduce(kind: keyof typeof REDUCTIONS): OpImpl {
  return ([x, axesInput], ctx) => {
    const t = need(x, ctx, "data");
    const listed = values(axesInput) ?? ints(ctx, "axes");
    if (listed && listed.length === 0 && attr(ctx, "noop_with_empty_axes", 0)) return [t];
    const axes = new Set((listed && listed.length > 0 ? listed : t.shape.map((_, i) => i)).map((a) => axis(ctx, a, t.shape.length)));
    const kept = t.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const { init, step } = REDUCTIONS[kind];
    const acc = new Float64Array(elementCount(kept)).fill(init);
    const idx = broadcastIndex(kept, t.shape);
    for (let i = 0; i < t.data.length; i++) acc[idx[i]] = step(acc[idx[i]], t.data[i]);
    const shape = attr(ctx, "keepdims", 1) === 1 ? kept : t.shape.filter((_, i) => !axes.has(i));
    return [tensor(t.dtype, shape, acc)];
  };
}

const INTEGER_OPS: Readonly<Record<string, OpImpl>> = {
  Add: elementwise((a, b) => a + b),
  Sub: elementwise((a, b) => a - b),
  Mul: elementwise((a, b) => a * b),
  Div: elementwise((a, b) => a / b),
  Mod: (inputs, ctx) => elementwise(attr(ctx, "fmod", 0) ? (a, b) => a % b : (a, b) => a - Math.floor(a / b) * b)(inputs, ctx),
  Neg: elementwise((a) => -a),
  Abs: elementwise(Math.abs),
  Max: elementwise((...xs) => Math.max(...xs)),
  Min: elementwise((...xs) => Math.min(...xs)),
  Sum: elementwise((...xs) => xs.reduce((a, b) => a + b, 0)),
  Where: elementwise((c, a, b) => (c ? a : b), "branches"),
  Equal: elementwise((a, b) => +(a === b), "bool"),
  Less: elementwise((a, b) => +(a < b), "bool"),
  LessOrEqual: elementwise((a, b) => +(a <= b), "bool"),
  Greater: elementwise((a, b) => +(a > b), "bool"),
  GreaterOrEqual: elementwise((a, b) => +(a >= b), "bool"),
  And: elementwise((a, b) => +(a && b), "bool"),
  Or: elementwise((a, b) => +(a || b), "bool"),
  Not: elementwise((a) => +!a, "bool"),
  ReduceSum: reduce("sum"),
  ReduceProd: reduce("prod"),
  ReduceMax: reduce("max"),
  ReduceMin: reduce("min"),
};

/** The frontend's own implementation of `op` when every input present is integer or boolean. */
export function integerOp(op: string, inputs: readonly (OnnxTensor | undefined)[]): OpImpl | undefined {
  if (!Object.hasOwn(INTEGER_OPS, op) || inputs.some((t) => t && isFloat(t.dtype))) return undefined;
  return INTEGER_OPS[op];
}
