// Attributes that depend on the symbolic token count (compiler/ir/affine.ts): the entries written
// ("2*T+0", "1*T^2+0*T-1") and read back, bound at a length, refused where they mean nothing; and
// the polynomials the code generators compute strides and sizes with, checked against the same
// arithmetic done at several lengths.
import { describe, expect, it } from "vitest";
import {
  affineEntry,
  bindAttrs,
  bindEntry,
  broadcastPolyStrides,
  coalescePolys,
  dimEntry,
  entryDim,
  isSymbolic,
  parseDimExpr,
  Poly,
  polyProduct,
  polyShape,
} from "../../compiler/ir/affine.js";
import { catchSeec } from "../helpers/errors.js";

describe("attribute entries", () => {
  it.each([
    [[3], 3],
    [[0, 2], "2*T+0"],
    [[-1, 0, 1], "1*T^2+0*T-1"],
    [[5, -3], "-3*T+5"],
    [[1.5, 0.5], "0.5*T+1.5"],
    [[4, 0, 0], 4],
    [[], 0],
  ] as const)("dimEntry(%j) is %j, read back as the same polynomial", (c, entry) => {
    expect(dimEntry("T", c)).toBe(entry);
    if (typeof entry === "string") {
      const top = c.length - 1 - [...c].reverse().findIndex((x) => x !== 0);
      expect(parseDimExpr(entry)).toEqual({ dim: "T", c: c.slice(0, top + 1) });
    }
  });

  it("reads only that form: numbers, other strings and mixed dimensions are not entries", () => {
    expect(affineEntry("T", 2, 1)).toBe("2*T+1");
    expect(affineEntry("T", 0, 7)).toBe(7);
    for (const v of [3, "relu", "T", "2*T", "2*T+1x", "2*T+1*S+0", "+1", "x2*T+0", "2*T^2"])
      expect(parseDimExpr(v), String(v)).toBeUndefined();
    expect(parseDimExpr("1*S^3+0*S^2+0*S+4")).toEqual({ dim: "S", c: [4, 0, 0, 1] });
  });

  it("binds an entry at a length; refuses one without a binding", () => {
    expect(bindEntry("1*T^2+2*T-1", { T: 3 })).toBe(14);
    expect(bindEntry(9, {})).toBe(9);
    for (const [v, dims] of [
      ["2*T+0", { S: 3 }],
      ["relu", { T: 3 }],
    ] as const) {
      const e = catchSeec(() => bindEntry(v, dims));
      expect([e.code, e.message]).toEqual(["internal.ir", `attribute entry "${v}" has no binding`]);
    }
  });

  it("binds every symbolic entry of a node's attributes, lists included, and leaves the others as they are", () => {
    const attrs = { shape: [1, "1*T+0", 4], strides: ["4*T+0", 4, 1], offset: "4*T-4", fn: "add", axis: 1 };
    expect(isSymbolic(attrs)).toBe(true);
    expect(bindAttrs(attrs, { T: 5 })).toEqual({ shape: [1, 5, 4], strides: [20, 4, 1], offset: 16, fn: "add", axis: 1 });
    const plain = { shape: [2, 3], fn: "mul" };
    expect(isSymbolic(plain)).toBe(false);
    expect(bindAttrs(plain, { T: 5 })).toBe(plain);
  });

  it("entryDim: a number, the dimension itself for 1·T + 0, nothing else", () => {
    expect(entryDim(4, "n")).toBe(4);
    expect(entryDim("1*T+0", "n")).toBe("T");
    for (const v of ["2*T+0", "1*T+1", "1*T^2+0*T+0", "relu"]) {
      const e = catchSeec(() => entryDim(v, "n"));
      expect([e.code, e.message, e.at]).toEqual([
        "internal.ir",
        `a tensor dimension must be a number or a symbolic dimension, not "${v}"`,
        "node n",
      ]);
    }
  });
});

describe("Poly", () => {
  const at = (p: Poly, T: number) => p.c.reduce((s, x, k) => s + x * T ** k, 0);

  it("of: a number, the dimension, an entry; refuses another dimension's", () => {
    expect(Poly.of(3, "T").c).toEqual([3]);
    expect(Poly.of("T", "T").c).toEqual([0, 1]);
    expect(Poly.of("1*T^2+0*T+2", "T").c).toEqual([2, 0, 1]);
    const e = catchSeec(() => Poly.of("2*S+0", "T"));
    expect([e.code, e.message]).toEqual(["internal.ir", '"2*S+0" is not a number or an expression of T']);
    expect(() => Poly.of("S", "T")).toThrow();
  });

  it("adds, multiplies, compares and prints as the numbers at each length do", () => {
    const a = Poly.of("2*T+1", "T"),
      b = Poly.of("1*T^2+0*T-3", "T");
    for (const T of [1, 2, 7]) {
      expect(at(a.times(b), T)).toBe(at(a, T) * at(b, T));
      expect(at(a.plus(b), T)).toBe(at(a, T) + at(b, T));
    }
    expect(a.times(b).c).toEqual([-3, -6, 1, 2]);
    expect(a.equals(Poly.of("2*T+1", "T"))).toBe(true);
    expect(Poly.of(0, "T").equals(Poly.of("0*T+0", "T"))).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(Poly.of(3, "T").equals(Poly.of("1*T+3", "T"))).toBe(false);
    expect([a.isConstant, a.constant, Poly.of(6, "T").isConstant, Poly.of(6, "T").constant]).toEqual([false, undefined, true, 6]);
    expect(Poly.of("0*T+0", "T").constant).toBe(0);
    expect([a, b, a.times(b), Poly.of(0, "T"), Poly.of("T", "T"), Poly.of("1*T^2+0*T+0", "T")].map(String)).toEqual([
      "1 + 2 * T",
      "-3 + T * T",
      "-3 - 6 * T + T * T + 2 * T * T * T",
      "0",
      "T",
      "T * T",
    ]);
  });

  it("strides, broadcast strides, products and coalescing, as row-major numbers at each length", () => {
    const shape = polyShape([2, "T", 3], "T");
    const strides = Poly.strides(shape, "T");
    for (const T of [1, 4]) expect(strides.map((s) => at(s, T))).toEqual([3 * T, 3, 1]);
    expect(at(polyProduct(shape, "T"), 5)).toBe(30);
    // [T, 3] read broadcast into [2, T, 3]; [1, 3] into the same.
    expect(broadcastPolyStrides(["T", 3], shape, "T").map((s) => at(s, 4))).toEqual([0, 3, 1]);
    expect(broadcastPolyStrides([1, 3], shape, "T").map((s) => at(s, 4))).toEqual([0, 0, 1]);
    // Contiguous [2, T, 3] merges into one run of 6·T; a dimension of 1 drops; a broadcast operand keeps its axis apart.
    const whole = coalescePolys(polyShape([2, 1, "T", 3], "T"), [Poly.strides(polyShape([2, 1, "T", 3], "T"), "T")], "T");
    expect([whole.shape.map((d) => at(d, 4)), whole.strides[0].map((s) => at(s, 4))]).toEqual([[24], [1]]);
    const split = coalescePolys(shape, [strides, broadcastPolyStrides([1, 3], shape, "T")], "T");
    expect(split.shape.map((d) => at(d, 4))).toEqual([8, 3]);
    expect(split.strides.map((s) => s.map((x) => at(x, 4)))).toEqual([
      [3, 1],
      [0, 1],
    ]);
    const ones = coalescePolys(polyShape([1, 1], "T"), [[Poly.of(5, "T"), Poly.of(1, "T")]], "T");
    expect([ones.shape.map(String), ones.strides[0].map(String)]).toEqual([["1"], ["0"]]);
  });
});
