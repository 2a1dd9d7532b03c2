/** The ONNX frontend: read, check ops, bind shapes, fold, lower (see lower.ts). */
import type { ElementType, Graph } from "../../ir/graph.js";
import { bindInputs, onnxGraph } from "./lower.js";
import { readOnnx, type OnnxModel } from "./read.js";
import { checkOps } from "./support.js";
import type { OnnxDType } from "./tensor.js";

export interface OnnxLoad {
  graph: Graph;
  /** Symbolic dimensions no --shape bound (set to 1), for the build to mention. */
  defaulted: string[];
  /** Decomposed patterns fused, by the op they became. */
  fused: Record<string, number>;
}

/** Element types a caller exchanges that differ from what seec computes in. */
const EXCHANGED: Partial<Record<OnnxDType, ElementType>> = {
  int64: "int64",
  bool: "bool",
  float16: "float16",
  uint8: "uint8",
  int8: "int8",
  float64: "float64",
};

export async function loadOnnx(file: string, name: string, shapes: Readonly<Record<string, number[]>>): Promise<OnnxLoad> {
  return lowerOnnx(await readOnnx(file), name, shapes);
}

/** A model already read, as IR: ops checked, shapes bound, folded, lowered. */
export function lowerOnnx(model: OnnxModel, name: string, shapes: Readonly<Record<string, number[]>>): OnnxLoad {
  checkOps(model);
  const binding = bindInputs(model, shapes);
  const { graph, fused } = onnxGraph(name, model, binding);
  const types = new Map([...binding.inputs.map((i) => [i.name, i.dtype] as const)]);
  for (const output of model.outputs) types.set(output.name, output.dtype ?? "float32");
  for (const [tensor, dtype] of types) {
    const exchanged = EXCHANGED[dtype];
    const v = graph.values.get(tensor);
    if (v && exchanged) v.elementType = exchanged;
  }
  return { graph, defaulted: binding.defaulted, fused };
}
