// The general tensor ops' reference semantics (compiler/ir/ops/tensor.ts: Map, Copy, Concat,
// MatMul, Reduce, Softmax), which every ONNX test's oracle and every kernel test run: each against
// the definition written out here on small shapes chosen so that every index matters, and their
// shape rules and refusals.
import { describe, expect, it } from "vitest";
import {
  MAP_FUNCTIONS,
  broadcastDims,
  broadcastStrides,
  coalesce,
  erf,
  mapComputeType,
  stridesOf,
  type MapFunction,
} from "../../compiler/ir/ops/tensor.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import type { Tensor } from "../../compiler/ir/ops/op.js";
import { inferRefusal } from "../helpers/ir-ops.js";

const t = (shape: number[], data: number[], type: "f32" | "i32" | "i8" = "f32"): Tensor => ({
  shape,
  data: type === "f32" ? Float32Array.from(data) : type === "i8" ? Int8Array.from(data) : Int32Array.from(data),
});
const iota = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const run = (op: string, inputs: Tensor[], attrs: Record<string, unknown>) => opDef(op).run(inputs, attrs as never)[0];
/** Index [i, j, k] of a row-major [A, B, C] tensor. */
const at3 = (B: number, C: number) => (i: number, j: number, k: number) => (i * B + j) * C + k;

describe("Map", () => {
  // Each function on values that separate it from its neighbours, against its definition; the
  // operand pairs several functions share are named once.
  const arithmetic = [
    [1.5, -2],
    [2, 0.25],
  ];
  const extremes = [
    [1, -1],
    [-2, 3],
  ];
  const ordered = [
    [1, 2, 3],
    [1, 3, 2],
  ];
  const truthy = [
    [0, 2, 0, -1],
    [0, 0, 3, 4],
  ];
  const signs = [
    [7, -7, 7],
    [3, 3, -3],
  ];
  const unary = (fn: MapFunction, x: number[], want: number[]): [MapFunction, number[][], number[]] => [fn, [x], want];
  const cases: [MapFunction, number[][], number[]][] = [
    ["add", arithmetic, [3.5, -1.75]],
    ["sub", arithmetic, [-0.5, -2.25]],
    ["mul", arithmetic, [3, -0.5]],
    [
      "div",
      [
        [3, -2],
        [2, 8],
      ],
      [1.5, -0.25],
    ],
    [
      "divInt",
      [
        [7, -7],
        [2, 2],
      ],
      [3, -3],
    ],
    [
      "pow",
      [
        [2, 9],
        [3, 0.5],
      ],
      [8, 3],
    ],
    ["max", extremes, [1, 3]],
    ["min", extremes, [-2, -1]],
    ["equal", ordered, [1, 0, 0]],
    ["less", ordered, [0, 1, 0]],
    ["lessOrEqual", ordered, [1, 1, 0]],
    ["greater", ordered, [0, 0, 1]],
    ["greaterOrEqual", ordered, [1, 0, 1]],
    ["and", truthy, [0, 0, 0, 1]],
    ["or", truthy, [0, 1, 1, 1]],
    ["xor", truthy, [0, 1, 1, 0]],
    [
      "where",
      [
        [1, 0, 2],
        [10, 20, 30],
        [-1, -2, -3],
      ],
      [10, -2, 30],
    ],
    unary("copy", [1.5, -0], [1.5, -0]),
    unary("trunc", [1.7, -1.7], [1, -1]),
    unary("bool", [0, 0.5, -3], [0, 1, 1]),
    unary("not", [0, 0.5, -3], [1, 0, 0]),
    unary("neg", [2, -3], [-2, 3]),
    unary("abs", [2, -3], [2, 3]),
    unary("sqrt", [9, 0.25], [3, 0.5]),
    unary("reciprocal", [4, -0.5], [0.25, -2]),
    unary("exp", [0, 1], [1, Math.E]),
    unary("log", [1, Math.E], [0, 1]),
    unary("tanh", [0, 1], [0, 0.7615941559557649]),
    unary("sigmoid", [0, 2], [0.5, 1 / (1 + Math.exp(-2))]),
    unary("relu", [-2, 3], [0, 3]),
    unary("sin", [0, Math.PI / 2], [0, 1]),
    unary("cos", [0, Math.PI], [1, -1]),
    // erf's published values; ±1 from 4 on.
    unary("erf", [0, 0.5, 1, -2, 4.5], [0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 1]),
    unary("gelu", [1, -1], [0.8413447460685429, -0.15865525393145707]),
    unary("geluTanh", [1], [0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715))]),
    // Floored modulo takes the divisor's sign; fmod the dividend's.
    ["mod", signs, [1, 2, -2]],
    ["fmod", signs, [1, -1, 1]],
    unary("sign", [-2, 0, 3], [-1, 0, 1]),
    unary("floor", [1.5, -1.5], [1, -2]),
    unary("ceil", [1.5, -1.5], [2, -1]),
    // Halves to even.
    unary("round", [0.5, 1.5, 2.5, -2.5, 2.4, 2.6], [0, 2, 2, -2, 2, 3]),
    unary("isinf", [Infinity, -Infinity, 1, NaN], [1, 1, 0, 0]),
    unary("isnan", [NaN, 1, Infinity], [1, 0, 0]),
    unary("tan", [0, Math.PI / 4], [0, 1]),
    unary("asin", [0, 1], [0, Math.PI / 2]),
    unary("acos", [1, 0], [0, Math.PI / 2]),
    unary("atan", [0, 1], [0, Math.PI / 4]),
    unary("sinh", [0, 1], [0, (Math.E - 1 / Math.E) / 2]),
    unary("cosh", [0, 1], [1, (Math.E + 1 / Math.E) / 2]),
    unary("asinh", [0, 1], [0, Math.log(1 + Math.SQRT2)]),
    unary("acosh", [1, 2], [0, Math.log(2 + Math.sqrt(3))]),
    unary("atanh", [0, 0.5], [0, 0.5 * Math.log(3)]),
    // The nearest bfloat16, ties to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
    unary("bfloat16", [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9], [1, 1 + 2 ** -6, 1]),
    [
      "shl",
      [
        [1, 3],
        [4, 33],
      ],
      [16, 6],
    ],
    [
      "shr",
      [
        [256, -1],
        [4, 28],
      ],
      [16, 15],
    ],
  ];
  it("has a case here for every function", () => {
    expect(cases.map(([fn]) => fn).sort()).toEqual(Object.keys(MAP_FUNCTIONS).sort());
  });
  it.each(cases)("%s", (fn, inputs, want) => {
    const y = run(
      "Map",
      inputs.map((v) => t([v.length], v)),
      { fn, dtype: "f32" },
    );
    expect(y.shape).toEqual([want.length]);
    want.forEach((w, i) => {
      if (Number.isNaN(w)) expect(y.data[i]).toBeNaN();
      else expect(y.data[i], `${fn}[${i}]`).toBeCloseTo(w, 6);
    });
  });

  it("broadcasts [2, 1, 3] with [4, 1] to [2, 4, 3], and writes the dtype it is given", () => {
    const a = iota(6),
      b = [10, 20, 30, 40];
    const y = run("Map", [t([2, 1, 3], a), t([4, 1], b, "i32")], { fn: "sub", dtype: "i32" });
    expect(y.shape).toEqual([2, 4, 3]);
    expect(y.data).toBeInstanceOf(Int32Array);
    const idx = at3(4, 3);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) expect(y.data[idx(i, j, k)]).toBe(a[i * 3 + k] - b[j]);
  });

  it("where broadcasts its condition too", () => {
    const y = run("Map", [t([2, 1], [1, 0]), t([1, 3], [1, 2, 3]), t([2, 3], iota(6, 10))], { fn: "where", dtype: "f32" });
    expect(Array.from(y.data)).toEqual([1, 2, 3, 13, 14, 15]);
  });

  it("infers the broadcast shape, symbolic dimensions against 1 and themselves, and refuses the rest", () => {
    const f32 = (shape: (number | string)[]) => ({ dtype: "f32" as const, shape });
    expect(opDef("Map").infer([f32(["T", 3]), f32([1, 3])], { fn: "add", dtype: "f32" }, "n")).toEqual([{ dtype: "f32", shape: ["T", 3] }]);
    expect(opDef("Map").infer([f32([2, 1, 3]), f32([4, 1])], { fn: "less", dtype: "i32" }, "n")).toEqual([
      { dtype: "i32", shape: [2, 4, 3] },
    ]);
    expect(inferRefusal("Map", [f32([2])], { fn: "nope", dtype: "f32" })).toMatch(/unknown map function nope/);
    expect(inferRefusal("Map", [f32([2])], { fn: "add", dtype: "f32" })).toMatch(/add takes 2 inputs, got 1/);
    expect(inferRefusal("Map", [f32([2, 3]), f32([3, 2])], { fn: "add", dtype: "f32" })).toMatch(
      /shapes \[2, 3\] and \[3, 2\] do not broadcast/,
    );
    expect(inferRefusal("Map", [f32(["T"]), f32([4])], { fn: "add", dtype: "f32" })).toMatch(/shapes \[T\] and \[4\] do not broadcast/);
    expect(inferRefusal("Map", [f32([2]), f32([2])], { fn: "add", dtype: "f64" })).toMatch(/dtype/);
  });

  it("computes in i32 only where every value operand is i32 (a where's condition aside)", () => {
    expect(mapComputeType("add", ["i32", "i32"])).toBe("i32");
    expect(mapComputeType("add", ["i32", "f32"])).toBe("f32");
    expect(mapComputeType("where", ["f32", "i32", "i32"])).toBe("i32");
    expect(mapComputeType("where", ["i32", "i32", "f32"])).toBe("f32");
  });

  it("erf is odd, and within 5e-11 of the true values below 4 (its series loses digits toward 4)", () => {
    expect(erf(-0.5)).toBe(-erf(0.5));
    expect(Math.abs(erf(3.9) - 0.9999999652077514)).toBeLessThan(5e-11); // 1 − erfc(3.9)
    expect(Math.abs(erf(2) - 0.9953222650189527)).toBeLessThan(1e-15);
    expect(erf(-4)).toBe(-1);
  });
});

describe("Copy", () => {
  const x = t([2, 3, 4], iota(24));

  it("reads the box its strides and offset give: a transpose, a slice, a broadcast", () => {
    // x transposed to [4, 3, 2].
    const tr = run("Copy", [x], { shape: [4, 3, 2], strides: [1, 4, 12], offset: 0 });
    const idx = at3(3, 4);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) expect(tr.data[(i * 3 + j) * 2 + k]).toBe(idx(k, j, i));
    // x[1, 1:3, 2:4].
    expect(Array.from(run("Copy", [x], { shape: [2, 2], strides: [4, 1], offset: 12 + 4 + 2 }).data)).toEqual([18, 19, 22, 23]);
    // Row 2 of x[0] repeated three times (stride 0).
    expect(Array.from(run("Copy", [x], { shape: [3, 4], strides: [0, 1], offset: 8 }).data)).toEqual([
      8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11,
    ]);
  });

  it("stores as outShape, and keeps the element type (i8 and i32 stay integers)", () => {
    const y = run("Copy", [x], { shape: [2, 3], strides: [12, 1], offset: 1, outShape: [3, 2] });
    expect(y.shape).toEqual([3, 2]);
    expect(Array.from(y.data)).toEqual([1, 2, 3, 13, 14, 15]);
    const bytes = run("Copy", [t([4], [-1, 2, -3, 4], "i8")], { shape: [2], strides: [2], offset: 1 });
    expect(bytes.data).toBeInstanceOf(Int8Array);
    expect(Array.from(bytes.data)).toEqual([2, 4]);
    expect(run("Copy", [t([3], [5, 6, 7], "i32")], { shape: [3], strides: [-1], offset: 2 }).data).toEqual(Int32Array.of(7, 6, 5));
  });

  it("infers outShape, and refuses a box that reads outside x, strides of another count, or another size", () => {
    const f32 = { dtype: "f32" as const, shape: [2, 3, 4] };
    expect(opDef("Copy").infer([f32], { shape: [6, 4], strides: [4, 1], offset: 0, outShape: [24] } as never, "n")).toEqual([
      { dtype: "f32", shape: [24] },
    ]);
    // The last element read is x's last: allowed; one further is not.
    expect(opDef("Copy").infer([f32], { shape: [2], strides: [1], offset: 22 } as never, "n")).toEqual([{ dtype: "f32", shape: [2] }]);
    expect(inferRefusal("Copy", [f32], { shape: [2], strides: [1], offset: 23 })).toMatch(/Copy reads past the end of \[2, 3, 4\]/);
    expect(inferRefusal("Copy", [f32], { shape: [2], strides: [1], offset: -1 })).toMatch(/reads past the end/);
    expect(inferRefusal("Copy", [f32], { shape: [2, 2], strides: [1], offset: 0 })).toMatch(/one stride per output dimension/);
    expect(inferRefusal("Copy", [f32], { shape: [2, 2], strides: [2, 1], offset: 0, outShape: [5] })).toMatch(
      /Copy stores 4 elements as \[5\]/,
    );
    expect(inferRefusal("Copy", [{ dtype: "f32", shape: ["T", 4] }], { shape: [2], strides: [1], offset: 0 })).toMatch(
      /dimension "T" is symbolic/,
    );
    // An empty box reads nothing, wherever it starts.
    expect(opDef("Copy").infer([f32], { shape: [0, 3], strides: [1, 1], offset: 99 } as never, "n")).toEqual([
      { dtype: "f32", shape: [0, 3] },
    ]);
  });

  it("infers a box whose entries are polynomials of T (built for any length): its outShape as dimensions", () => {
    const x = { dtype: "f32" as const, shape: ["T", 4] };
    const attrs = { shape: ["1*T+0", 4], strides: [4, 1], offset: 0, outShape: ["1*T+0", 4] };
    expect(opDef("Copy").infer([x], attrs as never, "n")).toEqual([{ dtype: "f32", shape: ["T", 4] }]);
    expect(inferRefusal("Copy", [x], { ...attrs, strides: [4] })).toMatch(/one stride per output dimension/);
    // A stored dimension must be T itself: 2T is no tensor dimension.
    expect(inferRefusal("Copy", [x], { ...attrs, outShape: ["2*T+0", 2] })).toMatch(
      /must be a number or a symbolic dimension, not "2\*T\+0"/,
    );
  });
});

describe("Concat, MatMul, Reduce and Softmax", () => {
  it("Concat joins along the axis, of any element type", () => {
    const y = run("Concat", [t([2, 1, 2], [1, 2, 3, 4], "i32"), t([2, 2, 2], iota(8, 10), "i32")], { axis: 1 });
    expect(y.shape).toEqual([2, 3, 2]);
    expect(y.data).toEqual(Int32Array.of(1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17));
    const f32 = (shape: number[]) => ({ dtype: "f32" as const, shape });
    expect(opDef("Concat").infer([f32([2, 1, 2]), f32([2, 2, 2])], { axis: 1 }, "n")).toEqual([{ dtype: "f32", shape: [2, 3, 2] }]);
    expect(inferRefusal("Concat", [f32([2, 1, 2]), f32([3, 2, 2])], { axis: 1 })).toMatch(/Concat inputs differ off the axis/);
    expect(inferRefusal("Concat", [f32([2, 1, 2]), f32([2, 2])], { axis: 1 })).toMatch(/Concat inputs differ off the axis/);
  });

  it("MatMul multiplies [..., M, K] by [..., K, N] with broadcast batch axes", () => {
    const A = [2, 1, 2, 3],
      B = [3, 3, 2];
    const a = iota(12).map((v) => v - 5),
      b = iota(18).map((v) => (v % 7) - 3);
    const y = run("MatMul", [t(A, a), t(B, b)], {});
    expect(y.shape).toEqual([2, 3, 2, 2]);
    for (let p = 0; p < 2; p++)
      for (let q = 0; q < 3; q++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++) {
            let s = 0;
            for (let k = 0; k < 3; k++) s += a[p * 6 + i * 3 + k] * b[q * 6 + k * 2 + j];
            expect(y.data[((p * 3 + q) * 2 + i) * 2 + j]).toBe(s);
          }
    const f32 = (shape: number[]) => ({ dtype: "f32" as const, shape });
    expect(opDef("MatMul").infer([f32(A), f32(B)], {}, "n")).toEqual([{ dtype: "f32", shape: [2, 3, 2, 2] }]);
    expect(inferRefusal("MatMul", [f32([2, 3]), f32([2, 3])], {})).toMatch(/MatMul of \[2, 3\] and \[2, 3\]/);
    expect(inferRefusal("MatMul", [f32([3]), f32([3, 2])], {})).toMatch(/MatMul of \[3\] and \[3, 2\]/);
    expect(inferRefusal("MatMul", [f32([2, 3]), f32([3])], {})).toMatch(/MatMul of/);
  });

  it.each([
    ["sum", (v: number[]) => v.reduce((a, b) => a + b, 0)],
    ["mean", (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length],
    ["max", (v: number[]) => Math.max(...v)],
    ["min", (v: number[]) => Math.min(...v)],
    ["prod", (v: number[]) => v.reduce((a, b) => a * b, 1)],
  ] as const)("Reduce %s over axes 0 and 2 of [2, 3, 4], which stay as 1", (fn, f) => {
    const x = iota(24).map((v) => ((v * 5) % 11) / 4 - 1);
    const y = run("Reduce", [t([2, 3, 4], x)], { fn, axes: [0, 2] });
    expect(y.shape).toEqual([1, 3, 1]);
    const idx = at3(3, 4);
    for (let j = 0; j < 3; j++) {
      const v = [0, 1].flatMap((i) => [0, 1, 2, 3].map((k) => x[idx(i, j, k)]));
      expect(y.data[j]).toBeCloseTo(f(v), 5);
    }
    expect(opDef("Reduce").infer([{ dtype: "f32", shape: [2, 3, 4] }], { fn, axes: [0, 2] }, "n")).toEqual([
      { dtype: "f32", shape: [1, 3, 1] },
    ]);
  });

  it("Reduce refuses an unknown reduction", () => {
    expect(inferRefusal("Reduce", [{ dtype: "f32", shape: [2] }], { fn: "median", axes: [0] })).toMatch(/unknown reduction median/);
  });

  it("Softmax over the last axis: rows that sum to 1, large and −∞ scores included", () => {
    const y = run("Softmax", [t([2, 3], [1000, 1001, 1002, -Infinity, 0, Math.log(3)])], {});
    const e = [1, Math.E, Math.E ** 2];
    e.forEach((v, i) => expect(y.data[i]).toBeCloseTo(v / (1 + Math.E + Math.E ** 2), 6));
    expect(Array.from(y.data.subarray(3)).map((v) => +v.toFixed(6))).toEqual([0, 0.25, 0.75]);
    expect(opDef("Softmax").infer([{ dtype: "f32", shape: [2, 3] }], {}, "n")).toEqual([{ dtype: "f32", shape: [2, 3] }]);
  });
});

describe("strides, broadcasts and coalescing", () => {
  it("stridesOf and broadcastStrides", () => {
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(stridesOf([])).toEqual([]);
    expect(broadcastStrides([3, 1], [2, 3, 4])).toEqual([0, 1, 0]);
    expect(broadcastStrides([2, 3, 4], [2, 3, 4])).toEqual([12, 4, 1]);
  });

  it("broadcastDims keeps a symbolic dimension against 1 and itself", () => {
    expect(
      broadcastDims(
        [
          ["T", 1],
          [1, 5],
        ],
        "n",
      ),
    ).toEqual(["T", 5]);
    expect(broadcastDims([["T"], ["T"]], "n")).toEqual(["T"]);
  });

  it("coalesce merges neighbouring dimensions every operand walks contiguously, and drops those of 1", () => {
    // [2, 3, 4] contiguous in both: one run of 24.
    expect(
      coalesce(
        [2, 3, 4],
        [
          [12, 4, 1],
          [12, 4, 1],
        ],
      ),
    ).toEqual({ shape: [24], strides: [[1], [1]] });
    // The second operand broadcast along the middle axis: nothing merges across it.
    expect(
      coalesce(
        [2, 3, 4],
        [
          [12, 4, 1],
          [4, 0, 1],
        ],
      ),
    ).toEqual({
      shape: [2, 3, 4],
      strides: [
        [12, 4, 1],
        [4, 0, 1],
      ],
    });
    expect(coalesce([1, 5, 1], [[5, 1, 1]])).toEqual({ shape: [5], strides: [[1]] });
    expect(
      coalesce(
        [1, 1],
        [
          [1, 1],
          [0, 0],
        ],
      ),
    ).toEqual({ shape: [1], strides: [[0], [0]] });
  });
});
