/** What every op in the registry provides: its shape rule and its reference semantics. */
import { SeecError } from "../../../runtime/errors.js";
import type { Attrs, Shape, TensorData, ValueType } from "../graph.js";

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
  /**
   * Reverse mode (compiler/ir/autodiff.ts): the gradient of each input that `wants` asks for,
   * from the forward pass's tensors and the gradient of each output. Ops without it cannot be
   * differentiated through (the int8 family, the entangled ops, imported graphs' tensor ops).
   */
  vjp?(step: VjpStep): (Float32Array | undefined)[];
}

/** One node's forward tensors and its outputs' gradients (undefined where no loss reaches). */
export interface VjpStep {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  dOutputs: readonly (Float32Array | undefined)[];
  attrs: Attrs;
  /** Per input: whether its gradient is needed. */
  wants: readonly boolean[];
}

/** The first output's gradient, or zeros where no loss reaches it. */
export function dOut(step: VjpStep, i = 0): Float32Array {
  return step.dOutputs[i] ?? new Float32Array(step.outputs[i].data.length);
}

export function num(attrs: Attrs, key: string): number {
  const v = attrs[key];
  if (typeof v !== "number") throw new SeecError("internal.ir", `attribute "${key}" must be a number`);
  return v;
}

/** A number attribute that may be absent (then `fallback`). */
export function optionalNum(attrs: Attrs, key: string, fallback: number): number {
  return attrs[key] === undefined ? fallback : num(attrs, key);
}

/** A list-of-numbers attribute. */
export function nums(attrs: Attrs, key: string): readonly number[] {
  const v = attrs[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number"))
    throw new SeecError("internal.ir", `attribute "${key}" must be a list of numbers`);
  return v;
}

/** A string attribute, one of `allowed`'s keys. */
export function oneOf<K extends string>(attrs: Attrs, key: string, allowed: Readonly<Record<K, unknown>>): K {
  const v = attrs[key];
  if (typeof v !== "string" || !Object.hasOwn(allowed, v))
    throw new SeecError("internal.ir", `attribute "${key}" must be one of ${Object.keys(allowed).join(", ")}, got ${String(v)}`);
  return v as K;
}

export function fail(node: string, message: string): never {
  throw new SeecError("internal.ir", message, { at: `node ${node}` });
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
