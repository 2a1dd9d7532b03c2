/**
 * seec's intermediate representation: a graph of typed tensors with static shapes.
 *
 * A dimension is a number, or the name of a symbolic dimension (e.g. "T", the number of tokens
 * in one call) whose maximum is fixed at build time, so the memory plan is still static.
 * Nothing here knows which frontend built the graph.
 */
import { SeecError } from "../../runtime/errors.js";
import type { ElementType } from "../../runtime/tensor.js";
import type { OpName } from "./op-names.js";

export type DType = "f32" | "i32" | "i8";
export type Dim = number | string;
export type Shape = readonly Dim[];
export type TensorData = Float32Array | Int32Array | Int8Array;

/**
 * - input: fed by the caller on every call;
 * - const: weights, known at build time;
 * - state: persists between calls, owned by the module (the KV cache);
 * - activation: produced by a node (graph outputs are activations listed in `Graph.outputs`).
 */
export type ValueKind = "input" | "const" | "state" | "activation";

export interface ValueType {
  dtype: DType;
  shape: Shape;
}

export interface Value extends ValueType {
  name: string;
  kind: ValueKind;
  data?: TensorData;
  /**
   * The element type callers exchange for an input or output, where it differs from the dtype
   * seec computes in: integers (int64 ids, bool masks, int8 ... uint64) held as i32, floats
   * (float16, bfloat16, float64) as f32; exchanged in ONNX Runtime's typed arrays
   * (runtime/tensor.ts's ELEMENT_ARRAYS).
   */
  elementType?: ElementType;
}

export type { ElementType };

/** A list entry may be a·T + b of a symbolic dimension, written "a*T+b" (ir/affine.ts). */
export type AttrValue = number | string | readonly (number | string)[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface Node {
  name: string;
  op: OpName;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: Attrs;
}

/** What a runtime needs to know about the model beyond its tensors. */
export interface ModelInfo {
  /**
   * "decoder": tokens in, next-token logits out, with a KV cache. "encoder": one text's tokens in,
   * its embedding out. "graph": named tensors in and out, nothing assumed (an imported graph).
   */
  family: "decoder" | "encoder" | "graph";
  /** Architecture hyper-parameters, for people and for the runtime (e.g. contextLength). */
  config: Readonly<Record<string, number>>;
  bosId?: number;
  eosId?: number;
  /** An imported encoder's embedding (seec build --pooling): how embed() makes one vector from `output`. */
  embedding?: EmbeddingInfo;
  /**
   * An encoder that takes several texts a call (passes/pack-texts.ts): up to `texts` of them, `tokens`
   * tokens in all, packed end to end in `tokens` with their counts in `lengths`; a row of output each.
   */
  batch?: { texts: number; tokens: number };
  /**
   * An imported graph whose leading dimension `name` (its batch, up to `max`) runs row by row: the
   * graph is one row's, and each of `inputs` carries the batch at axis 0 (runtime/rows.ts).
   */
  rows?: { name: string; max: number; inputs: string[] };
}

/**
 * `output`: the graph output read, [1, tokens, hidden] (a last hidden state) or [1, hidden] (a pooled
 * output). `pooling`: the mean of the text's token rows (padding excluded), the first row ([CLS]), or
 * none (a pooled output as it is; a hidden state's token rows, concatenated). `normalize`: to unit length.
 */
export interface EmbeddingInfo {
  output: string;
  pooling: "mean" | "cls" | "none";
  normalize: boolean;
}

export interface Graph {
  name: string;
  values: Map<string, Value>;
  /** In execution order. */
  nodes: Node[];
  inputs: string[];
  outputs: string[];
  /** Symbolic dimensions and the largest value each may take. */
  dims: Record<string, { max: number }>;
  model: ModelInfo;
}

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, i32: 4, i8: 1 };

/**
 * A constant's values made when they are read rather than held: f32 values kept in the input file (a
 * checkpoint too large to hold while it builds: frontends/input-file.ts), or what a pass derives
 * from such a weight (its int8 or 4-bit rows, a weight layout's copy). `read()` reads or makes them
 * again at each call, and `readRange` a part of them. A value made from one (`deferredValue`) does
 * so whenever its `data` is read, so every pass and backend sees plain arrays, and the build holds
 * one such weight at a time (while it is written). Read `data` once per use, into a local; or part
 * by part with `readValues`.
 */
export interface DeferredData<T extends TensorData = Float32Array> {
  readonly length: number;
  read(): T;
  /** Values [from, from + count) alone (into the start of `into` where given, at least `count` long). */
  readRange?(from: number, count: number, into?: T): T;
}

const deferred = new WeakMap<Value, DeferredData<TensorData>>();

/** A const value whose `data` is `source.read()`, each time it is read. */
export function deferredValue<T extends TensorData>(name: string, shape: Shape, source: DeferredData<T>, dtype: DType = "f32"): Value {
  const v: Value = { name, kind: "const", dtype, shape };
  Object.defineProperty(v, "data", { get: () => source.read(), enumerable: true });
  deferred.set(v, source);
  return v;
}

/** Whether a value's data is read or made on demand (deferredValue; a copy made by spreading it holds its values). */
export function isDeferred(v: Value): boolean {
  return deferred.has(v);
}

/**
 * A buffer used again and again, grown when a use needs more: the parts of weights a pass reads
 * one after another go through one, rather than each through a buffer of its own that is dropped
 * (which, a few MiB at a time, left glibc's heap holding ~150 MiB after a 1.1B checkpoint's q4 pass).
 */
export class Scratch<T extends TensorData = Float32Array> {
  private buffer: T;
  constructor(private readonly make: (length: number) => T = (length) => new Float32Array(length) as T) {
    this.buffer = make(0);
  }
  /** `length` values, valid until the next take. */
  take(length: number): T {
    if (this.buffer.length < length) this.buffer = this.make(length);
    return this.buffer.subarray(0, length) as T;
  }
}

/**
 * Values [from, from + count) of a const f32 value: from its file alone where it is deferred and can
 * read a part (into `scratch` where given, so valid until its next use), else a view of its data.
 */
export function readValues(v: Value, from: number, count: number, scratch?: Scratch): Float32Array {
  const source = deferred.get(v) as DeferredData | undefined;
  if (source?.readRange) return source.readRange(from, count, scratch?.take(count));
  return (v.data as Float32Array).subarray(from, from + count);
}

/** A value's bytes, from its type: never reads a deferred value's data. */
export function valueBytes(v: ValueType, dims: Record<string, number> = {}): number {
  return elementCount(bindShape(v.shape, dims)) * DTYPE_BYTES[v.dtype];
}

export function value(graph: Graph, name: string): Value {
  const v = graph.values.get(name);
  if (!v) throw new SeecError("internal.ir", `tensor "${name}" is not in graph ${graph.name}`);
  return v;
}

/** Replaces symbolic dimensions by their bound values (by default, their maxima). */
export function bindShape(shape: Shape, dims: Record<string, number>): number[] {
  return shape.map((d) => {
    if (typeof d === "number") return d;
    const bound = dims[d];
    if (bound === undefined) throw new SeecError("internal.ir", `symbolic dimension "${d}" has no binding`);
    return bound;
  });
}

/** The node that produces each tensor, and the nodes that read it (a node reading a tensor twice listed once). */
export function graphIndex(graph: Graph): { producer: Map<string, Node>; readers: Map<string, Node[]> } {
  const producer = new Map<string, Node>(),
    readers = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of new Set(n.inputs)) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  return { producer, readers };
}

export function maxDims(graph: Graph): Record<string, number> {
  return Object.fromEntries(Object.entries(graph.dims).map(([k, { max }]) => [k, max]));
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function allocate(dtype: DType, length: number): TensorData {
  return dtype === "f32" ? new Float32Array(length) : dtype === "i8" ? new Int8Array(length) : new Int32Array(length);
}
