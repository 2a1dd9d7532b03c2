/** The ONNX frontend: read, check ops, bind shapes, fold, lower (see lower.ts). */
import { SeecError } from "../../../runtime/errors.js";
import type { ElementType, Graph } from "../../ir/graph.js";
import { Interpreter } from "../../ir/interpreter.js";
import { rng } from "../../util/random.js";
import { statefulDecoder, type StatefulDecoder } from "./decoder-state.js";
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
  decoder?: DecoderBuild,
): Promise<OnnxLoad> {
  const model = await readOnnx(file);
  return decoder ? lowerOnnxDecoder(model, name, shapes, decoder) : lowerOnnx(model, name, shapes);
}

/** A stateful decoder's build: its context and the most tokens a call takes (prompt chunks). */
export interface DecoderBuild {
  context?: number;
  maxChunk?: number;
}

/** Tokens a call when the build does not say: prompts in chunks of up to this many. */
export const DEFAULT_DECODER_CHUNK = 32;

/**
 * A decoder with past/present pairs as a stateful decoder (decoder-state.ts): `tokens` and `pos`
 * in, `logits` out, the KV caches in the module's memory, as a llama2.c artifact. A call takes up to
 * maxChunk tokens (the rewrites at several token counts merged, as onnx/dynamic.ts merges an
 * encoder's lengths); a graph whose attention seec cannot show causal among new tokens takes one.
 */
export function lowerOnnxDecoder(
  model: OnnxModel,
  name: string,
  shapes: Readonly<Record<string, InputShape>>,
  opts: DecoderBuild,
): OnnxLoad {
  if (Object.keys(shapes).length > 0)
    throw new SeecError(
      "usage.shape",
      "--decoder builds the graph for the tokens of a call over a KV cache of --context rows: drop --shape",
      {
        at: "--shape",
      },
    );
  if (opts.maxChunk !== undefined && opts.maxChunk !== 1 && !(opts.maxChunk >= MIN_DYNAMIC_MAX))
    throw new SeecError(
      "usage.max_chunk",
      `an ONNX decoder takes 1 token a call or ${MIN_DYNAMIC_MAX} and more; --max-chunk is ${opts.maxChunk}`,
      { at: "--max-chunk" },
    );
  checkOps(model);
  // One token a call first: its rewrite refuses what no chunk size could take, and gives the context.
  const one = statefulDecoder(model, { context: opts.context, tokens: 1 });
  // No more tokens a call than the context holds; a context too short for chunks takes one token a call.
  const most = Math.min(opts.maxChunk ?? DEFAULT_DECODER_CHUNK, one.context);
  const chunk = most >= MIN_DYNAMIC_MAX ? most : 1;
  const notes: string[] = [];
  let built: { decoder: StatefulDecoder; load: OnnxLoad; chunk: number } | undefined;
  if (chunk > 1)
    try {
      const load = lowerAtLengths(chunk, "the tokens of a call", model.file, (T) =>
        lowerOnnx((T === 1 ? one : statefulDecoder(model, { context: opts.context, tokens: T })).model, name, {}),
      );
      const why = chunksDiffer(load.graph, one.vocabSize ?? 1);
      if (why) notes.push(`prompts run one token a call: ${why}`);
      else built = { decoder: one, load, chunk };
    } catch (e) {
      if (!(e instanceof SeecError) || e.code.startsWith("internal.")) throw e;
      notes.push(`prompts run one token a call: ${e.message}`);
    }
  built ??= { decoder: one, load: lowerOnnx(one.model, name, {}), chunk: 1 };
  const { decoder, load } = built;
  const logits = load.graph.values.get("logits")!;
  load.graph.model = {
    family: "decoder",
    config: {
      // Ids the embedding reads that sampling can give (a graph whose output is a hidden state has fewer).
      vocabSize: Math.min(decoder.vocabSize ?? Infinity, logits.shape[0] as number),
      contextLength: decoder.context,
      maxChunk: built.chunk,
      nLayers: decoder.layers,
    },
  };
  return { ...load, notes: [...decoder.notes, ...notes] };
}

/**
 * Why calls of several tokens would not give the logits of as many calls of one, if they would not:
 * the merged graph run by the interpreter on two calls of two tokens against four calls of one
 * (random ids below `vocab`, from position 0). What the graph computes from the past's length for
 * one token (a position from Shape(past), one for the whole call) shows here, not in the masks.
 */
function chunksDiffer(graph: Graph, vocab: number): string | undefined {
  const r = rng(7);
  const ids = Array.from({ length: 4 }, () => Math.floor(r() * vocab));
  const chunks = new Interpreter(graph),
    single = new Interpreter(graph);
  const logits = (run: Interpreter, tokens: number[], pos: number) =>
    run.run({ tokens: Int32Array.from(tokens), pos: Int32Array.of(pos) }).logits.data as Float32Array;
  for (const pos of [0, 2]) {
    const a = logits(chunks, ids.slice(pos, pos + 2), pos);
    logits(single, [ids[pos]], pos);
    const b = logits(single, [ids[pos + 1]], pos + 1);
    let top = 0,
      diff = 0;
    for (let i = 0; i < b.length; i++) {
      top = Math.max(top, Math.abs(b[i]));
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
    }
    if (!(diff <= 1e-3 * Math.max(top, 1e-6)))
      return `two tokens a call at position ${pos} give logits ${diff.toPrecision(2)} off those of one token a call (largest ${top.toPrecision(2)}): the graph computes positions or masks for one token a call`;
  }
  return undefined;
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
  const load = lowerAtLengths(dynamic.max, dynamic.what, model.file, (T) => lowerFixed(model, name, at(T)));
  return { ...load, notes: [`${dynamic.what} stays symbolic (T), from 1 to ${dynamic.max}`] };
}

/**
 * The lowerings at probeLengths(max) merged into one graph whose T runs from 1 to max (onnx/dynamic.ts):
 * the first, at the maximum, is the base; a refusal at a shorter length says which.
 */
function lowerAtLengths(max: number, what: string, file: string, lowerAt: (T: number) => OnnxLoad): OnnxLoad {
  const [longest, ...others] = probeLengths(max);
  const base = lowerAt(longest);
  // The other lowerings are read for their numbers: their weights (the same as the base's) are let go as each is made.
  const probes = others.map((T) => {
    try {
      return withoutWeights(lowerAt(T).graph, base.graph);
    } catch (e) {
      // The graph holds at the maximum but not at a shorter length (an index or slice past its end).
      if (!(e instanceof SeecError) || e.code.startsWith("internal.")) throw e;
      throw new SeecError("unsupported.dynamic_shape", `${what} cannot stay symbolic: at ${T} token${T > 1 ? "s" : ""}, ${e.message}`, {
        file,
        at: e.at,
        hint: "build at a fixed length (--shape with a number)",
      });
    }
  });
  return { ...base, graph: mergeLowerings([base.graph, ...probes], max, what, file) };
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
