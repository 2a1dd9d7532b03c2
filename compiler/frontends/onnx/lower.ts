/**
 * ONNX graph → seec IR, with every shape static.
 *
 * 1. Bind: each input's symbolic dimensions get their build-time sizes (--shape, else 1).
 * 2. Fold (fold.ts): a tensor that depends only on initializers and shapes (Shape/Size, and
 *    whatever computes from them) is a constant, computed through its lowering and the IR
 *    interpreter; every other tensor gets its shape.
 * 3. Fuse (fuse.ts): decomposed layer norms, RMS norms and GELUs become the ops they spell.
 * 4. Lower: every remaining node becomes IR ops (lower-ops.ts, lower-fused.ts) reading IR
 *    constants for the folded tensors it uses.
 * 5. Attention written out op by op becomes ScaledAttention (passes/fuse-attention.ts).
 */
import { SeecError } from "../../../runtime/errors.js";
import type { Graph } from "../../ir/graph.js";
import { GraphBuilder } from "../../ir/builder.js";
import { foldGraph } from "./fold.js";
import { fuseAttention } from "../../passes/fuse-attention.js";
import { fuseOnnx } from "./fuse.js";
import { Lowerer } from "./lower-ops.js";
import type { OnnxModel } from "./read.js";
import { inModelFile } from "./errors.js";
import { checkOps, loweringOf } from "./support.js";
import { isFloat, MAX_ELEMENTS, type OnnxTensor } from "./tensor.js";

export interface BoundInput {
  name: string;
  dtype: OnnxTensor["dtype"];
  shape: number[];
}

export interface Binding {
  inputs: BoundInput[];
  /** Symbolic dimensions no --shape bound, set to 1. */
  defaulted: string[];
  /** Whether --shape bound any input. */
  given: boolean;
}

/** Sizes for every input's dimensions: `shapes` per input name, else what other inputs bound, else 1. */
export function bindInputs(model: OnnxModel, shapes: Readonly<Record<string, number[]>>): Binding {
  for (const name of Object.keys(shapes))
    if (!model.inputs.some((i) => i.name === name))
      throw new SeecError("usage.shape", `--shape names "${name}", which is not an input of the graph`, {
        at: "--shape",
        hint: `inputs: ${model.inputs.map((i) => i.name).join(", ")}`,
      });
  // An element type seec does not read (string, complex, float8...) is the first thing to say (before shapes it may not read either).
  for (const input of model.inputs)
    if (!input.dtype)
      throw new SeecError(
        "unsupported.onnx_dtype",
        `input "${input.name}" has element type ${input.elementType}, which seec does not read`,
        { file: model.file },
      );
  const symbols = new Map<string, number>();
  for (const input of model.inputs) {
    const given = shapes[input.name];
    if (!given) continue;
    if (given.length !== input.dims.length)
      throw new SeecError(
        "usage.shape",
        `--shape ${input.name} has ${given.length} dimensions; the input has ${input.dims.length} ([${input.dims.join(", ")}])`,
        { at: "--shape" },
      );
    input.dims.forEach((d, i) => {
      if (typeof d === "number" && d !== given[i])
        throw new SeecError("usage.shape", `--shape ${input.name}: dimension ${i} is fixed at ${d} in the graph, not ${given[i]}`, {
          at: "--shape",
        });
      if (typeof d === "string" && d) symbols.set(d, given[i]);
    });
  }
  const defaulted = new Set<string>();
  const inputs = model.inputs.map((input): BoundInput => {
    const dtype = input.dtype!;
    const shape =
      shapes[input.name] ??
      input.dims.map((d, i) => {
        if (typeof d === "number") return d;
        const bound = d ? symbols.get(d) : undefined;
        if (bound !== undefined) return bound;
        defaulted.add(d || `${input.name}[${i}]`);
        return 1;
      });
    const elements = shape.reduce((a, b) => a * b, 1);
    if (elements > MAX_ELEMENTS)
      throw new SeecError(
        "usage.shape",
        `input ${input.name} bound to ${shape.join("x")} has ${elements} elements; seec's wasm32 targets hold at most ${MAX_ELEMENTS} (1 GiB of float32) in one tensor`,
        { at: "--shape" },
      );
    return { name: input.name, dtype, shape };
  });
  return { inputs, defaulted: [...defaulted], given: Object.keys(shapes).length > 0 };
}

export function onnxGraph(name: string, model: OnnxModel, binding: Binding): LoweredGraph {
  try {
    return lowerGraph(name, model, binding);
  } catch (e) {
    if (!(e instanceof SeecError) || e.code !== "internal.ir") throw inModelFile(e, model.file);
    // Shapes that do not add up come from inputs bound inconsistently (most often a dimension left at 1).
    // With every dimension the graph's own, the graph is at fault, not --shape.
    if (!binding.given && binding.defaulted.length === 0)
      throw new SeecError("input.onnx", `the graph's shapes do not fit together: ${e.message}`, { file: model.file, at: e.at });
    const bound = binding.inputs.map((i) => `${i.name}=${i.shape.join("x") || "(scalar)"}`).join(" ");
    throw new SeecError("usage.shape", `the input shapes do not fit together: ${e.message} (at ${e.at ?? "?"})`, {
      at: "--shape",
      hint: `bound: ${bound}${binding.defaulted.length ? `; set to 1: ${binding.defaulted.join(", ")}` : ""}`,
    });
  }
}

/** The IR graph, how many decomposed patterns became each fused op, and each graph output's element type as folding found it. */
export interface LoweredGraph {
  graph: Graph;
  fused: Record<string, number>;
  outputTypes: Record<string, OnnxTensor["dtype"]>;
}

function lowerGraph(name: string, model: OnnxModel, binding: Binding): LoweredGraph {
  checkOps(model);
  const { values, constant, nodes } = foldGraph(model, binding.inputs);
  const fused = fuseOnnx({ ...model, nodes }, values, constant);

  const b = new GraphBuilder(name, { family: "graph", config: {} });
  const used = new Set([...fused.nodes.flatMap((n) => n.inputs), ...model.outputs.map((o) => o.name)]);
  // Transposes of 2-D constants (perm absent or [1, 0]), for a MatMul to read the constant they transpose.
  const transposeOf = new Map(
    fused.nodes
      .filter(
        (n) =>
          n.op === "Transpose" &&
          !n.domain &&
          constant.has(n.inputs[0]) &&
          values.get(n.inputs[0])!.shape.length === 2 &&
          (n.attrs.perm === undefined || String(n.attrs.perm) === "1,0"),
      )
      .map((n) => [n.outputs[0], n.inputs[0]]),
  );
  const lowerer = new Lowerer(b, values, constant, used, model.opsets.get("") ?? 1, new Set(model.outputs.map((o) => o.name)), transposeOf);
  for (const input of binding.inputs) lowerer.bindInput(input.name, b.input(input.name, isFloat(input.dtype) ? "f32" : "i32", input.shape));
  for (const node of fused.nodes) {
    if (node.outputs.every((o) => !o || constant.has(o))) continue;
    const lower = loweringOf(node);
    if (!lower)
      throw new SeecError(
        "unsupported.onnx_op",
        `node ${node.name} (${node.op}) computes from the inputs at run time, which seec cannot compile yet`,
        { file: model.file, at: `node ${node.name}` },
      );
    lowerer.lower(node, lower);
  }
  for (const output of model.outputs) b.output(lowerer.output(output.name));
  const attention = fuseAttention(b.finish());
  return {
    graph: attention.graph,
    fused: { ...fused.counts, ...(attention.fused ? { Attention: attention.fused } : {}) },
    outputTypes: Object.fromEntries(model.outputs.map((o) => [o.name, values.get(o.name)!.dtype])),
  };
}
