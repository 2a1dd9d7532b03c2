/**
 * run()'s outputs as ONNX Runtime's Tensor gives them (`.data`, `.dims`, `.type`), while staying
 * the typed arrays seec has always returned: each output is its data, with `data` (itself), `dims`
 * (the call's shape, symbolic dimensions bound) and `type` added as non-enumerable properties, so
 * code written for either keeps working, and the array compares, copies and prints as before.
 */
import { SeecError } from "./errors.js";

/** ONNX Runtime's names for the element types run() returns. */
export type TensorType = "float32" | "int32" | "int64" | "bool" | "uint8" | "int8" | "float64";

export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Float64Array;

/** An output: its typed array, which also says its shape and element type. */
export type Tensor<T extends TensorData = TensorData> = T & {
  readonly data: T;
  readonly dims: readonly number[];
  readonly type: TensorType;
};

const TYPES = new Map<unknown, TensorType>([
  [Float32Array, "float32"],
  [Int32Array, "int32"],
  [BigInt64Array, "int64"],
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
