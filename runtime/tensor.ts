/**
 * run()'s outputs as ONNX Runtime's Tensor gives them (`.data`, `.dims`, `.type`), while staying
 * the typed arrays seec has always returned: each output is its data, with `data` (itself), `dims`
 * (the call's shape, symbolic dimensions bound) and `type` added as non-enumerable properties, so
 * code written for either keeps working, and the array compares, copies and prints as before.
 */
import type { Tensor, TensorData, TensorType } from "./artifact.js";
import { SeecError } from "./errors.js";
import type { TensorSpec } from "./manifest.js";

// The types are defined once, in the typings every artifact ships (artifact.d.ts).
export type { Tensor, TensorData, TensorType } from "./artifact.js";

/** An element type a caller exchanges where it differs from the dtype seec computes in (TensorSpec.elementType). */
export type ElementType = NonNullable<TensorSpec["elementType"]>;

/**
 * The typed array each element type travels in, as ONNX Runtime's JavaScript API holds it; float16
 * and bfloat16 travel widened, in a Float32Array. Integers compute in i32 and floats in f32.
 */
export const ELEMENT_ARRAYS: Readonly<Record<ElementType, new (n: number) => TensorData>> = {
  int64: BigInt64Array,
  uint64: BigUint64Array,
  uint32: Uint32Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  float64: Float64Array,
  float16: Float32Array,
  bfloat16: Float32Array,
};

/** The typed array a tensor of `spec` travels in: its element type's, else its dtype's. */
export function arrayOf(spec: Pick<TensorSpec, "dtype" | "elementType">): new (n: number) => TensorData {
  return spec.elementType ? ELEMENT_ARRAYS[spec.elementType] : spec.dtype === "i32" ? Int32Array : Float32Array;
}

const TYPES = new Map<unknown, TensorType>([
  [Float32Array, "float32"],
  [Int32Array, "int32"],
  [BigInt64Array, "int64"],
  [BigUint64Array, "uint64"],
  [Uint32Array, "uint32"],
  [Int16Array, "int16"],
  [Uint16Array, "uint16"],
  [Uint8Array, "uint8"],
  [Int8Array, "int8"],
  [Float64Array, "float64"],
]);

/** `data` as a Tensor of `dims`; `bool` marks a Uint8Array of booleans (ONNX's bool). */
export function tensor<T extends TensorData>(data: T, dims: readonly number[], bool = false): Tensor<T> {
  const type = bool ? "bool" : TYPES.get(data.constructor);
  if (!type) throw new SeecError("internal.tensor", `no tensor type for a ${data.constructor.name}`);
  return Object.defineProperties(data, {
    data: { value: data },
    dims: { value: Object.freeze([...dims]) },
    type: { value: type },
  }) as Tensor<T>;
}
