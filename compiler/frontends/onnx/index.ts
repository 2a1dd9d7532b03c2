/** The ONNX frontend: read, check ops, bind shapes, fold, lower (see lower.ts). */
import { SeecError } from "../../../runtime/errors.js";
import type { ElementType, Graph } from "../../ir/graph.js";
import { statefulDecoder } from "./decoder-state.js";
import { MIN_DYNAMIC_MAX, mergeLowerings, probeLengths } from "./dynamic.js";
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

/** Element types a caller exchanges that differ from what seec computes in (f32 and i32): all but float32 and int32. */
const exchangedAs = (dtype: OnnxDType): ElementType | undefined => (dtype === "float32" || dtype === "int32" ? undefined : dtype);

export async function loadOnnx(
  file: string,
  name: string,
  shapes: Readonly<Record<string, InputShape>>,
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
  shapes: Readonly<Record<string, InputShape>>,
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

/**
 * An input's shape at build time: sizes, where one dimension may be `{ max }`, symbolic up to max
 * (`--shape input_ids=1x?128`): every input sharing that ONNX dimension follows it (onnx/dynamic.ts).
 */
export type InputShape = readonly (number | { max: number })[];

/** A model already read, as IR: ops checked, shapes bound, folded, lowered. */
export function lowerOnnx(model: OnnxModel, name: string, shapes: Readonly<Record<string, InputShape>>): OnnxLoad {
  const dynamic = dynamicDimension(model, shapes);
  if (!dynamic) return lowerFixed(model, name, shapes as Readonly<Record<string, number[]>>);
  checkOps(model);
  const at = (T: number) =>
    Object.fromEntries(Object.entries(shapes).map(([input, dims]) => [input, dims.map((d) => (typeof d === "number" ? d : T))]));
  const [longest, ...others] = probeLengths(dynamic.max);
  const base = lowerFixed(model, name, at(longest));
  // The other lowerings are read for their numbers: their weights (the same as the base's) are let go as each is made.
  const probes = others.map((T) => {
    try {
      return withoutWeights(lowerFixed(model, name, at(T)).graph, base.graph);
    } catch (e) {
      // The graph holds at the maximum but not at a shorter length (an index or slice past its end).
      if (!(e instanceof SeecError) || e.code.startsWith("internal.")) throw e;
      throw new SeecError(
        "unsupported.dynamic_shape",
        `${dynamic.what} cannot stay symbolic: at ${T} token${T > 1 ? "s" : ""}, ${e.message}`,
        {
          file: model.file,
          at: e.at,
          hint: "build at a fixed length (--shape with a number)",
        },
      );
    }
  });
  const graph = mergeLowerings([base.graph, ...probes], dynamic.max, dynamic.what, model.file);
  return { ...base, graph, notes: [`${dynamic.what} stays symbolic (T), from 1 to ${dynamic.max}`] };
}

/**
 * Constants above 64 Ki elements that hold the base graph's values at its shape (weights): their data
 * let go, mergeLowerings having nothing to compare there. One computed from the length keeps its data,
 * for mergeLowerings to refuse as it refuses a small one (compared by shape only, it was merged as the
 * maximum's values and read at every length).
 */
function withoutWeights(graph: Graph, base: Graph): Graph {
  for (const [name, v] of graph.values) {
    const b = base.values.get(name);
    if (v.kind === "const" && v.data && v.data.length > 65536 && b?.data && b.shape.join() === v.shape.join() && sameData(v.data, b.data))
      graph.values.set(name, { ...v, data: undefined });
  }
  return graph;
}

function sameData(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** The one dimension --shape leaves symbolic (`?max`), if any: where it is, and its maximum. */
function dynamicDimension(model: OnnxModel, shapes: Readonly<Record<string, InputShape>>): { what: string; max: number } | undefined {
  const marked = Object.entries(shapes).flatMap(([input, dims]) =>
    dims.flatMap((d, axis) => (typeof d === "number" ? [] : [{ input, axis, max: d.max }])),
  );
  if (marked.length === 0) return undefined;
  const usage = (message: string): never => {
    throw new SeecError("usage.shape", message, { at: "--shape" });
  };
  const dimName = ({ input, axis }: { input: string; axis: number }) => {
    const d = model.inputs.find((i) => i.name === input)?.dims[axis];
    if (typeof d === "number")
      usage(`--shape ${input}: dimension ${axis} is fixed at ${d} in the graph; only a symbolic one can stay symbolic`);
    return d ?? "";
  };
  const names = new Set(marked.map(dimName));
  const [first] = marked;
  if (marked.some((m) => m.max !== first.max)) usage("the dimensions marked ? must have one maximum: they are one dimension");
  if (names.size > 1 || (names.has("") && marked.length > 1))
    usage(
      `one dimension can stay symbolic per build; --shape marks ${marked.map((m) => `${m.input}[${m.axis}]`).join(", ")}, which the graph does not name as one`,
    );
  if (first.max < MIN_DYNAMIC_MAX)
    usage(`a symbolic dimension's maximum must be at least ${MIN_DYNAMIC_MAX}; give a fixed size below that`);
  const name = [...names][0];
  // An input given a number where it names the same dimension would be bound to that number and the others to T.
  for (const [input, dims] of Object.entries(shapes))
    dims.forEach((d, axis) => {
      if (typeof d === "number" && name && model.inputs.find((i) => i.name === input)?.dims[axis] === name)
        usage(
          `--shape ${input}: dimension ${axis} is "${name}", which ${first.input} keeps symbolic: write it ?${first.max} too, or leave ${input} out`,
        );
    });
  return { what: `${first.input}'s dimension ${first.axis}${name ? ` ("${name}")` : ""}`, max: first.max };
}

function lowerFixed(model: OnnxModel, name: string, shapes: Readonly<Record<string, number[]>>): OnnxLoad {
  checkOps(model);
  const binding = bindInputs(model, shapes);
  const { graph, fused, outputTypes } = onnxGraph(name, model, binding);
  const types = new Map([...binding.inputs.map((i) => [i.name, i.dtype] as const)]);
  // An output the graph declares no type for has the type folding found (a QuantizeLinear's uint8).
  for (const output of model.outputs) types.set(output.name, output.dtype ?? outputTypes[output.name]);
  for (const [tensor, dtype] of types) {
    const exchanged = exchangedAs(dtype);
    const v = graph.values.get(tensor);
    if (v && exchanged) v.elementType = exchanged;
  }
  return { graph, defaulted: binding.defaulted, fused };
}
