/** What every op in the registry provides: its shape rule and its reference semantics. */
import { SeecError } from "../../../runtime/errors.js";
import type { Attrs, Dim, Shape, TensorData, ValueType } from "../graph.js";

/** A concrete tensor, as the reference interpreter sees it. */
export interface Tensor {
  shape: number[];
  data: TensorData;
}

export interface OpDef {
  /** Output types from input types and attributes; throws on inputs that do not fit. */
  infer(inputs: readonly ValueType[], attrs: Attrs, node: string): ValueType[];
  /** Reference semantics, written for clarity: the oracle every kernel is tested against. */
  run(inputs: readonly Tensor[], attrs: Attrs): Tensor[];
  /** Inputs (by position) that the op updates in place: state such as the KV cache. */
  writes?: readonly number[];
}

export function num(attrs: Attrs, key: string): number {
  const v = attrs[key];
  if (typeof v !== "number") throw new SeecError("internal.ir", `attribute "${key}" must be a number`);
  return v;
}

export function fail(node: string, message: string): never {
  throw new SeecError("internal.ir", message, { at: `node ${node}` });
}

export function sameDim(a: Dim, b: Dim): boolean {
  return a === b;
}

export function expectRank(node: string, what: string, shape: Shape, rank: number): void {
  if (shape.length !== rank) fail(node, `${what} must have rank ${rank}, got [${shape.join(", ")}]`);
}

export function f32(t: Tensor): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new SeecError("internal.ir", "expected an f32 tensor");
  return t.data;
}

export function i32(t: Tensor): Int32Array {
  if (!(t.data instanceof Int32Array)) throw new SeecError("internal.ir", "expected an i32 tensor");
  return t.data;
}
