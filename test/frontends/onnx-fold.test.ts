// compiler/frontends/onnx/fold.ts and fold-ir.ts on small graphs written here: which tensors become
// constants and their values, the shapes of the rest (data empty), float16 results rounded to half,
// the ops that read only shapes, and each refusal's code, message, file, `at` and hint.
import { describe, expect, it } from "vitest";
import { foldGraph } from "../../compiler/frontends/onnx/fold.js";
import { foldThroughIr } from "../../compiler/frontends/onnx/fold-ir.js";
import type { OnnxAttr, OnnxModel, OnnxNode } from "../../compiler/frontends/onnx/read.js";
import { loweringOf } from "../../compiler/frontends/onnx/support.js";
import { tensor, toHalf, type OnnxDType, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { floatToHalf, halfToFloat } from "../../compiler/util/float16.js";
import { catchSeec } from "../helpers/errors.js";

const FILE = "/models/fold.onnx";
type Input = { name: string; dtype: OnnxDType; shape: number[] };

const node = (
  name: string,
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, OnnxAttr> = {},
  domain = "",
): OnnxNode => ({
  name,
  op,
  domain,
  inputs,
  outputs,
  attrs,
});

/** `opset` null: no ai.onnx opset listed. */
function model(nodes: OnnxNode[], initializers: Record<string, OnnxTensor> = {}, opset: number | null = 17): OnnxModel {
  return {
    file: FILE,
    opsets: new Map(opset === null ? [] : [["", opset]]),
    producer: "",
    nodes,
    inputs: [],
    outputs: [],
    initializers: new Map(Object.entries(initializers)),
  };
}

const i64 = (shape: number[], data: number[]) => tensor("int64", shape, data);
const f32 = (shape: number[], data: number[]) => tensor("float32", shape, data);
const shapeOnly = (dtype: OnnxDType, shape: number[]) => ({ dtype, shape, data: new Float32Array(0) });
const half = (x: number) => halfToFloat(floatToHalf(x));

describe("foldGraph", () => {
  it("shapes, and what integer arithmetic and layout ops make of them, are constants; the rest get shapes", () => {
    const x: Input = { name: "x", dtype: "float32", shape: [2, 3, 4] };
    const m = model(
      [
        node("shape", "Shape", ["x"], ["s"]),
        node("gather", "Gather", ["s", "one"], ["d"]),
        node("double", "Mul", ["d", "two"], ["d2"]),
        node("unsqueeze", "Unsqueeze", ["d2", "zero"], ["u"]),
        node("concat", "Concat", ["u", "minus"], ["target"], { axis: 0 }),
        node("reshape", "Reshape", ["x", "target"], ["y"]),
        node("relu", "Relu", ["y"], ["z"]),
        node("size", "Size", ["x"], ["n"]),
      ],
      { one: i64([], [1]), two: i64([], [2]), zero: i64([1], [0]), minus: i64([1], [-1]) },
    );
    const { values, constant } = foldGraph(m, [x]);
    expect(values.get("s")).toEqual(i64([3], [2, 3, 4]));
    expect(values.get("d")).toEqual(i64([], [3]));
    expect(values.get("d2")).toEqual(i64([], [6]));
    expect(values.get("u")).toEqual(i64([1], [6]));
    expect(values.get("target")).toEqual(i64([2], [6, -1]));
    expect(values.get("n")).toEqual(i64([], [24]));
    expect(values.get("x")).toEqual(shapeOnly("float32", [2, 3, 4]));
    expect(values.get("y")).toEqual(shapeOnly("float32", [6, 4]));
    expect(values.get("z")).toEqual(shapeOnly("float32", [6, 4]));
    expect([...constant].sort()).toEqual(["d", "d2", "minus", "n", "one", "s", "target", "two", "u", "zero"]);
  });

  it("float constants fold through the IR; float16 results are rounded to half (ties to even)", () => {
    const a = half(0.1); // 0.0999755859375
    const m = model(
      [
        node("add", "Add", ["p", "q"], ["sum"]),
        node("mul", "Mul", ["h", "three"], ["prod"]),
        node("cast", "Cast", ["p"], ["ph"], { to: 10 }),
        node("range", "Range", ["start", "limit", "delta"], ["r"]),
        node("less", "Less", ["p", "q"], ["lt"]),
        node("argmax", "ArgMax", ["p"], ["am"], { axis: 0, keepdims: 0 }),
      ],
      {
        p: f32([2], [0.1, -3]),
        q: f32([2], [0.2, 5]),
        h: tensor("float16", [1], [a]),
        three: tensor("float16", [1], [3]),
        start: tensor("float16", [], [0]),
        limit: tensor("float16", [], [0.35]),
        delta: tensor("float16", [], [half(0.1)]),
      },
    );
    const { values, constant } = foldGraph(m, []);
    expect(values.get("sum")).toEqual(f32([2], [Math.fround(0.1) + Math.fround(0.2), 2]));
    // 0.0999755859375 · 3 = 0.2999267578125, halfway between two halves: the even one.
    expect(toHalf(a * 3)).toBe(0.2998046875);
    expect(values.get("prod")).toEqual(tensor("float16", [1], [0.2998046875]));
    expect(values.get("ph")).toEqual(tensor("float16", [2], [half(Math.fround(0.1)), -3]));
    expect(values.get("r")).toEqual(tensor("float16", [4], [0, half(0.1), half(2 * half(0.1)), half(3 * half(0.1))]));
    expect(values.get("lt")).toEqual(tensor("bool", [2], [1, 1]));
    expect(values.get("am")).toEqual(i64([], [0]));
    for (const name of ["sum", "prod", "ph", "r", "lt", "am"]) expect(constant.has(name)).toBe(true);
  });

  it("CastLike of a constant is constant whatever its second input; EyeLike and Shape read only shapes", () => {
    const x: Input = { name: "x", dtype: "float16", shape: [3, 3] };
    const m = model(
      [
        node("castlike", "CastLike", ["c", "x"], ["cl"]),
        node("eye", "EyeLike", ["x"], ["e"], { k: 1 }),
        node("shape", "Shape", ["x"], ["s"], { start: -1 }),
        node("neg", "Neg", ["x"], ["nx"]),
        node("castlike2", "CastLike", ["nx", "c"], ["back"]),
      ],
      { c: i64([2], [1, 2]) },
    );
    const { values, constant } = foldGraph(m, [x]);
    expect(values.get("cl")).toEqual(tensor("float16", [2], [1, 2]));
    expect(values.get("e")).toEqual(tensor("float16", [3, 3], [0, 1, 0, 0, 0, 1, 0, 0, 0]));
    expect(values.get("s")).toEqual(i64([1], [3]));
    expect(values.get("back")).toEqual(shapeOnly("int64", [3, 3]));
    expect([...constant].sort()).toEqual(["c", "cl", "e", "s"]);
  });

  it("an op read in a domain of its own folds through its lowering, without the value-input check", () => {
    const x: Input = { name: "x", dtype: "float32", shape: [2, 4] };
    const m = model(
      [node("gelu", "Gelu", ["x"], ["g"], {}, "com.microsoft"), node("fastgelu", "FastGelu", ["c"], ["fg"], {}, "com.microsoft")],
      { c: f32([1], [0]) },
    );
    const { values, constant } = foldGraph(m, [x]);
    expect(values.get("g")).toEqual(shapeOnly("float32", [2, 4]));
    expect(values.get("fg")).toEqual(f32([1], [0]));
    expect(constant.has("g")).toBe(false);
    expect(constant.has("fg")).toBe(true);
  });

  it("refuses a value the output's shape depends on that is known only at run time: one, or several", () => {
    const x: Input = { name: "x", dtype: "float32", shape: [2, 3] };
    const to: Input = { name: "to", dtype: "int64", shape: [2] };
    const one = catchSeec(() => foldGraph(model([node("r", "Reshape", ["x", "to"], ["y"])]), [x, to]));
    expect([one.code, one.message, one.file, one.at]).toEqual([
      "unsupported.onnx_op",
      'Reshape reads "to" at run time; seec needs this value at build time (a constant, or computed from shapes)',
      FILE,
      "node r",
    ]);
    const ends: Input = { name: "ends", dtype: "int64", shape: [1] };
    const several = catchSeec(() =>
      foldGraph(model([node("s", "Slice", ["x", "to", "ends", "", "steps"], ["y"])], { steps: i64([1], [1]) }), [x, to, ends]),
    );
    expect(several.message).toBe(
      'Slice reads "to", "ends" at run time; seec needs these values at build time (a constant, or computed from shapes)',
    );
    // An absent optional value input is no value at all; a constant one is fine.
    const ok = foldGraph(model([node("s", "Slice", ["x", "st", "en", "", ""], ["y"])], { st: i64([1], [1]), en: i64([1], [2]) }), [x]);
    expect(ok.values.get("y")).toEqual(shapeOnly("float32", [1, 3]));
  });

  it("refuses to learn a layout op's shape by running it on more than 2^25 elements, and an output past MAX_ELEMENTS", () => {
    const big: Input = { name: "x", dtype: "float32", shape: [2 ** 25 + 1] };
    const e = catchSeec(() => foldGraph(model([node("t", "Transpose", ["x"], ["y"])]), [big]));
    expect([e.code, e.message, e.hint, e.file, e.at]).toEqual([
      "unsupported.too_large",
      "Transpose reads 33554433 elements; seec learns this op's output shape by running it, up to 33554432",
      "bind smaller input shapes with --shape",
      FILE,
      "node t",
    ]);
    // Two inputs of 2^24 + 1 each: the count is their sum (a constant third is not counted).
    const half1: Input = { name: "a", dtype: "float32", shape: [2 ** 24 + 1] };
    const half2: Input = { name: "b", dtype: "float32", shape: [2 ** 24 + 1] };
    const sum = catchSeec(() =>
      foldGraph(model([node("c", "Concat", ["a", "b", "k"], ["y"], { axis: 0 })], { k: f32([1], [0]) }), [half1, half2]),
    );
    expect(sum.message).toBe("Concat reads 33554434 elements; seec learns this op's output shape by running it, up to 33554432");

    const a: Input = { name: "a", dtype: "float32", shape: [32768, 1] };
    const b: Input = { name: "b", dtype: "float32", shape: [1, 16384] };
    const out = catchSeec(() => foldGraph(model([node("mm", "MatMul", ["a", "b"], ["y"])]), [a, b]));
    expect([out.code, out.message, out.hint, out.file, out.at]).toEqual([
      "unsupported.too_large",
      "MatMul outputs y of shape [32768, 16384]; seec's wasm32 targets hold at most 268435456 elements (1 GiB of float32) in one tensor",
      "bind smaller input shapes with --shape",
      FILE,
      "node mm",
    ]);
    // Exactly MAX_ELEMENTS is allowed.
    const at = foldGraph(model([node("mm", "MatMul", ["a", "b"], ["y"])]), [a, { ...b, shape: [1, 8192] }]);
    expect(at.values.get("y")).toEqual(shapeOnly("float32", [32768, 8192]));
  });

  it("runs a layout op on exactly 2^25 elements to learn its shape", () => {
    const x: Input = { name: "x", dtype: "float32", shape: [2 ** 25] };
    const { values } = foldGraph(model([node("id", "Identity", ["x"], ["y"])]), [x]);
    expect(values.get("y")).toEqual(shapeOnly("float32", [2 ** 25]));
  });

  it("a constant layer norm's statistics are made when the graph outputs them, and left out when nothing reads them", () => {
    const ln = node("ln", "LayerNormalization", ["x", "g", "b"], ["y", "mean", "inv"], { axis: -1, epsilon: 0 });
    const consts = { x: f32([1, 4], [1, 2, 3, 6]), g: f32([4], [1, 1, 1, 1]), b: f32([4], [0, 0, 0, 0]) };
    const read = model([ln], consts);
    read.outputs = [{ name: "mean", elementType: "float", dtype: "float32", dims: [1, 1] }];
    expect(foldGraph(read, []).values.get("mean")).toEqual(f32([1, 1], [3]));
    const unread = foldGraph(model([ln], consts), []);
    expect(unread.values.has("mean")).toBe(false);
    expect(unread.values.get("y")!.shape).toEqual([1, 4]);
  });

  it("a model without an ai.onnx opset is read as opset 1 (Softmax over the axes from 1, not the last)", () => {
    const c = f32([1, 2, 2], [0, 1, 2, 3]);
    const softmax = (xs: number[]) => xs.map((x) => Math.exp(x) / xs.reduce((a, v) => a + Math.exp(v), 0));
    const fold = (opset: number | null) =>
      Array.from(foldGraph(model([node("sm", "Softmax", ["c"], ["y"])], { c }, opset), []).values.get("y")!.data);
    const close = (got: number[], want: number[]) => got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 6));
    close(fold(null), softmax([0, 1, 2, 3]));
    close(fold(11), softmax([0, 1, 2, 3]));
    close(fold(13), [...softmax([0, 1]), ...softmax([2, 3])]);
  });

  it("outputs left unnamed or not made are skipped; an error from an op names the file and the node", () => {
    const x: Input = { name: "x", dtype: "float32", shape: [4, 2] };
    const { values } = foldGraph(
      model([node("split", "Split", ["x", "sizes"], ["", "second"], { axis: 0 })], { sizes: i64([2], [1, 3]) }),
      [x],
    );
    expect(values.get("second")).toEqual(shapeOnly("float32", [3, 2]));
    expect(values.has("")).toBe(false);
    const e = catchSeec(() => foldGraph(model([node("t", "Transpose", ["x"], ["y"], { perm: [0, 5] })]), [x]));
    expect([e.code, e.file, e.at]).toEqual(["input.onnx", FILE, "node t"]);
    expect(e.message).toMatch(/perm \[0, 5\] is not a permutation/);
  });
});

describe("foldGraph: the inputs whose values set an op's output shape", () => {
  // From the ONNX operator specs: the inputs each op reads as shapes, axes, counts or sizes.
  const VALUE_INPUTS: [string, number[]][] = [
    ["Reshape", [1]],
    ["Expand", [1]],
    ["Tile", [1]],
    ["Slice", [1, 2, 3, 4]],
    ["Split", [1]],
    ["Squeeze", [1]],
    ["Unsqueeze", [1]],
    ["Range", [0, 1, 2]],
    ["ConstantOfShape", [0]],
    ...[
      "ReduceSum",
      "ReduceMean",
      "ReduceMax",
      "ReduceMin",
      "ReduceProd",
      "ReduceSumSquare",
      "ReduceL1",
      "ReduceL2",
      "ReduceLogSum",
      "ReduceLogSumExp",
    ].map((op): [string, number[]] => [op, [1]]),
    ["CumSum", [1]],
    ["Trilu", [1]],
    ["Pad", [1, 2, 3]],
    ["TopK", [1]],
    ["OneHot", [1]],
    ["Resize", [1, 2, 3]],
  ];
  const x: Input = { name: "x", dtype: "float32", shape: [2, 3] };
  const dyn: Input = { name: "dyn", dtype: "int64", shape: [1] };

  it.each(VALUE_INPUTS)("%s refuses each of inputs %j known only at run time", (op, ks) => {
    for (const k of ks) {
      const inputs = Array.from({ length: Math.max(...ks) + 1 }, (_, i) => (i === k ? "dyn" : ks.includes(i) ? "c" : i === 0 ? "x" : ""));
      const e = catchSeec(() => foldGraph(model([node("n", op, inputs, ["y"])], { c: i64([1], [1]) }), [x, dyn]));
      expect([e.code, e.message, e.at], `${op} input ${k}`).toEqual([
        "unsupported.onnx_op",
        `${op} reads "dyn" at run time; seec needs this value at build time (a constant, or computed from shapes)`,
        "node n",
      ]);
    }
  });
});

describe("foldThroughIr's element types", () => {
  const fold = (n: OnnxNode, ins: OnnxTensor[], constant = true) =>
    foldThroughIr(n, loweringOf(n)!, ins, new Set(constant ? n.inputs : []), new Set(n.outputs), 17);

  it("comparisons and logic give bool, ArgMax int64, Where its branches' type, Dropout's mask bool", () => {
    const b = tensor("bool", [2], [1, 0]);
    const i = i64([2], [5, 7]);
    expect(fold(node("a", "And", ["p", "q"], ["y"]), [b, b])[0]).toEqual(tensor("bool", [2], [1, 0]));
    expect(fold(node("e", "Equal", ["p", "q"], ["y"]), [i, i64([2], [5, 6])])[0]).toEqual(tensor("bool", [2], [1, 0]));
    expect(fold(node("w", "Where", ["c", "p", "q"], ["y"]), [b, i, i64([2], [1, 2])])[0]).toEqual(i64([2], [5, 2]));
    expect(fold(node("am", "ArgMin", ["p"], ["y"], { keepdims: 0 }), [f32([3], [2, -1, 0])])[0]).toEqual(i64([], [1]));
    const dropout = fold(node("d", "Dropout", ["p"], ["y", "mask"]), [f32([2], [1, 2])]);
    expect(dropout[0]).toEqual(f32([2], [1, 2]));
    expect(dropout[1]).toEqual(tensor("bool", [2], [1, 1]));
  });

  it.each(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"])("%s of floats is bool", (op) => {
    const a = f32([2], [1, 2]);
    expect(fold(node("n", op, ["p", "q"], ["y"]), [a, f32([2], [2, 2])], false)).toEqual([shapeOnly("bool", [2])]);
  });

  it.each(["Not", "IsNaN", "IsInf"])("%s is bool", (op) => {
    expect(fold(node("n", op, ["p"], ["y"]), [tensor(op === "Not" ? "bool" : "float16", [3])], false)).toEqual([shapeOnly("bool", [3])]);
  });

  it("SimplifiedLayerNormalization's inverse deviation is float32; an ArgMax int64; Where its branches' type", () => {
    const outs = fold(
      node("rms", "SimplifiedLayerNormalization", ["x", "g"], ["y", "inv"], { axis: -1 }),
      [tensor("float16", [2, 4]), tensor("float16", [4])],
      false,
    );
    expect(outs).toEqual([shapeOnly("float16", [2, 4]), shapeOnly("float32", [2, 1])]);
    expect(fold(node("am", "ArgMax", ["p"], ["y"], { axis: 1 }), [tensor("float16", [2, 4])], false)).toEqual([shapeOnly("int64", [2, 1])]);
    expect(
      fold(node("w", "Where", ["c", "p", "q"], ["y"]), [tensor("bool", [2]), tensor("float16", [2]), tensor("float16", [2])], false),
    ).toEqual([shapeOnly("float16", [2])]);
  });

  it("a layer norm's statistics are float32 whatever the input's type; its output keeps the input's", () => {
    const x = tensor("float16", [1, 4], [1, 2, 3, 6]);
    const outs = fold(node("ln", "LayerNormalization", ["x", "g", "b"], ["y", "mean", "inv"], { axis: -1, epsilon: 0 }), [
      x,
      tensor("float16", [4], [1, 1, 1, 1]),
      tensor("float16", [4], [0, 0, 0, 0]),
    ]);
    expect(outs.map((t) => t && [t.dtype, t.shape])).toEqual([
      ["float16", [1, 4]],
      ["float32", [1, 1]],
      ["float32", [1, 1]],
    ]);
    expect(outs[1]!.data).toEqual(Float32Array.of(3));
    // Not constant: shapes only, the same types.
    const shapes = fold(
      node("ln", "LayerNormalization", ["x", "g", "b"], ["y", "mean", "inv"], { axis: -1 }),
      [x, x, x].map((t, k) => (k ? tensor("float16", [4]) : t)),
      false,
    );
    expect(shapes).toEqual([shapeOnly("float16", [1, 4]), shapeOnly("float32", [1, 1]), shapeOnly("float32", [1, 1])]);
  });
});
