/** The ONNX frontend: read, check ops, bind shapes, fold, lower (see lower.ts). */
import { SeecError } from "../../../runtime/errors.js";
import type { ElementType, Graph } from "../../ir/graph.js";
import { statefulDecoder } from "./decoder-state.js";
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
  /** What the person building should know beyond that. */
  notes?: string[];
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

export async function loadOnnx(
  file: string,
  name: string,
  shapes: Readonly<Record<string, number[]>>,
  decoder?: { context?: number },
): Promise<OnnxLoad> {
  const model = await readOnnx(file);
  return decoder ? lowerOnnxDecoder(model, name, shapes, decoder) : lowerOnnx(model, name, shapes);
}

/**
 * A decoder with past/present pairs as a stateful decoder (decoder-state.ts): `tokens` and `pos`
 * in, `logits` out, the KV caches in the module's memory, as a llama2.c artifact.
 */
export function lowerOnnxDecoder(
  model: OnnxModel,
  name: string,
  shapes: Readonly<Record<string, number[]>>,
  opts: { context?: number },
): OnnxLoad {
  if (Object.keys(shapes).length > 0)
    throw new SeecError("usage.shape", "--decoder builds the graph for one token a call over a KV cache of --context rows: drop --shape", {
      at: "--shape",
    });
  checkOps(model);
  const decoder = statefulDecoder(model, opts);
  const load = lowerOnnx(decoder.model, name, {});
  const logits = load.graph.values.get("logits")!;
  load.graph.model = {
    family: "decoder",
    config: {
      // Ids the embedding reads that sampling can give (a graph whose output is a hidden state has fewer).
      vocabSize: Math.min(decoder.vocabSize ?? Infinity, logits.shape[0] as number),
      contextLength: decoder.context,
      maxChunk: 1,
      nLayers: decoder.layers,
    },
  };
  return { ...load, notes: decoder.notes };
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
