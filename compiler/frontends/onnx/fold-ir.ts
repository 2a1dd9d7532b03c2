/**
 * One ONNX node folded through its own lowering: the node is written as IR into a graph of its
 * own (constant inputs as IR constants, the others as inputs of their shapes), which gives the
 * outputs' shapes from the IR's shape rules; when every input is constant, the IR interpreter
 * then computes the outputs' values. So a folded constant means exactly what the compiled graph
 * would compute, by the ops' one reference semantics (compiler/ir/ops).
 */
import { GraphBuilder } from "../../ir/builder.js";
import { Interpreter } from "../../ir/interpreter.js";
import { Lowerer, type Lowering } from "./lower-ops.js";
import { quantOutputType } from "./lower-quant.js";
import { attr, type OnnxNode } from "./read.js";
import { isFloat, roundToType, tensor, type OnnxDType, type OnnxTensor } from "./tensor.js";

/** Ops whose outputs are boolean whatever their inputs. */
const BOOLEAN = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Not", "Xor", "IsNaN", "IsInf"]);
/** Ops that make a window from its size (and the mel filter bank from its integers), and the types their output_datatype names. */
const WINDOWS = new Set(["HannWindow", "HammingWindow", "BlackmanWindow", "MelWeightMatrix"]);
const WINDOW_TYPES: Readonly<Record<number, OnnxDType>> = { 1: "float32", 10: "float16", 11: "float64", 16: "bfloat16" };
/** Ops whose outputs after the first are statistics in float32 (the mean, the inverse deviation). */
const STATISTICS = new Set([
  "LayerNormalization",
  "SimplifiedLayerNormalization",
  "SkipLayerNormalization",
  "SkipSimplifiedLayerNormalization",
]);

/** The ONNX element type of output `k`, from the op and its inputs' types (the IR knows only f32 and i32). */
function outputType(node: OnnxNode, k: number, inputs: readonly (OnnxTensor | undefined)[]): OnnxDType {
  const first = inputs.find(Boolean)!.dtype;
  if (BOOLEAN.has(node.op) || (node.op === "Dropout" && k === 1)) return "bool";
  if (node.op === "ArgMax" || node.op === "ArgMin" || (node.op === "MaxPool" && k === 1)) return "int64";
  if (node.op === "Where") return inputs[1]!.dtype;
  // A window of an integer size, of its output_datatype: float32 (1, the default), float64 (11), float16 (10), bfloat16 (16).
  if (WINDOWS.has(node.op)) return WINDOW_TYPES[attr(node, "output_datatype", 1)] ?? "float32";
  if (node.op === "EmbedLayerNormalization") return k === 1 ? "int32" : inputs[2]!.dtype;
  // SkipLayerNormalization's fourth output is the sum it normalized, in the input's type.
  if (STATISTICS.has(node.op) && k > 0 && k < 3) return "float32";
  return quantOutputType(node, k, inputs) ?? first;
}

/**
 * The node's outputs: values when every input in `ins` is `constant`, shapes only (empty data)
 * otherwise. `used` names the outputs anything reads (the rest the lowering may leave out).
 */
export function foldThroughIr(
  node: OnnxNode,
  lowering: Lowering,
  ins: readonly (OnnxTensor | undefined)[],
  constant: ReadonlySet<string>,
  used: ReadonlySet<string>,
  opset: number,
): (OnnxTensor | undefined)[] {
  const values = new Map<string, OnnxTensor>();
  node.inputs.forEach((name, k) => name && ins[k] && values.set(name, ins[k]));
  const b = new GraphBuilder(`fold ${node.name}`, { family: "graph", config: {} });
  const lowerer = new Lowerer(b, values, constant, used, opset);
  for (const [name, t] of values)
    if (!constant.has(name)) lowerer.bindInput(name, b.input(name, isFloat(t.dtype) ? "f32" : "i32", t.shape));
  const outs = lowerer.lower(node, lowering);
  const computed = [...values.keys()].every((name) => constant.has(name));
  if (computed) for (const o of outs) if (o !== undefined) b.output(o);
  const results = computed ? new Interpreter(b.finish()).run({}) : {};
  return outs.map((o, k) => {
    if (o === undefined) return undefined;
    const dtype = outputType(node, k, ins);
    const shape = b.shapeOf(o);
    if (!computed) return { dtype, shape, data: new Float32Array(0) };
    return roundToType(tensor(dtype, shape, results[o].data));
  });
}
