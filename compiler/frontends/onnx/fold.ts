/**
 * Constant folding with static input shapes. A tensor is constant when it depends only on
 * initializers and on shapes (Shape, Size and EyeLike read nothing else). Most ops fold through
 * their own lowering and the IR interpreter (fold-ir.ts): a constant's values, any other
 * tensor's shape from the IR's shape rules. The frontend computes itself only what the IR
 * cannot: the sources of shapes and the data-moving ops the lowering needs output shapes from
 * (layout-ops.ts), and integer shape arithmetic in exact int64 (integer-ops.ts); a layout op on
 * a tensor that is not constant runs on zeros to learn its shape, up to a bound. No tensor,
 * constant or not, may pass MAX_ELEMENTS.
 */
import { SeecError } from "../../../runtime/errors.js";
import { inModelFile } from "./errors.js";
import { expandControlFlow, expands, type Expansion } from "./control-flow.js";
import { foldThroughIr } from "./fold-ir.js";
import { integerOp } from "./integer-ops.js";
import { LAYOUT_OPS, type OpImpl } from "./layout-ops.js";
import type { OnnxModel, OnnxNode } from "./read.js";
import { allNodes, loweringOf } from "./support.js";
import { checkSize, MAX_ELEMENTS, roundToType, tensor, type OnnxDType, type OnnxTensor } from "./tensor.js";

/** Ops whose outputs depend only on their inputs' shapes. */
const SHAPE_ONLY = new Set(["Shape", "Size", "EyeLike"]);

type Shaped = { dtype: OnnxDType; shape: number[] };

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
  Resize: [1, 2, 3],
  DFT: [1, 2],
  STFT: [1, 3],
  HannWindow: [0],
  HammingWindow: [0],
  BlackmanWindow: [0],
  MelWeightMatrix: [0, 1, 2, 3, 4],
  MaxUnpool: [2],
};

/** Above this many elements, a layout op is not run on zeros to learn its output's shape. */
const ZERO_RUN_ELEMENTS = 2 ** 25;

const shapeOnly = ({ dtype, shape }: Shaped): OnnxTensor => ({ dtype, shape, data: new Float32Array(0) });

/** The most nodes a graph may grow to as its control flow is unrolled. */
export const MAX_UNROLLED_NODES = 200_000;

/**
 * Every tensor's shape, and the values of those the build knows. Control flow (If, Scan, Loop) is
 * expanded where folding reaches it (control-flow.ts): `nodes` are the graph's with those nodes
 * replaced, which the lowering reads.
 */
export function foldGraph(
  model: OnnxModel,
  inputs: readonly Shaped[] & { name: string }[],
): { values: Map<string, OnnxTensor>; constant: Set<string>; nodes: OnnxNode[] } {
  const values = new Map<string, OnnxTensor>(model.initializers);
  const constant = new Set(model.initializers.keys());
  for (const input of inputs) values.set(input.name, shapeOnly(input));
  const opset = model.opsets.get("") ?? 1;
  // What subgraphs read counts too: an optional output read only in a branch is computed.
  const used = new Set([...allNodes(model.nodes).flatMap((n) => n.inputs), ...model.outputs.map((o) => o.name)]);
  const nodes = [...model.nodes];
  for (let at = 0; at < nodes.length; at++) {
    const node = nodes[at];
    if (expands(node)) {
      let expansion: Expansion;
      try {
        expansion = expandControlFlow(
          node,
          (name) => (constant.has(name) ? values.get(name) : undefined),
          (name) => values.get(name)!.shape,
          opset,
        );
      } catch (e) {
        throw inModelFile(e, model.file, `node ${node.name}`);
      }
      for (const [name, t] of expansion.initializers) {
        values.set(name, t);
        constant.add(name);
      }
      for (const n of expansion.nodes) for (const i of n.inputs) used.add(i);
      nodes.splice(at, 1, ...expansion.nodes);
      if (nodes.length > MAX_UNROLLED_NODES)
        throw new SeecError(
          "unsupported.too_large",
          `unrolling the graph's control flow makes more than ${MAX_UNROLLED_NODES} nodes (at node ${node.name}, ${node.op})`,
          { file: model.file, at: `node ${node.name}` },
        );
      at--;
      continue;
    }
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
      const own = node.domain
        ? undefined
        : Object.hasOwn(LAYOUT_OPS, node.op)
          ? LAYOUT_OPS[node.op]
          : isConstant
            ? integerOp(node.op, ins)
            : undefined;
      if (!own) outs = foldThroughIr(node, loweringOf(node)!, ins, constant, used, opset);
      else if (isConstant) outs = runOwn(own, node, ins, opset);
      else {
        const elements = ins.reduce((n, t, k) => n + (t && !constant.has(node.inputs[k]) ? checkSize(t.shape, `input ${k}`) : 0), 0);
        if (elements > ZERO_RUN_ELEMENTS)
          throw new SeecError(
            "unsupported.too_large",
            `${node.op} reads ${elements} elements; seec learns this op's output shape by running it, up to ${ZERO_RUN_ELEMENTS}`,
            { hint: "bind smaller input shapes with --shape" },
          );
        const zeros = ins.map((t, k) => (t && !constant.has(node.inputs[k]) ? tensor(t.dtype, t.shape) : t));
        outs = runOwn(own, node, zeros, opset).map((t) => t && shapeOnly(t));
      }
    } catch (e) {
      throw inModelFile(e, model.file, `node ${node.name}`);
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
  return { values, constant, nodes };
}

/** One of the frontend's own ops on the node's inputs; 16-bit float outputs rounded, as ONNX Runtime stores them. */
function runOwn(impl: OpImpl, node: OnnxNode, ins: (OnnxTensor | undefined)[], opset: number): (OnnxTensor | undefined)[] {
  const outputs = impl(ins, { attrs: node.attrs, opset, node: node.name, outputs: node.outputs.length });
  for (const t of outputs) if (t) roundToType(t);
  return outputs;
}
