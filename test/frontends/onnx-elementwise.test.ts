// compiler/frontends/onnx/elementwise.ts: each composition built over numbers (the IR's map functions
// applied directly), against the ONNX operator spec's formula written out here, with each attribute at
// its default and set, on both sides of every threshold.
import { describe, expect, it } from "vitest";
import { COMPOSITIONS, type Algebra } from "../../compiler/frontends/onnx/elementwise.js";
import type { OnnxAttr } from "../../compiler/frontends/onnx/read.js";
import { MAP_FUNCTIONS } from "../../compiler/ir/ops/tensor.js";

const numbers: Algebra<number> = {
  map: (fn, ...x) => (MAP_FUNCTIONS[fn] as { f: (...x: number[]) => number }).f(...x),
  scalar: (v) => v,
};
const run = (op: string, inputs: (number | undefined)[], attrs: Record<string, OnnxAttr> = {}, opset = 17) =>
  COMPOSITIONS[op].build(numbers, inputs, attrs, opset);

const XS = [-3, -1.5, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 1.5, 3];

/** `op` over XS equals `want`, to 1e-12 relative. */
function same(op: string, want: (x: number) => number, attrs: Record<string, OnnxAttr> = {}) {
  for (const x of XS) {
    const got = run(op, [x], attrs),
      w = want(x);
    expect(Math.abs(got - w), `${op}(${x}) ${JSON.stringify(attrs)}: ${got} vs ${w}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(w)));
  }
}

describe("ONNX compositions of map functions", () => {
  it("unary functions", () => {
    same("Sign", Math.sign);
    same("Floor", Math.floor);
    same("Ceil", Math.ceil);
    same("Tan", Math.tan);
    same("Atan", Math.atan);
    same("Sinh", Math.sinh);
    same("Cosh", Math.cosh);
    same("Asinh", Math.asinh);
    for (const x of [-0.5, 0, 0.5]) {
      expect(run("Asin", [x])).toBe(Math.asin(x));
      expect(run("Acos", [x])).toBe(Math.acos(x));
      expect(run("Atanh", [x])).toBe(Math.atanh(x));
    }
    expect(run("Acosh", [2])).toBe(Math.acosh(2));
    // Round: halves to even.
    expect([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6].map((x) => run("Round", [x]))).toEqual([-2, -2, -0, 0, 2, 2, 3]);
  });

  it("Mod: floored (the divisor's sign) unless fmod=1 (the dividend's)", () => {
    expect([run("Mod", [-7, 3]), run("Mod", [7, -3]), run("Mod", [7, 3])]).toEqual([2, -2, 1]);
    expect([run("Mod", [-7, 3], { fmod: 1 }), run("Mod", [7, -3], { fmod: 1 }), run("Mod", [7, 3], { fmod: 1 })]).toEqual([-1, 1, 1]);
    expect(run("Mod", [-7, 3], { fmod: 0 })).toBe(2);
  });

  it("Xor, IsNaN and IsInf are boolean; IsInf detects each sign as asked", () => {
    const bools = Object.entries(COMPOSITIONS)
      .filter(([, c]) => c.bool)
      .map(([op]) => op);
    expect(bools.sort()).toEqual(["IsInf", "IsNaN", "Xor"]);
    expect([run("Xor", [0, 0]), run("Xor", [1, 0]), run("Xor", [0, 2]), run("Xor", [3, 1])]).toEqual([0, 1, 1, 0]);
    expect([NaN, 0, Infinity].map((x) => run("IsNaN", [x]))).toEqual([1, 0, 0]);
    const xs = [-Infinity, -1, 0, 1, Infinity, NaN];
    expect(xs.map((x) => run("IsInf", [x]))).toEqual([1, 0, 0, 0, 1, 0]);
    expect(xs.map((x) => run("IsInf", [x], { detect_negative: 0 }))).toEqual([0, 0, 0, 0, 1, 0]);
    expect(xs.map((x) => run("IsInf", [x], { detect_positive: 0 }))).toEqual([1, 0, 0, 0, 0, 0]);
    expect(xs.map((x) => run("IsInf", [x], { detect_positive: 0, detect_negative: 0 }))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("LeakyRelu, PRelu, ThresholdedRelu", () => {
    same("LeakyRelu", (x) => (x >= 0 ? x : 0.01 * x));
    same("LeakyRelu", (x) => (x >= 0 ? x : 0.3 * x), { alpha: 0.3 });
    for (const x of XS) expect(run("PRelu", [x, 0.25])).toBe(x >= 0 ? x : 0.25 * x);
    same("ThresholdedRelu", (x) => (x > 1 ? x : 0));
    same("ThresholdedRelu", (x) => (x > 0.25 ? x : 0), { alpha: 0.25 });
  });

  it("Elu, Selu, Celu", () => {
    same("Elu", (x) => (x > 0 ? x : Math.exp(x) - 1));
    same("Elu", (x) => (x > 0 ? x : 0.5 * (Math.exp(x) - 1)), { alpha: 0.5 });
    const [alpha, gamma] = [1.67326319217681884765625, 1.05070102214813232421875];
    same("Selu", (x) => (x > 0 ? gamma * x : gamma * alpha * (Math.exp(x) - 1)));
    same("Selu", (x) => (x > 0 ? 2 * x : 2 * 0.5 * (Math.exp(x) - 1)), { alpha: 0.5, gamma: 2 });
    same("Celu", (x) => Math.max(0, x) + Math.min(0, Math.exp(x) - 1));
    same("Celu", (x) => Math.max(0, x) + Math.min(0, 2 * (Math.exp(x / 2) - 1)), { alpha: 2 });
  });

  it("HardSigmoid, HardSwish, Softplus, Softsign", () => {
    same("HardSigmoid", (x) => Math.max(0, Math.min(1, 0.2 * x + 0.5)));
    same("HardSigmoid", (x) => Math.max(0, Math.min(1, 0.5 * x + 0.25)), { alpha: 0.5, beta: 0.25 });
    expect([-10, 10].map((x) => run("HardSigmoid", [x]))).toEqual([0, 1]);
    same("HardSwish", (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)));
    expect([-4, 4].map((x) => run("HardSwish", [x]))).toEqual([-0, 4]);
    same("Softplus", (x) => Math.log(Math.exp(x) + 1));
    same("Softsign", (x) => x / (1 + Math.abs(x)));
  });

  it("Shrink: below −lambd x + bias, above lambd x − bias, 0 between (the bounds themselves included)", () => {
    same("Shrink", (x) => (x < -0.5 ? x : x > 0.5 ? x : 0));
    same("Shrink", (x) => (x < -1 ? x + 0.25 : x > 1 ? x - 0.25 : 0), { lambd: 1, bias: 0.25 });
    expect([-1, 1].map((x) => run("Shrink", [x], { lambd: 1, bias: 0.25 }))).toEqual([0, 0]);
  });

  it("Clip: bounds from inputs from opset 11, from attributes before; either may be absent", () => {
    expect([-5, 0.5, 5].map((x) => run("Clip", [x, -1, 2]))).toEqual([-1, 0.5, 2]);
    expect([-5, 5].map((x) => run("Clip", [x, -1, undefined]))).toEqual([-1, 5]);
    expect([-5, 5].map((x) => run("Clip", [x, undefined, 2]))).toEqual([-5, 2]);
    expect([-5, 5].map((x) => run("Clip", [x]))).toEqual([-5, 5]);
    // Opset 11 reads the inputs and not the attributes; opset 10 the attributes and not the inputs.
    expect([-5, 5].map((x) => run("Clip", [x, -1, 2], { min: -3, max: 3 }, 11))).toEqual([-1, 2]);
    expect([-5, 5].map((x) => run("Clip", [x, -1, 2], { min: -3, max: 3 }, 10))).toEqual([-3, 3]);
    expect([-5, 5].map((x) => run("Clip", [x], { min: -3 }, 6))).toEqual([-3, 5]);
    expect([-5, 5].map((x) => run("Clip", [x], { max: 3 }, 6))).toEqual([-5, 3]);
    expect([-5, 5].map((x) => run("Clip", [x], { min: "low" as never }, 6))).toEqual([-5, 5]);
  });
});
