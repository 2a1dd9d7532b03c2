// compiler/frontends/onnx/integer-ops.ts: the shape arithmetic the frontend folds itself in exact
// int64 (the IR computes integers in i32), each op on broadcast integer and boolean tensors against
// values worked out here, the reductions' axes, keepdims and noop_with_empty_axes, and when
// integerOp declines (a float input, an op it does not know).
import { describe, expect, it } from "vitest";
import { integerOp } from "../../compiler/frontends/onnx/integer-ops.js";
import type { OnnxAttr } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { catchSeec } from "../helpers/errors.js";

const i64 = (shape: number[], data: number[]) => tensor("int64", shape, data);
const bool = (shape: number[], data: number[]) => tensor("bool", shape, data);

function run(op: string, inputs: (OnnxTensor | undefined)[], attrs: Record<string, OnnxAttr> = {}): OnnxTensor {
  const impl = integerOp(op, inputs);
  expect(impl, op).toBeDefined();
  const outs = impl!(inputs, { attrs, opset: 17, node: "n", outputs: 1 });
  expect(outs).toHaveLength(1);
  return outs[0]!;
}

describe("integerOp", () => {
  const col = i64([2, 1], [10, -7]);
  const row = i64([3], [3, -2, 4]);

  it("arithmetic broadcast numpy's way, division truncated toward zero, exact past 2^31", () => {
    expect(run("Add", [col, row])).toEqual(i64([2, 3], [13, 8, 14, -4, -9, -3]));
    expect(run("Sub", [col, row])).toEqual(i64([2, 3], [7, 12, 6, -10, -5, -11]));
    expect(run("Mul", [col, row])).toEqual(i64([2, 3], [30, -20, 40, -21, 14, -28]));
    expect(run("Div", [col, row])).toEqual(i64([2, 3], [3, -5, 2, -2, 3, -1]));
    expect(run("Mul", [i64([], [2 ** 31]), i64([], [2 ** 20])])).toEqual(i64([], [2 ** 51]));
    expect(run("Neg", [row])).toEqual(i64([3], [-3, 2, -4]));
    expect(run("Abs", [row])).toEqual(i64([3], [3, 2, 4]));
    // int32 in, int32 out.
    expect(run("Add", [tensor("int32", [1], [1]), tensor("int32", [1], [2])]).dtype).toBe("int32");
  });

  it("Mod: floored (the divisor's sign), or truncated with fmod=1", () => {
    const a = i64([4], [7, -7, 7, -7]),
      b = i64([4], [3, 3, -3, -3]);
    expect(run("Mod", [a, b])).toEqual(i64([4], [1, 2, -2, -1]));
    expect(run("Mod", [a, b], { fmod: 1 })).toEqual(i64([4], [1, -1, 1, -1]));
  });

  it("Max, Min and Sum of any number of inputs", () => {
    const c = i64([1], [0]);
    expect(run("Max", [col, row, c])).toEqual(i64([2, 3], [10, 10, 10, 3, 0, 4]));
    expect(run("Min", [col, row, c])).toEqual(i64([2, 3], [0, -2, 0, -7, -7, -7]));
    expect(run("Sum", [col, row, i64([1], [100])])).toEqual(i64([2, 3], [113, 108, 114, 96, 91, 97]));
    expect(run("Max", [row])).toEqual(row);
  });

  it("comparisons and logic give bool; Where takes its branches' type", () => {
    const a = i64([3], [1, 2, 3]),
      b = i64([3], [2, 2, 2]);
    expect(run("Equal", [a, b])).toEqual(bool([3], [0, 1, 0]));
    expect(run("Less", [a, b])).toEqual(bool([3], [1, 0, 0]));
    expect(run("LessOrEqual", [a, b])).toEqual(bool([3], [1, 1, 0]));
    expect(run("Greater", [a, b])).toEqual(bool([3], [0, 0, 1]));
    expect(run("GreaterOrEqual", [a, b])).toEqual(bool([3], [0, 1, 1]));
    const p = bool([4], [0, 0, 1, 1]),
      q = bool([4], [0, 1, 0, 1]);
    expect(run("And", [p, q])).toEqual(bool([4], [0, 0, 0, 1]));
    expect(run("Or", [p, q])).toEqual(bool([4], [0, 1, 1, 1]));
    expect(run("Not", [p])).toEqual(bool([4], [1, 1, 0, 0]));
    // Where(Equal(shape, -1), fill, shape): the exporters' reshape arithmetic.
    const shape = i64([3], [2, -1, 4]);
    expect(run("Where", [run("Equal", [shape, i64([], [-1])]), i64([], [1]), shape])).toEqual(i64([3], [2, 1, 4]));
    expect(run("Where", [bool([1], [1]), tensor("int32", [1], [5]), tensor("int32", [1], [6])])).toEqual(tensor("int32", [1], [5]));
  });

  it("reductions over axes from the attribute or the input, negative ones too, keepdims 1 by default", () => {
    const x = i64([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(run("ReduceSum", [x])).toEqual(i64([1, 1], [21]));
    expect(run("ReduceSum", [x, i64([1], [1])])).toEqual(i64([2, 1], [6, 15]));
    expect(run("ReduceSum", [x, i64([1], [-2])], { keepdims: 0 })).toEqual(i64([3], [5, 7, 9]));
    expect(run("ReduceSum", [x], { axes: [0, 1], keepdims: 0 })).toEqual(i64([], [21]));
    expect(run("ReduceProd", [x], { axes: [1] })).toEqual(i64([2, 1], [6, 120]));
    expect(run("ReduceMax", [i64([2, 2], [-5, -3, -9, -8])], { axes: [1] })).toEqual(i64([2, 1], [-3, -8]));
    expect(run("ReduceMin", [i64([2, 2], [5, 3, 9, 8])], { axes: [0] })).toEqual(i64([1, 2], [5, 3]));
    // Empty axes: all of them, or none with noop_with_empty_axes.
    expect(run("ReduceSum", [x, i64([0], [])])).toEqual(i64([1, 1], [21]));
    expect(run("ReduceSum", [x, i64([0], [])], { noop_with_empty_axes: 1 })).toBe(x);
    expect(run("ReduceSum", [x], { noop_with_empty_axes: 1 })).toEqual(i64([1, 1], [21]));
    expect(run("ReduceSum", [x, i64([1], [1])], { noop_with_empty_axes: 1 })).toEqual(i64([2, 1], [6, 15]));
    const none = catchSeec(() => integerOp("ReduceSum", [undefined])!([undefined], { attrs: {}, opset: 17, node: "n", outputs: 1 }));
    expect([none.message, none.at]).toEqual(["data is missing", "node n"]);
    const e = catchSeec(() => run("ReduceSum", [x, i64([1], [2])]));
    expect([e.code, e.message, e.at]).toEqual(["input.onnx", "axis 2 is out of range for a tensor of rank 2", "node n"]);
  });

  it("declines a float input, an op it does not know or an inherited name; absent optional inputs are fine", () => {
    expect(integerOp("Add", [i64([1], [1]), tensor("float32", [1], [1])])).toBeUndefined();
    expect(integerOp("Add", [tensor("float16", [1], [1])])).toBeUndefined();
    expect(integerOp("Relu", [i64([1], [1])])).toBeUndefined();
    expect(integerOp("toString", [i64([1], [1])])).toBeUndefined();
    expect(integerOp("ReduceSum", [i64([1], [1]), undefined])).toBeDefined();
    const missing = catchSeec(() =>
      integerOp("Add", [undefined, i64([1], [1])])!([undefined, i64([1], [1])], { attrs: {}, opset: 17, node: "n", outputs: 1 }),
    );
    expect([missing.message, missing.at]).toEqual(["input 0 is missing", "node n"]);
    const shapes = catchSeec(() => run("Add", [i64([2], [1, 2]), i64([3], [1, 2, 3])]));
    expect([shapes.code, shapes.at]).toEqual(["input.onnx", "node n"]);
  });
});
