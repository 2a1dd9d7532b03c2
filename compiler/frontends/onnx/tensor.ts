/**
 * ONNX tensors as the frontend computes with them: floating types in a Float32Array (float16 and
 * bfloat16 widened exactly; an op computes in float32 and its 16-bit outputs are rounded back),
 * integer and boolean types in a Float64Array (exact to 2^53: ids, shapes, indices, masks).
 */
import type { onnx } from "onnx-proto";
import { SeecError } from "../../../runtime/errors.js";
import { bf16ToFloat, halfToFloat, toBfloat16 } from "../../util/float16.js";

export type OnnxDType =
  "float32" | "float16" | "bfloat16" | "float64" | "int64" | "int32" | "int16" | "int8" | "uint8" | "uint16" | "uint32" | "uint64" | "bool";

export interface OnnxTensor {
  dtype: OnnxDType;
  shape: number[];
  data: Float32Array | Float64Array;
}

/** TensorProto.DataType numbers, by the dtypes seec reads. */
export const DATA_TYPES: Record<number, OnnxDType> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  16: "bfloat16",
};
export const DATA_TYPE_NUMBERS = Object.fromEntries(Object.entries(DATA_TYPES).map(([k, v]) => [v, Number(k)])) as Record<
  OnnxDType,
  number
>;

export const isFloat = (dtype: OnnxDType) => dtype === "float32" || dtype === "float16" || dtype === "bfloat16" || dtype === "float64";

export function tensor(dtype: OnnxDType, shape: number[], data?: ArrayLike<number>): OnnxTensor {
  const n = checkSize(shape, "a tensor");
  const out = isFloat(dtype) ? new Float32Array(n) : new Float64Array(n);
  if (data) out.set(data);
  return { dtype, shape, data: out };
}

const BYTES: Partial<Record<OnnxDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  bool: 1,
};

/**
 * The most elements one tensor may have: 1 GiB of float32, a quarter of what wasm32 addresses
 * (a model needs its input, its output and its weights beside any one tensor).
 */
export const MAX_ELEMENTS = 2 ** 28;

/** The elements of `shape`, refused as too large beyond MAX_ELEMENTS (or not whole numbers from 0). */
export function checkSize(shape: readonly number[], what: string): number {
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new SeecError("input.onnx", `${what} has shape [${shape.join(", ")}]; dimensions are whole numbers from 0`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMENTS)
    throw new SeecError(
      "unsupported.too_large",
      `${what} of shape [${shape.join(", ")}] has ${n} elements; seec's wasm32 targets hold at most ${MAX_ELEMENTS} (1 GiB of float32) in one tensor`,
    );
  return n;
}

export function fromProto(t: onnx.ITensorProto, file: string): OnnxTensor {
  const dtype = DATA_TYPES[t.dataType ?? 0];
  const name = t.name ?? "";
  if (!dtype)
    throw new SeecError("unsupported.onnx_dtype", `tensor "${name}" has element type ${t.dataType}, which seec does not read`, { file });
  const shape = (t.dims ?? []).map(Number);
  const bad = shape.findIndex((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad >= 0)
    throw new SeecError("input.onnx", `tensor "${name}" has dimension ${bad} of ${t.dims![bad]}; dimensions are whole numbers from 0`, {
      file,
    });
  const n = checkSize(shape, `tensor "${name}"`);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  let values: ArrayLike<number>;
  if (raw) {
    if (raw.length !== n * BYTES[dtype]!)
      throw new SeecError(
        "input.onnx",
        `tensor "${name}" has ${raw.length} bytes of data; ${dtype} [${shape.join(", ")}] needs ${n * BYTES[dtype]!}`,
        { file },
      );
    values = rawValues(dtype, new DataView(raw.buffer, raw.byteOffset, raw.byteLength), n);
  } else {
    const listed: ArrayLike<number | { toNumber(): number }> =
      dtype === "float32"
        ? (t.floatData ?? [])
        : dtype === "float64"
          ? (t.doubleData ?? [])
          : dtype === "int64"
            ? (t.int64Data ?? [])
            : dtype === "uint32" || dtype === "uint64"
              ? (t.uint64Data ?? [])
              : (t.int32Data ?? []);
    values = Array.from(listed, (v) => (typeof v === "number" ? v : v.toNumber()));
    if (dtype === "float16") values = Array.from(values, halfToFloat);
    if (dtype === "bfloat16") values = Array.from(values, bf16ToFloat);
    if (values.length !== n && !(values.length === 0 && n === 0))
      throw new SeecError("input.onnx", `tensor "${name}" lists ${values.length} values; [${shape.join(", ")}] needs ${n}`, { file });
  }
  const out = isFloat(dtype) ? new Float32Array(n) : new Float64Array(n);
  out.set(values);
  return { dtype, shape, data: out };
}

function rawValues(dtype: OnnxDType, view: DataView, n: number): ArrayLike<number> {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++)
    out[i] =
      dtype === "float32"
        ? view.getFloat32(4 * i, true)
        : dtype === "float16"
          ? halfToFloat(view.getUint16(2 * i, true))
          : dtype === "bfloat16"
            ? bf16ToFloat(view.getUint16(2 * i, true))
            : dtype === "float64"
              ? view.getFloat64(8 * i, true)
              : dtype === "int64"
                ? Number(view.getBigInt64(8 * i, true))
                : dtype === "uint64"
                  ? Number(view.getBigUint64(8 * i, true))
                  : dtype === "int32"
                    ? view.getInt32(4 * i, true)
                    : dtype === "uint32"
                      ? view.getUint32(4 * i, true)
                      : dtype === "int16"
                        ? view.getInt16(2 * i, true)
                        : dtype === "uint16"
                          ? view.getUint16(2 * i, true)
                          : dtype === "int8"
                            ? view.getInt8(i)
                            : view.getUint8(i);
  return out;
}

/**
 * A float16 or bfloat16 tensor's values rounded, in place, to what its type holds (ties to even),
 * as ONNX Runtime's 16-bit kernels store them; other tensors as they are.
 */
export function roundToType(t: OnnxTensor): OnnxTensor {
  if (t.dtype === "float16") roundHalf(t.data as Float32Array);
  if (t.dtype === "bfloat16") for (let i = 0; i < t.data.length; i++) t.data[i] = toBfloat16(t.data[i]);
  return t;
}

/** Rounds every value to the nearest float16 (ties to even), in place. */
export function roundHalf(xs: Float32Array): Float32Array {
  for (let i = 0; i < xs.length; i++) xs[i] = toHalf(xs[i]);
  return xs;
}

/** The value nearest x in float16 (ties to even): what a float16 output can hold. */
export function toHalf(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  // Spacing of float16 values around a: 2^(e - 10) for normal numbers, 2^-24 below 2^-14.
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.round(q);
  if (q - Math.floor(q) === 0.5 && Math.floor(q) % 2 === 0) r = Math.floor(q);
  return Math.sign(x) * r * ulp;
}
