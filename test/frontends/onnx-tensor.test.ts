// compiler/frontends/onnx/tensor.ts: TensorProtos of every element type seec reads, raw and listed,
// against values written here byte by byte; the checks on shapes, sizes and data lengths with their
// messages; float16 rounding against compiler/util/float16.ts's bit-level conversion.
import { describe, expect, it } from "vitest";
import {
  checkSize,
  DATA_TYPE_NUMBERS,
  DATA_TYPES,
  fromProto,
  isFloat,
  MAX_ELEMENTS,
  roundHalf,
  tensor,
  toHalf,
  type OnnxDType,
} from "../../compiler/frontends/onnx/tensor.js";
import { floatToHalf, halfToFloat } from "../../compiler/util/float16.js";
import { rng } from "../helpers/random.js";
import { catchSeec } from "../helpers/errors.js";

const FILE = "/models/model.onnx";

/** Each element type: its TensorProto number, bytes per value, a DataView setter, and values it holds exactly. */
const TYPES: [OnnxDType, number, number, (v: DataView, at: number, x: number) => void, number[]][] = [
  ["float32", 1, 4, (v, at, x) => v.setFloat32(at, x, true), [1.5, -2.25, 3.4028234663852886e38, 1e-45]],
  ["uint8", 2, 1, (v, at, x) => v.setUint8(at, x), [0, 200, 255, 7]],
  ["int8", 3, 1, (v, at, x) => v.setInt8(at, x), [-128, 127, -1, 5]],
  ["uint16", 4, 2, (v, at, x) => v.setUint16(at, x, true), [65535, 258, 0, 40000]],
  ["int16", 5, 2, (v, at, x) => v.setInt16(at, x, true), [-32768, 32767, -2, 513]],
  ["int32", 6, 4, (v, at, x) => v.setInt32(at, x, true), [-2147483648, 2147483647, -3, 65536]],
  ["int64", 7, 8, (v, at, x) => v.setBigInt64(at, BigInt(x), true), [-(2 ** 53) + 1, 2 ** 53 - 1, -1, 4294967296]],
  ["bool", 9, 1, (v, at, x) => v.setUint8(at, x), [1, 0, 0, 1]],
  ["float16", 10, 2, (v, at, x) => v.setUint16(at, floatToHalf(x), true), [65504, -0.5, 2 ** -24, 1.0009765625]],
  ["float64", 11, 8, (v, at, x) => v.setFloat64(at, x, true), [0.1, -1e300, 5e-324, 2]],
  ["uint32", 12, 4, (v, at, x) => v.setUint32(at, x, true), [4294967295, 1, 0, 3000000000]],
  ["uint64", 13, 8, (v, at, x) => v.setBigUint64(at, BigInt(x), true), [2 ** 53 - 1, 0, 1, 2 ** 40]],
  // bfloat16: the high half of a float32's bits.
  [
    "bfloat16",
    16,
    2,
    (v, at, x) => v.setUint16(at, new Uint32Array(Float32Array.of(x).buffer)[0] >>> 16, true),
    [1, -3.140625, 2 ** -126, 3.3895313892515355e38],
  ],
];

/** What the frontend holds: float types in a Float32Array, the rest in a Float64Array. */
const held = (dtype: OnnxDType, xs: number[]) => (isFloat(dtype) ? Float32Array.from(xs) : Float64Array.from(xs));

describe("fromProto", () => {
  it.each(TYPES)("%s (TensorProto type %i) from raw little-endian bytes, shape [2, 2]", (dtype, number, bytes, set, xs) => {
    const raw = new Uint8Array(3 + xs.length * bytes).subarray(3); // not aligned to the value size
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    xs.forEach((x, i) => set(view, i * bytes, x));
    expect(DATA_TYPES[number]).toBe(dtype);
    expect(DATA_TYPE_NUMBERS[dtype]).toBe(number);
    expect(fromProto({ name: "t", dataType: number, dims: [2, 2], rawData: raw }, FILE)).toEqual({
      dtype,
      shape: [2, 2],
      data: held(dtype, xs),
    });
  });

  it("listed values: floatData, doubleData, int64Data, uint64Data (uint32 and uint64), int32Data (the rest, float16 and bfloat16 as their bits)", () => {
    const long = (x: number) => ({ toNumber: () => x, low: 0, high: 0, unsigned: false }) as never;
    const cases: [OnnxDType, Record<string, unknown>, number[]][] = [
      ["float32", { floatData: [1.5, -2] }, [1.5, -2]],
      ["float64", { doubleData: [0.1, 3] }, [0.1, 3]],
      ["int64", { int64Data: [long(-7), 2 ** 40] }, [-7, 2 ** 40]],
      ["uint32", { uint64Data: [4000000000, long(1)] }, [4000000000, 1]],
      ["uint64", { uint64Data: [long(2 ** 50), 0] }, [2 ** 50, 0]],
      ["int32", { int32Data: [-5, 6] }, [-5, 6]],
      ["int8", { int32Data: [-128, 127] }, [-128, 127]],
      ["uint8", { int32Data: [0, 255] }, [0, 255]],
      ["int16", { int32Data: [-300, 300] }, [-300, 300]],
      ["uint16", { int32Data: [65535, 1] }, [65535, 1]],
      ["bool", { int32Data: [1, 0] }, [1, 0]],
      ["float16", { int32Data: [0x3c00, 0xc000] }, [1, -2]],
      ["bfloat16", { int32Data: [0x3f80, 0xc049] }, [1, -3.140625]],
    ];
    for (const [dtype, data, want] of cases)
      expect(fromProto({ name: "t", dataType: DATA_TYPE_NUMBERS[dtype], dims: [2], ...data }, FILE), dtype).toEqual({
        dtype,
        shape: [2],
        data: held(dtype, want),
      });
    // A field of another type is not read: float32 values listed as int32Data are missing.
    expect(catchSeec(() => fromProto({ name: "t", dataType: 1, dims: [2], int32Data: [1, 2] }, FILE)).message).toBe(
      'tensor "t" lists 0 values; [2] needs 2',
    );
    // Empty raw data falls back to the listed values.
    expect(fromProto({ name: "t", dataType: 1, dims: [1], rawData: new Uint8Array(0), floatData: [4] }, FILE).data).toEqual(
      Float32Array.of(4),
    );
  });

  it("a scalar (no dims), an empty tensor with no data, and a tensor with no name", () => {
    expect(fromProto({ dataType: 7, int64Data: [9] }, FILE)).toEqual({ dtype: "int64", shape: [], data: Float64Array.of(9) });
    expect(fromProto({ name: "e", dataType: 1, dims: [3, 0] }, FILE)).toEqual({
      dtype: "float32",
      shape: [3, 0],
      data: new Float32Array(0),
    });
    expect(catchSeec(() => fromProto({ dataType: 1, dims: [2], floatData: [1] }, FILE)).message).toBe(
      'tensor "" lists 1 values; [2] needs 2',
    );
  });

  it("refuses element types seec does not read, negative or fractional dims, and data of the wrong length, naming the file", () => {
    for (const [type, shown] of [
      [8, "8"],
      [17, "17"],
      [0, "0"],
      [undefined, "undefined"],
    ] as const) {
      const e = catchSeec(() => fromProto({ name: "s", dataType: type, dims: [1] }, FILE));
      expect([e.code, e.message, e.file]).toEqual([
        "unsupported.onnx_dtype",
        `tensor "s" has element type ${shown}, which seec does not read`,
        FILE,
      ]);
    }
    const negative = catchSeec(() => fromProto({ name: "w", dataType: 1, dims: [2, -4], floatData: [] }, FILE));
    expect([negative.code, negative.message, negative.file]).toEqual([
      "input.onnx",
      'tensor "w" has dimension 1 of -4; dimensions are whole numbers from 0',
      FILE,
    ]);
    const unsafe = catchSeec(() => fromProto({ name: "w", dataType: 1, dims: [2 ** 53] }, FILE));
    expect(unsafe.message).toBe(`tensor "w" has dimension 0 of ${2 ** 53}; dimensions are whole numbers from 0`);
    const raw = catchSeec(() => fromProto({ name: "w", dataType: 7, dims: [2, 3], rawData: new Uint8Array(40) }, FILE));
    expect([raw.code, raw.message, raw.file]).toEqual(["input.onnx", 'tensor "w" has 40 bytes of data; int64 [2, 3] needs 48', FILE]);
    const listed = catchSeec(() => fromProto({ name: "w", dataType: 6, dims: [3], int32Data: [1, 2, 3, 4] }, FILE));
    expect([listed.code, listed.message, listed.file]).toEqual(["input.onnx", 'tensor "w" lists 4 values; [3] needs 3', FILE]);
    expect(catchSeec(() => fromProto({ name: "w", dataType: 6, dims: [2, 2], int32Data: [1] }, FILE)).message).toBe(
      'tensor "w" lists 1 values; [2, 2] needs 4',
    );
    const huge = catchSeec(() => fromProto({ name: "w", dataType: 1, dims: [2 ** 15, 2 ** 14] }, FILE));
    expect([huge.code, huge.message]).toEqual([
      "unsupported.too_large",
      `tensor "w" of shape [32768, 16384] has 536870912 elements; seec's wasm32 targets hold at most ${MAX_ELEMENTS} (1 GiB of float32) in one tensor`,
    ]);
  });
});

describe("tensor and checkSize", () => {
  it("tensor(): float types in a Float32Array, the rest in a Float64Array, zeros unless given data", () => {
    expect(tensor("float16", [2], [0.5, 3])).toEqual({ dtype: "float16", shape: [2], data: Float32Array.of(0.5, 3) });
    expect(tensor("float64", [1], [0.1]).data).toEqual(Float32Array.of(0.1));
    expect(tensor("int64", [2, 1], [2 ** 40, -1])).toEqual({ dtype: "int64", shape: [2, 1], data: Float64Array.of(2 ** 40, -1) });
    expect(tensor("bool", [3])).toEqual({ dtype: "bool", shape: [3], data: new Float64Array(3) });
    expect(tensor("float32", [])).toEqual({ dtype: "float32", shape: [], data: new Float32Array(1) });
    const e = catchSeec(() => tensor("float32", [2, -1]));
    expect([e.code, e.message]).toEqual(["input.onnx", "a tensor has shape [2, -1]; dimensions are whole numbers from 0"]);
    expect(["float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool"].map((d) => isFloat(d as OnnxDType))).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it("checkSize: the element count up to MAX_ELEMENTS (2^28) and no further; whole dimensions from 0", () => {
    expect(MAX_ELEMENTS).toBe(2 ** 28);
    expect(checkSize([], "x")).toBe(1);
    expect(checkSize([3, 0, 5], "x")).toBe(0);
    expect(checkSize([2 ** 14, 2 ** 14], "x")).toBe(2 ** 28);
    const over = catchSeec(() => checkSize([2 ** 28 + 1], "input 0"));
    expect([over.code, over.message]).toEqual([
      "unsupported.too_large",
      "input 0 of shape [268435457] has 268435457 elements; seec's wasm32 targets hold at most 268435456 (1 GiB of float32) in one tensor",
    ]);
    for (const shape of [[-1], [2, 1.5], [NaN], [2 ** 53]]) {
      const e = catchSeec(() => checkSize(shape, "a tensor"));
      expect([e.code, e.message]).toEqual(["input.onnx", `a tensor has shape [${shape.join(", ")}]; dimensions are whole numbers from 0`]);
    }
  });
});

describe("toHalf and roundHalf", () => {
  it("round to the nearest float16, ties to even, as the bit-level conversion does, over every range", () => {
    const r = rng(16);
    const xs = [
      0,
      -0,
      1,
      -1,
      65504,
      65519,
      65520,
      -65520,
      1e6,
      2 ** -14,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -25,
      2 ** -26,
      -(2 ** -25),
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2049,
      2051,
      0.1,
      Infinity,
      -Infinity,
    ];
    for (let i = 0; i < 2000; i++) xs.push(Math.fround((r() * 2 - 1) * 2 ** Math.floor(r() * 44 - 28)));
    for (const x of xs)
      expect(Object.is(toHalf(x), halfToFloat(floatToHalf(x))) || toHalf(x) === halfToFloat(floatToHalf(x)), `${x}`).toBe(true);
    expect(toHalf(NaN)).toBeNaN();
    expect(Object.is(toHalf(-0), -0)).toBe(true);
  });

  it("roundHalf rounds in place and returns the same array", () => {
    const xs = Float32Array.of(0.1, 70000, -3, 2 ** -25 * 3);
    expect(roundHalf(xs)).toBe(xs);
    expect(xs).toEqual(Float32Array.of(halfToFloat(floatToHalf(0.1)), Infinity, -3, 2 ** -23));
  });
});
