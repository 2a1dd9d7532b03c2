// The typed attribute readers beside each op's shape rule: what the interpreter and every backend
// read a node's attributes through, defaults filled and wrong kinds refused as internal.ir.
import { describe, expect, it } from "vitest";
import { scaledAttentionAttrs } from "../../compiler/ir/ops/attention.js";
import { readEntangledAttrs } from "../../compiler/ir/ops/entangled.js";
import { linearOperands } from "../../compiler/ir/ops/linear.js";
import { concatAttrs, copyAttrs, mapAttrs, reduceAttrs } from "../../compiler/ir/ops/tensor.js";
import { SeecError } from "../../runtime/errors.js";

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof SeecError ? e.code : String(e);
  }
  return undefined;
};

describe("typed attribute readers", () => {
  it("read what the graph holds, with the defaults filled", () => {
    expect(copyAttrs({ shape: [2, 3], strides: [1, 2], offset: 4 })).toEqual({
      shape: [2, 3],
      strides: [1, 2],
      offset: 4,
      outShape: [2, 3],
    });
    expect(copyAttrs({ shape: [2, 3], strides: [3, 1], offset: 0, outShape: [6] }).outShape).toEqual([6]);
    expect(mapAttrs({ fn: "add", dtype: "i32" })).toEqual({ fn: "add", dtype: "i32" });
    expect(concatAttrs({ axis: 1 })).toEqual({ axis: 1 });
    expect(reduceAttrs({ fn: "max", axes: [0, 2] })).toEqual({ fn: "max", axes: [0, 2] });
    expect(scaledAttentionAttrs({ scale: 0.5, bias: 1 })).toEqual({
      scale: 0.5,
      bias: true,
      keep: false,
      fill: 0,
      causal: false,
      causalFill: 0,
    });
    expect(linearOperands("Linear", ["x", "w"], {})).toMatchObject({ layout: "nk", activation: undefined });
    const entangled = {
      vocab: 4,
      dim: 2,
      rank: 1,
      rows: [3],
      q: [2],
      nullRow: [0],
      slotSource: [0],
      slotBag: [0],
      slotPerTerm: [0],
      slotIndexBytes: [1],
      norm: 0,
      epsilon: 0,
    };
    expect(readEntangledAttrs(entangled)).toEqual(entangled);
  });

  it("refuse an absent or mistyped attribute as internal.ir", () => {
    expect(code(() => copyAttrs({ shape: [2], strides: [1] }))).toBe("internal.ir");
    expect(code(() => copyAttrs({ shape: "2", strides: [1], offset: 0 }))).toBe("internal.ir");
    expect(code(() => mapAttrs({ fn: "nope", dtype: "f32" }))).toBe("internal.ir");
    expect(code(() => mapAttrs({ fn: "add", dtype: "i8" }))).toBe("internal.ir");
    expect(code(() => reduceAttrs({ fn: "median", axes: [0] }))).toBe("internal.ir");
    expect(code(() => concatAttrs({}))).toBe("internal.ir");
    expect(code(() => scaledAttentionAttrs({ fill: 0 }))).toBe("internal.ir");
    expect(code(() => linearOperands("Linear", ["x", "w"], { layout: "kk" }))).toBe("internal.ir");
    expect(code(() => readEntangledAttrs({ vocab: 4 }))).toBe("internal.ir");
  });
});
