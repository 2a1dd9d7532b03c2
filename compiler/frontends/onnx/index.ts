/** The ONNX frontend: read, check ops, bind shapes, fold, lower (see lower.ts). */
import { SeecError } from "../../../runtime/errors.js";
import type { ElementType, Graph } from "../../ir/graph.js";
import { Interpreter } from "../../ir/interpreter.js";
import { fuseMaps } from "../../passes/fuse-maps.js";
import { rng } from "../../util/random.js";
import { statefulDecoder, type StatefulDecoder } from "./decoder-state.js";
import { MIN_DYNAMIC_MAX, mergeLowerings, probeLengths } from "./dynamic.js";
import { bindInputs, onnxGraph } from "./lower.js";
import { readOnnx, type OnnxModel } from "./read.js";
import { isSeecDecoder, seecDecoder } from "./seec-export.js";
import { rowsDiffer } from "./rows.js";
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

/**
 * `decoder`: --decoder's build, a graph with past/present pairs made stateful. A decoder seec
 * exported reads back as one with or without it, sized by `sizes` (the build's --context and
 * --max-chunk).
 */
export async function loadOnnx(
  file: string,
  name: string,
  shapes: Readonly<Record<string, InputShape>>,
  decoder?: DecoderBuild,
  sizes: DecoderBuild = decoder ?? {},
): Promise<OnnxLoad> {
  const model = await readOnnx(file);
  const load = isSeecDecoder(model)
    ? lowerSeecDecoder(model, name, shapes, sizes)
    : decoder
      ? lowerOnnxDecoder(model, name, shapes, decoder)
      : lowerOnnx(model, name, shapes);
  // On the graph as built, whatever lengths it was lowered at (dynamic.ts compares lowerings op by op).
  const maps = fuseMaps(load.graph);
  return { ...load, graph: maps.graph, fused: { ...load.fused, ...maps.fused } };
}

/** A stateful decoder's build: its context and the most tokens a call takes (prompt chunks). */
export interface DecoderBuild {
  context?: number;
  maxChunk?: number;
}

/** Tokens a call when the build does not say: prompts in chunks of up to this many. */
export const DEFAULT_DECODER_CHUNK = 32;

/** A symbolic token count is checked at MIN_DYNAMIC_MAX lengths: a call takes one token, or at least that many. */
function checkMaxChunk(maxChunk: number | undefined): void {
  if (maxChunk !== undefined && maxChunk !== 1 && !(maxChunk >= MIN_DYNAMIC_MAX))
    throw new SeecError("usage.max_chunk", `a call takes 1 token or ${MIN_DYNAMIC_MAX} and more; --max-chunk is ${maxChunk}`, {
      at: "--max-chunk",
    });
}

/** Tokens a call: --max-chunk (32 unless given), no more than the context holds; a context too short for chunks takes one. */
function tokensPerCall(maxChunk: number | undefined, context: number): number {
  const most = Math.min(maxChunk ?? DEFAULT_DECODER_CHUNK, context);
  return most >= MIN_DYNAMIC_MAX ? most : 1;
}

/**
 * A decoder seec exported (seec-export.ts), its caches back in the module: the same artifact as a
 * build of the model itself. The context is the caches' rows, or fewer (--context); a call takes up
 * to --max-chunk tokens (32 unless given, at most the context).
 */
function lowerSeecDecoder(model: OnnxModel, name: string, shapes: Readonly<Record<string, InputShape>>, opts: DecoderBuild): OnnxLoad {
  if (Object.keys(shapes).length > 0)
    throw new SeecError(
      "usage.shape",
      "this is a decoder seec exported: it takes up to --max-chunk tokens a call over its KV caches; drop --shape",
      {
        file: model.file,
        at: "--shape",
      },
    );
  const decoder = seecDecoder(model, opts.context);
  const { rows } = decoder;
  const notes: string[] = [];
  if (opts.context !== undefined && opts.context > rows)
    notes.push(`--context ${opts.context} is more than the exported caches' ${rows} rows: its context is ${rows}`);
  if (opts.maxChunk !== undefined && opts.maxChunk > decoder.context)
    notes.push(
      `--max-chunk ${opts.maxChunk} is more than the context (${decoder.context}): a call takes at most ${decoder.context} tokens`,
    );
  checkMaxChunk(opts.maxChunk);
  const chunk = tokensPerCall(opts.maxChunk, decoder.context);
  checkOps(decoder.model);
  let load: OnnxLoad;
  try {
    load =
      chunk === 1
        ? lowerOnnx(decoder.model, name, { tokens: [1] })
        : lowerAtLengths(chunk, "the tokens of a call", model.file, (T) => lowerOnnx(decoder.model, name, { tokens: [T] }));
  } catch (e) {
    // The build bound the token count itself: shapes that do not fit are the file's, not --shape's.
    if (!(e instanceof SeecError) || e.code !== "usage.shape") throw e;
    throw new SeecError(
      "input.onnx",
      e.message.replace(/^the input shapes do not fit together/, "the graph's shapes do not fit together"),
      {
        file: model.file,
        at: e.message.match(/\(at ([^)]*)\)$/)?.[1],
      },
    );
  }
  const logits = load.graph.values.get("logits")!;
  load.graph.model = {
    family: "decoder",
    config: { vocabSize: logits.shape.at(-1) as number, contextLength: decoder.context, maxChunk: chunk, nLayers: decoder.layers },
  };
  return { ...load, notes: [`a decoder seec exported: its ${decoder.layers} layers' KV caches kept in the module`, ...notes] };
}

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
  checkMaxChunk(opts.maxChunk);
  checkOps(model);
  // One token a call first: its rewrite refuses what no chunk size could take, and gives the context.
  const one = statefulDecoder(model, { context: opts.context, tokens: 1 });
  const chunk = tokensPerCall(opts.maxChunk, one.context);
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
  const marked = markedDimensions(model, shapes);
  if (marked.length === 0) return lowerFixed(model, name, shapes as Readonly<Record<string, number[]>>);
  checkOps(model);
  // Two marked: one leads (markedDimensions), the batch, and the other is the length.
  const batch = marked.find(leads);
  if (marked.length === 2)
    return lowerRows(
      model,
      name,
      shapes,
      batch!,
      marked.find((m) => m !== batch),
    );
  const [dim] = marked;
  if (!batch) return lowerLength(model, name, shapes, dim);
  // A leading dimension stays symbolic through the graph where it can, and runs row by row as a
  // batch where it cannot (a batch that the graph flattens with the sequence; a maximum below 5).
  try {
    return lowerLength(model, name, shapes, dim);
  } catch (e) {
    if (!(e instanceof SeecError) || !(e.code === "unsupported.dynamic_shape" || e.code === "usage.shape")) throw e;
    return lowerRows(model, name, shapes, dim, undefined, e);
  }
}

/** `dim` symbolic through the graph, as T from 1 to its maximum (onnx/dynamic.ts); any other marks already bound. */
function lowerLength(model: OnnxModel, name: string, shapes: Readonly<Record<string, InputShape>>, dim: Marked): OnnxLoad {
  if (dim.max < MIN_DYNAMIC_MAX) usage(`a symbolic dimension's maximum must be at least ${MIN_DYNAMIC_MAX}; give a fixed size below that`);
  const load = lowerAtLengths(dim.max, dim.what, model.file, (T) => lowerFixed(model, name, asBound(bindMark(shapes, dim, T))));
  return { ...load, notes: [`${dim.what} stays symbolic (T), from 1 to ${dim.max}`] };
}

/**
 * `batch` run row by row (onnx/rows.ts): the graph built for one row (`length`, where marked too,
 * symbolic through it), checked against the graph built for two.
 */
function lowerRows(
  model: OnnxModel,
  name: string,
  shapes: Readonly<Record<string, InputShape>>,
  batch: Marked,
  length?: Marked,
  /** Why the dimension cannot stay symbolic through the graph, where that was tried first. */
  before?: SeecError,
): OnnxLoad {
  const refuse = (message: string): never => {
    if (before)
      throw new SeecError(before.code, `${before.message}; nor can it run row by row as a batch: ${message}`, {
        file: before.file,
        at: before.at,
        hint: before.hint,
      });
    throw new SeecError("unsupported.dynamic_shape", `${batch.what} cannot run row by row: ${message}`, {
      file: model.file,
      hint: "build at a fixed batch size (--shape with a number)",
    });
  };
  const inputs = model.inputs.flatMap(({ name: input, dims }) => {
    const marked = batch.at.some((m) => m.input === input);
    const axes = batch.name ? dims.flatMap((d, axis) => (d === batch.name ? [axis] : [])) : [];
    if (axes.some((axis) => axis > 0)) refuse(`input "${input}" has it at dimension ${axes.find((axis) => axis > 0)}, not first`);
    return marked || axes.length > 0 ? [input] : [];
  });
  const one = bindMark(shapes, batch, 1);
  const load = length ? lowerLength(model, name, one, length) : lowerFixed(model, name, asBound(one));
  const read = inputs.filter((i) => load.graph.inputs.includes(i));
  if (read.length === 0) refuse("no input the graph reads holds it");
  // Two rows, at two lengths where the length is symbolic too (3 and 4: an odd and an even count).
  const twos = (length ? [3, 4].map((T) => bindMark(shapes, length, T)) : [shapes]).map(
    (probe) => lowerFixed(model, name, asBound(bindMark(probe, batch, 2))).graph,
  );
  const why = rowsDiffer(load.graph, twos, read);
  if (why) refuse(why);
  load.graph.model = { ...load.graph.model, rows: { name: batch.name || `${batch.at[0].input}[0]`, max: batch.max, inputs: read } };
  return { ...load, notes: [...(load.notes ?? []), `${batch.what} runs row by row, 1 to ${batch.max} rows a call`] };
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

/** A dimension --shape marks `?max`: the inputs' axes that hold it, its name in the graph ("" where none), its maximum. */
interface Marked {
  what: string;
  name: string;
  max: number;
  at: { input: string; axis: number }[];
}

const usage = (message: string): never => {
  throw new SeecError("usage.shape", message, { at: "--shape" });
};
const marks = (dims: readonly Marked[]) => dims.flatMap((d) => d.at.map((m) => `${m.input}[${m.axis}]`)).join(", ");
/** Whether a dimension is the first of every input --shape marks it on: a batch. */
const leads = (dim: Marked) => dim.at.every((m) => m.axis === 0);

/** `shapes` with the marks of `dim` bound to `size`. */
function bindMark(shapes: Readonly<Record<string, InputShape>>, dim: Marked, size: number): Record<string, InputShape> {
  return Object.fromEntries(
    Object.entries(shapes).map(([input, dims]) => [
      input,
      dims.map((d, axis) => (dim.at.some((m) => m.input === input && m.axis === axis) ? size : d)),
    ]),
  );
}

/** Shapes whose marks are all bound to sizes, as the type lowerFixed takes. */
const asBound = (shapes: Readonly<Record<string, InputShape>>) => shapes as Readonly<Record<string, number[]>>;

/**
 * The dimensions --shape leaves symbolic (`?max`), one entry per dimension: the marks on axes the
 * graph gives one name are one dimension (an anonymous axis is its own). At most two: one through
 * the graph and a batch run row by row.
 */
function markedDimensions(model: OnnxModel, shapes: Readonly<Record<string, InputShape>>): Marked[] {
  const marked = Object.entries(shapes).flatMap(([input, dims]) =>
    dims.flatMap((d, axis) => (typeof d === "number" ? [] : [{ input, axis, max: d.max }])),
  );
  const dimName = ({ input, axis }: { input: string; axis: number }) => {
    const d = model.inputs.find((i) => i.name === input)?.dims[axis];
    if (typeof d === "number")
      usage(`--shape ${input}: dimension ${axis} is fixed at ${d} in the graph; only a symbolic one can stay symbolic`);
    return (d as string | undefined) ?? "";
  };
  const dims: Marked[] = [];
  for (const m of marked) {
    const name = dimName(m);
    const same = name ? dims.find((d) => d.name === name) : undefined;
    if (same && same.max !== m.max) usage("the dimensions marked ? must have one maximum: they are one dimension");
    if (same) same.at.push({ input: m.input, axis: m.axis });
    else
      dims.push({
        what: `${m.input}'s dimension ${m.axis}${name ? ` ("${name}")` : ""}`,
        name,
        max: m.max,
        at: [{ input: m.input, axis: m.axis }],
      });
  }
  for (const m of marked) if (!(m.max >= 1)) usage(`--shape ${m.input}: dimension ${m.axis} is marked ?${m.max}; a maximum is at least 1`);
  if (dims.length > 2 || (dims.length === 2 && dims.filter(leads).length !== 1))
    usage(
      `one dimension can stay symbolic per build, and a batch beside it (the first dimension of every input that has it); --shape marks ${marks(dims)}, which the graph does not name as one`,
    );
  // An input given a number where it names a marked dimension would be bound to that number and the others not.
  for (const dim of dims)
    for (const [input, sizes] of Object.entries(shapes))
      sizes.forEach((d, axis) => {
        if (typeof d === "number" && dim.name && model.inputs.find((i) => i.name === input)?.dims[axis] === dim.name)
          usage(
            `--shape ${input}: dimension ${axis} is "${dim.name}", which ${dim.at[0].input} keeps symbolic: write it ?${dim.max} too, or leave ${input} out`,
          );
      });
  return dims;
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
