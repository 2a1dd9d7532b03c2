/**
 * ONNX's elementwise ops that are compositions of the IR's map functions, each written once over
 * an algebra the lowering (lower-ops.ts) builds out of Map nodes.
 */
import type { MapFunction } from "../../ir/ops/tensor.js";
import { attr, type OnnxAttr } from "./read.js";

/** What a composition is built from: map functions and scalar constants. */
export interface Algebra<T> {
  map(fn: MapFunction, ...x: T[]): T;
  scalar(v: number): T;
}

type Attrs = Readonly<Record<string, OnnxAttr>>;

export interface Composition {
  /** Output element type: the first input's, or bool. */
  bool?: true;
  /** Inputs (by position) that may be absent; the rest are required. */
  build<T>(a: Algebra<T>, inputs: readonly (T | undefined)[], attrs: Attrs, opset: number): T;
}

const unary = (fn: MapFunction): Composition => ({ build: (a, [x]) => a.map(fn, x!) });
const float = (attrs: Attrs, key: string, fallback: number) => attr({ attrs }, key, fallback);

/** x > 0 ? x : alpha · (e^x − 1) */
const elu = <T>(a: Algebra<T>, x: T, alpha: number) =>
  a.map("where", a.map("greater", x, a.scalar(0)), x, a.map("mul", a.map("sub", a.map("exp", x), a.scalar(1)), a.scalar(alpha)));

/** max(0, min(1, alpha · x + beta)) */
const hardSigmoid = <T>(a: Algebra<T>, x: T, alpha: number, beta: number) =>
  a.map("max", a.scalar(0), a.map("min", a.scalar(1), a.map("add", a.map("mul", x, a.scalar(alpha)), a.scalar(beta))));

export const COMPOSITIONS: Readonly<Record<string, Composition>> = {
  Sign: unary("sign"),
  Floor: unary("floor"),
  Ceil: unary("ceil"),
  Round: unary("round"),
  Tan: unary("tan"),
  Asin: unary("asin"),
  Acos: unary("acos"),
  Atan: unary("atan"),
  Sinh: unary("sinh"),
  Cosh: unary("cosh"),
  Asinh: unary("asinh"),
  Acosh: unary("acosh"),
  Atanh: unary("atanh"),
  Xor: { bool: true, build: (a, [x, y]) => a.map("xor", x!, y!) },
  Mod: { build: (a, [x, y], attrs) => a.map(float(attrs, "fmod", 0) ? "fmod" : "mod", x!, y!) },
  IsNaN: { bool: true, build: (a, [x]) => a.map("isnan", x!) },
  IsInf: {
    bool: true,
    build(a, [x], attrs) {
      const inf = a.map("isinf", x!);
      const positive = float(attrs, "detect_positive", 1),
        negative = float(attrs, "detect_negative", 1);
      if (positive && negative) return inf;
      if (!positive && !negative) return a.map("mul", inf, a.scalar(0));
      return a.map("and", inf, a.map(positive ? "greater" : "less", x!, a.scalar(0)));
    },
  },
  /** x ≥ 0 ? x : alpha · x, as max(x, 0) + alpha · min(x, 0). */
  LeakyRelu: {
    build: (a, [x], attrs) =>
      a.map("add", a.map("max", x!, a.scalar(0)), a.map("mul", a.map("min", x!, a.scalar(0)), a.scalar(float(attrs, "alpha", 0.01)))),
  },
  PRelu: { build: (a, [x, slope]) => a.map("add", a.map("max", x!, a.scalar(0)), a.map("mul", a.map("min", x!, a.scalar(0)), slope!)) },
  Elu: { build: (a, [x], attrs) => elu(a, x!, float(attrs, "alpha", 1)) },
  Selu: {
    build: (a, [x], attrs) =>
      a.map(
        "mul",
        elu(a, x!, float(attrs, "alpha", 1.67326319217681884765625)),
        a.scalar(float(attrs, "gamma", 1.05070102214813232421875)),
      ),
  },
  /** max(0, x) + min(0, alpha · (e^(x / alpha) − 1)) */
  Celu: {
    build(a, [x], attrs) {
      const alpha = float(attrs, "alpha", 1);
      const e = a.map("mul", a.map("sub", a.map("exp", a.map("mul", x!, a.scalar(1 / alpha))), a.scalar(1)), a.scalar(alpha));
      return a.map("add", a.map("max", x!, a.scalar(0)), a.map("min", e, a.scalar(0)));
    },
  },
  ThresholdedRelu: {
    build: (a, [x], attrs) => a.map("where", a.map("greater", x!, a.scalar(float(attrs, "alpha", 1))), x!, a.scalar(0)),
  },
  HardSigmoid: { build: (a, [x], attrs) => hardSigmoid(a, x!, float(attrs, "alpha", 0.2), float(attrs, "beta", 0.5)) },
  HardSwish: { build: (a, [x]) => a.map("mul", x!, hardSigmoid(a, x!, 1 / 6, 0.5)) },
  /** log(e^x + 1) */
  Softplus: { build: (a, [x]) => a.map("log", a.map("add", a.map("exp", x!), a.scalar(1))) },
  /** x / (1 + |x|) */
  Softsign: { build: (a, [x]) => a.map("div", x!, a.map("add", a.map("abs", x!), a.scalar(1))) },
  /** x < −lambd ? x + bias : x > lambd ? x − bias : 0 */
  Shrink: {
    build(a, [x], attrs) {
      const lambd = float(attrs, "lambd", 0.5),
        bias = float(attrs, "bias", 0);
      const above = a.map("where", a.map("greater", x!, a.scalar(lambd)), a.map("sub", x!, a.scalar(bias)), a.scalar(0));
      return a.map("where", a.map("less", x!, a.scalar(-lambd)), a.map("add", x!, a.scalar(bias)), above);
    },
  },
  /** min(max(x, lo), hi), the bounds inputs from opset 11 and attributes before; either may be absent. */
  Clip: {
    build(a, [x, lo, hi], attrs, opset) {
      const low = opset < 11 ? (typeof attrs.min === "number" ? a.scalar(attrs.min) : undefined) : lo;
      const high = opset < 11 ? (typeof attrs.max === "number" ? a.scalar(attrs.max) : undefined) : hi;
      const floored = low === undefined ? x! : a.map("max", x!, low);
      return high === undefined ? floored : a.map("min", floored, high);
    },
  },
};
