/**
 * Constant folding with static input shapes. A tensor is constant when it depends only on
 * initializers and on shapes (Shape, Size and EyeLike read nothing else); constants are computed with the
 * reference ops. Every other tensor is only given its shape: its data stays empty, and an op is
 * run on zeros only where that is the cheap way to learn the shape (matrix products, elementwise
 * maps and softmax get a rule), and only up to a bound: no tensor, constant or not, may pass
 * MAX_ELEMENTS.
 */
import { SeecError } from "../../../runtime/errors.js";
import { broadcastShapes } from "../../ir/ops/tensor.js";
import { runNode } from "./evaluate.js";
import { attr, type OnnxModel, type OnnxNode } from "./read.js";
import { axis } from "./ops.js";
import { checkSize, MAX_ELEMENTS, tensor, type OnnxDType, type OnnxTensor } from "./tensor.js";

/** Ops whose outputs depend only on their inputs' shapes. */
const SHAPE_ONLY = new Set(["Shape", "Size", "EyeLike"]);

type Shaped = { dtype: OnnxDType; shape: number[] };
/** An op's output shapes from its `inputs` operands' shapes (used only when the node has them all). */
type ShapeRule = { inputs: number; infer: (inputs: Shaped[], node: OnnxNode) => Shaped[] };

/** Output shapes of ops too costly to run on zeros. */
const SHAPE_RULES: Record<string, ShapeRule> = {
  MatMul: {
    inputs: 2,
    infer: ([a, b]) => {
      const A = a.shape.length === 1 ? [1, a.shape[0]] : a.shape,
        B = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
      const batchA = A.slice(0, -2),
        batchB = B.slice(0, -2);
      const rank = Math.max(batchA.length, batchB.length);
      const batch = Array.from({ length: rank }, (_, i) =>
        Math.max(batchA[i - rank + batchA.length] ?? 1, batchB[i - rank + batchB.length] ?? 1),
      );
      return [
        { dtype: a.dtype, shape: [...batch, ...(a.shape.length === 1 ? [] : [A.at(-2)!]), ...(b.shape.length === 1 ? [] : [B.at(-1)!])] },
      ];
    },
  },
  Gemm: {
    inputs: 2,
    infer: ([a, b], n) => {
      const M = attr(n, "transA", 0) ? a.shape[1] : a.shape[0];
      const N = attr(n, "transB", 0) ? b.shape[0] : b.shape[1];
      return [{ dtype: a.dtype, shape: [M, N] }];
    },
  },
};

/** Elementwise ops: the output has the input's shape and type (no need to run them on zeros). */
for (const op of ["Identity", "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Tanh", "Sigmoid", "Relu", "Sin", "Cos", "Gelu"])
  SHAPE_RULES[op] = { inputs: 1, infer: ([x]) => [x] };
/** Broadcasting arithmetic and comparisons: the broadcast shape, in the first operand's type or bool. */
const broadcast = (shapes: Shaped[], n: OnnxNode) =>
  broadcastShapes(
    shapes.map((s) => s.shape),
    (m) => {
      throw new SeecError("input.onnx", m, { at: `node ${n.name}` });
    },
  );
for (const op of ["Add", "Sub", "Mul", "Div", "Pow"])
  SHAPE_RULES[op] = { inputs: 2, infer: ([a, b], n) => [{ dtype: a.dtype, shape: broadcast([a, b], n) }] };
for (const op of ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
  SHAPE_RULES[op] = { inputs: 2, infer: ([a, b], n) => [{ dtype: "bool", shape: broadcast([a, b], n) }] };
SHAPE_RULES.Where = { inputs: 3, infer: ([c, a, b], n) => [{ dtype: a.dtype, shape: broadcast([c, a, b], n) }] };
SHAPE_RULES.Softmax = {
  inputs: 1,
  infer: ([x], n) => {
    if (n.attrs.axis !== undefined) axis({ node: n.name }, attr(n, "axis", -1), x.shape.length);
    return [x];
  },
};

/**
 * Inputs whose values, not only their shapes, set the op's output shape (or which axes it works
 * on): seec needs them at build time, so they must be constants or computed from shapes.
 */
const VALUE_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  Slice: [1, 2, 3, 4],
  Split: [1],
  Squeeze: [1],
  Unsqueeze: [1],
  Range: [0, 1, 2],
  ConstantOfShape: [0],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceSumSquare: [1],
  ReduceL1: [1],
  ReduceL2: [1],
  ReduceLogSum: [1],
  ReduceLogSumExp: [1],
  CumSum: [1],
  Trilu: [1],
  Pad: [1, 2, 3],
  TopK: [1],
  OneHot: [1],
};

/** Above this many elements, an op without a shape rule is not run on zeros to learn its output's shape. */
const ZERO_RUN_ELEMENTS = 2 ** 25;

const shapeOnly = ({ dtype, shape }: Shaped): OnnxTensor => ({ dtype, shape, data: new Float32Array(0) });

export function foldGraph(
  model: OnnxModel,
  inputs: readonly Shaped[] & { name: string }[],
): { values: Map<string, OnnxTensor>; constant: Set<string> } {
  const values = new Map<string, OnnxTensor>(model.initializers);
  const constant = new Set(model.initializers.keys());
  for (const input of inputs) values.set(input.name, shapeOnly(input));
  const opset = model.opsets.get("") ?? 1;
  for (const node of model.nodes) {
    // CastLike reads only the dtype of its second input.
    const reads = node.op === "CastLike" ? node.inputs.slice(0, 1) : node.inputs;
    const isConstant = SHAPE_ONLY.has(node.op) || reads.every((i) => !i || constant.has(i));
    const ins = node.inputs.map((i) => (i ? values.get(i) : undefined));
    let outs: (OnnxTensor | undefined)[];
    try {
      const dynamic =
        isConstant || node.domain
          ? []
          : (Object.hasOwn(VALUE_INPUTS, node.op) ? VALUE_INPUTS[node.op] : []).filter(
              (k) => node.inputs[k] && !constant.has(node.inputs[k]),
            );
      if (dynamic.length)
        throw new SeecError(
          "unsupported.onnx_op",
          `${node.op} reads ${dynamic.map((k) => `"${node.inputs[k]}"`).join(", ")} at run time; seec needs ${dynamic.length > 1 ? "these values" : "this value"} at build time (a constant, or computed from shapes)`,
          { at: `node ${node.name}` },
        );
      const rule = !node.domain && Object.hasOwn(SHAPE_RULES, node.op) ? SHAPE_RULES[node.op] : undefined;
      if (isConstant) outs = runNode(node, ins, opset);
      else if (rule && ins.length >= rule.inputs && ins.every(Boolean)) outs = rule.infer(ins as OnnxTensor[], node).map(shapeOnly);
      else {
        const elements = ins.reduce((n, t, k) => n + (t && !constant.has(node.inputs[k]) ? checkSize(t.shape, `input ${k}`) : 0), 0);
        if (elements > ZERO_RUN_ELEMENTS)
          throw new SeecError(
            "unsupported.too_large",
            `${node.op} reads ${elements} elements; seec learns this op's output shape by running it, up to ${ZERO_RUN_ELEMENTS}`,
            { hint: "bind smaller input shapes with --shape" },
          );
        const zeros = ins.map((t, k) => (t && !constant.has(node.inputs[k]) ? tensor(t.dtype, t.shape) : t));
        outs = runNode(node, zeros, opset).map((t) => t && shapeOnly(t));
      }
    } catch (e) {
      // The reference ops name the node; the error names the model file too.
      if (e instanceof SeecError && !e.file)
        throw new SeecError(e.code, e.message, { file: model.file, at: e.at ?? `node ${node.name}`, hint: e.hint });
      throw e;
    }
    node.outputs.forEach((name, i) => {
      const t = outs[i];
      if (!name || !t) return;
      if (t.shape.reduce((a, b) => a * b, 1) > MAX_ELEMENTS)
        throw new SeecError(
          "unsupported.too_large",
          `${node.op} outputs ${name} of shape [${t.shape.join(", ")}]; seec's wasm32 targets hold at most ${MAX_ELEMENTS} elements (1 GiB of float32) in one tensor`,
          { file: model.file, at: `node ${node.name}`, hint: "bind smaller input shapes with --shape" },
        );
      values.set(name, t);
      if (isConstant) constant.add(name);
    });
  }
  return { values, constant };
}
