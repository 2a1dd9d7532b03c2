/**
 * General tensor ops with static shapes, for graphs that arrive op by op (the ONNX frontend):
 * elementwise maps with broadcasting, strided copies (transpose, slice, expand, reshape),
 * concatenation, batched matrix products, reductions and softmax. Every shape is a number here.
 */
import { SeecError } from "../../../runtime/errors.js";
import { toBfloat16 } from "../../util/float16.js";
import { entryDim, isSymbolic } from "../affine.js";
import type { Attrs, Dim, Shape, ValueType } from "../graph.js";
import { allocate } from "../graph.js";
import type { OpDef, Tensor } from "./op.js";
import { fail, num, nums, oneOf } from "./op.js";

const numbers = (shape: readonly (number | string)[], node: string): number[] =>
  shape.map((d) => (typeof d === "number" ? d : fail(node, `tensor ops need static shapes; dimension "${d}" is symbolic`)));
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, k = 1; i >= 0; i--) ((s[i] = k), (k *= shape[i]));
  return s;
}

/** Element strides that read a tensor of `shape` broadcast to `out` (0 along broadcast axes). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const s = stridesOf(shape);
  const offset = out.length - shape.length;
  return out.map((_, d) => (d < offset || shape[d - offset] === 1 ? 0 : s[d - offset]));
}

/** The broadcast shape of several shapes (numpy rules); `node` names the IR node, or a callback raises the caller's own error. */
export function broadcastShapes(shapes: readonly (readonly number[])[], node: string | ((message: string) => never)): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    let d = 1;
    for (const s of shapes) {
      const k = s[i - rank + s.length] ?? 1;
      if (k !== 1 && d !== 1 && k !== d) {
        const message = `shapes ${shapes.map((x) => `[${x.join(", ")}]`).join(" and ")} do not broadcast`;
        if (typeof node === "string") fail(node, message);
        node(message);
      }
      if (k !== 1) d = k;
    }
    return d;
  });
}

/**
 * broadcastShapes over dimensions that may be symbolic: a symbolic dimension broadcasts against 1
 * and itself only (its size is the call's, so it cannot be checked against a number here).
 */
export function broadcastDims(shapes: readonly Shape[], node: string): Dim[] {
  if (shapes.every((s) => s.every((d) => typeof d === "number"))) return broadcastShapes(shapes as number[][], node);
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s[i - rank + s.length] ?? 1;
      if (k !== 1 && d !== 1 && k !== d) fail(node, `shapes ${shapes.map((x) => `[${x.join(", ")}]`).join(" and ")} do not broadcast`);
      if (k !== 1) d = k;
    }
    return d;
  });
}

/** Output shape and per-operand strides with neighbouring dimensions merged where every operand allows it. */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims = shape.map((d, i) => ({ d, s: strides.map((st) => st[i]) })).filter((x) => x.d !== 1);
  const out: { d: number; s: number[] }[] = [];
  for (const x of dims) {
    const prev = out[out.length - 1];
    if (prev && prev.s.every((s, k) => s === x.s[k] * x.d)) {
      prev.d *= x.d;
      prev.s = x.s.slice();
    } else out.push({ d: x.d, s: x.s.slice() });
  }
  if (out.length === 0) out.push({ d: 1, s: strides.map(() => 0) });
  return { shape: out.map((x) => x.d), strides: strides.map((_, k) => out.map((x) => x.s[k])) };
}

/** The type a map computes in: the operands' type, except that mixed or float operands compute in f32 (where's condition aside). */
export function mapComputeType(fn: string, operands: readonly ("f32" | "i32")[]): "f32" | "i32" {
  const values = fn === "where" ? operands.slice(1) : operands;
  return values.every((t) => t === "i32") ? "i32" : "f32";
}

/** Calls f(outIndex, [offset into each operand]) for every element of `out`. */
function forEachIndex(out: readonly number[], strides: readonly (readonly number[])[], f: (i: number, at: number[]) => void): void {
  const n = size(out);
  const os = stridesOf(out);
  const at = strides.map(() => 0);
  for (let i = 0; i < n; i++) {
    let r = i;
    at.fill(0);
    for (let d = 0; d < out.length; d++) {
      const c = Math.floor(r / os[d]);
      r -= c * os[d];
      for (let k = 0; k < strides.length; k++) at[k] += c * strides[k][d];
    }
    f(i, at);
  }
}

/**
 * The elementwise functions a Map applies, by name, with their arity. Comparisons and logic
 * give 0 or 1; `trunc` is a cast to an integer type, `bool` a cast to bool.
 */
export const MAP_FUNCTIONS = {
  add: { arity: 2, f: (a, b) => a + b },
  sub: { arity: 2, f: (a, b) => a - b },
  mul: { arity: 2, f: (a, b) => a * b },
  div: { arity: 2, f: (a, b) => a / b },
  divInt: { arity: 2, f: (a, b) => Math.trunc(a / b) },
  pow: { arity: 2, f: (a, b) => a ** b },
  max: { arity: 2, f: Math.max },
  min: { arity: 2, f: Math.min },
  equal: { arity: 2, f: (a, b) => +(a === b) },
  less: { arity: 2, f: (a, b) => +(a < b) },
  lessOrEqual: { arity: 2, f: (a, b) => +(a <= b) },
  greater: { arity: 2, f: (a, b) => +(a > b) },
  greaterOrEqual: { arity: 2, f: (a, b) => +(a >= b) },
  and: { arity: 2, f: (a, b) => +(a !== 0 && b !== 0) },
  or: { arity: 2, f: (a, b) => +(a !== 0 || b !== 0) },
  where: { arity: 3, f: (c, a, b) => (c !== 0 ? a : b) },
  copy: { arity: 1, f: (a) => a },
  trunc: { arity: 1, f: Math.trunc },
  bool: { arity: 1, f: (a) => +(a !== 0) },
  not: { arity: 1, f: (a) => +(a === 0) },
  neg: { arity: 1, f: (a) => -a },
  abs: { arity: 1, f: Math.abs },
  sqrt: { arity: 1, f: Math.sqrt },
  reciprocal: { arity: 1, f: (a) => 1 / a },
  exp: { arity: 1, f: Math.exp },
  log: { arity: 1, f: Math.log },
  tanh: { arity: 1, f: Math.tanh },
  sigmoid: { arity: 1, f: (a) => 1 / (1 + Math.exp(-a)) },
  relu: { arity: 1, f: (a) => Math.max(a, 0) },
  sin: { arity: 1, f: Math.sin },
  cos: { arity: 1, f: Math.cos },
  erf: { arity: 1, f: (a) => erf(a) },
  gelu: { arity: 1, f: (a) => 0.5 * a * (1 + erf(a / Math.SQRT2)) },
  geluTanh: { arity: 1, f: (a) => 0.5 * a * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a))) },
  /** Floored modulo (the result takes the divisor's sign; Python's %). */
  mod: { arity: 2, f: (a, b) => a - Math.floor(a / b) * b },
  /** Truncated modulo (the result takes the dividend's sign; C's fmod). */
  fmod: { arity: 2, f: (a, b) => a % b },
  xor: { arity: 2, f: (a, b) => +((a !== 0) !== (b !== 0)) },
  sign: { arity: 1, f: Math.sign },
  floor: { arity: 1, f: Math.floor },
  ceil: { arity: 1, f: Math.ceil },
  /** To the nearest integer, halves to even (IEEE roundeven: wasm's nearest, WGSL's round). */
  round: { arity: 1, f: roundHalfEven },
  isinf: { arity: 1, f: (a) => +(a === Infinity || a === -Infinity) },
  isnan: { arity: 1, f: (a) => +Number.isNaN(a) },
  tan: { arity: 1, f: Math.tan },
  asin: { arity: 1, f: Math.asin },
  acos: { arity: 1, f: Math.acos },
  atan: { arity: 1, f: Math.atan },
  sinh: { arity: 1, f: Math.sinh },
  cosh: { arity: 1, f: Math.cosh },
  asinh: { arity: 1, f: Math.asinh },
  acosh: { arity: 1, f: Math.acosh },
  atanh: { arity: 1, f: Math.atanh },
  /** The nearest bfloat16 (ties to even), held in f32: a Cast to bfloat16. */
  bfloat16: { arity: 1, f: toBfloat16 },
  /** Shifts of an i32's bits (the count taken modulo 32, as wasm and WGSL take it); shr fills with zeros. */
  shl: { arity: 2, f: (a, b) => a << b },
  shr: { arity: 2, f: (a, b) => a >>> b },
} satisfies Record<string, { arity: number; f: (...x: number[]) => number }>;

/** A Map's `fn`: every backend's table of map expressions is declared against this set. */
export type MapFunction = keyof typeof MAP_FUNCTIONS;

export function isMapFunction(fn: unknown): fn is MapFunction {
  return typeof fn === "string" && Object.hasOwn(MAP_FUNCTIONS, fn);
}

function roundHalfEven(a: number): number {
  const r = Math.round(a);
  return r - a === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** erf within 5e-11 (Maclaurin series below 4, which loses digits toward 4; ±1 beyond): the reference for the kernels' erf. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 4) return Math.sign(x);
  let term = a,
    sum = a;
  for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (-a * a) / n;
    sum += term / (2 * n + 1);
  }
  return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
}

/** Map's attributes: the function, and the element type it writes. */
export interface MapAttrs {
  fn: MapFunction;
  dtype: "f32" | "i32";
}

export function mapAttrs(attrs: Attrs): MapAttrs {
  return { fn: oneOf(attrs, "fn", MAP_FUNCTIONS), dtype: oneOf(attrs, "dtype", { f32: 1, i32: 1 }) };
}

/** Map: y = fn(inputs...), broadcast, in the output dtype (attrs fn, dtype). */
export const Map: OpDef = {
  infer(inputs, attrs, node) {
    const fn = isMapFunction(attrs.fn) ? MAP_FUNCTIONS[attrs.fn] : fail(node, `unknown map function ${attrs.fn}`);
    if (inputs.length !== fn.arity) fail(node, `${attrs.fn} takes ${fn.arity} inputs, got ${inputs.length}`);
    return [
      {
        dtype: mapAttrs(attrs).dtype,
        shape: broadcastDims(
          inputs.map((t) => t.shape),
          node,
        ),
      },
    ];
  },
  run(inputs, attrs) {
    const out = broadcastShapes(
      inputs.map((t) => t.shape),
      "",
    );
    const { fn, dtype } = mapAttrs(attrs);
    const { f } = MAP_FUNCTIONS[fn] as { f: (...x: number[]) => number };
    const y = allocate(dtype, size(out));
    const strides = inputs.map((t) => broadcastStrides(t.shape, out));
    const args = inputs.map(() => 0);
    forEachIndex(out, strides, (i, at) => {
      inputs.forEach((t, k) => (args[k] = t.data[at[k]]));
      y[i] = f(...args);
    });
    return [{ shape: out, data: y }];
  },
};

/** Copy's attributes: the box it reads (`shape`, `strides`, `offset`), and the shape it stores. */
export interface CopyAttrs {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
  /** The output's shape: `shape` unless the attribute names another of the same size. */
  outShape: readonly number[];
}

export function copyAttrs(attrs: Attrs): CopyAttrs {
  const shape = nums(attrs, "shape");
  return {
    shape,
    strides: nums(attrs, "strides"),
    offset: num(attrs, "offset"),
    outShape: attrs.outShape === undefined ? shape : nums(attrs, "outShape"),
  };
}

/** Copy's attributes where entries may be a·T + b (ir/affine.ts): as written, numbers or strings. */
export interface SymbolicCopyAttrs {
  shape: readonly (number | string)[];
  strides: readonly (number | string)[];
  offset: number | string;
  outShape: readonly (number | string)[];
}

export function symbolicCopyAttrs(attrs: Attrs): SymbolicCopyAttrs {
  const list = (key: string) => {
    const v = attrs[key];
    if (typeof v !== "object") throw new SeecError("internal.ir", `attribute "${key}" must be a list`);
    return v;
  };
  const shape = list("shape");
  const offset = attrs.offset;
  if (typeof offset === "object" || offset === undefined) throw new SeecError("internal.ir", `attribute "offset" must be a number`);
  return { shape, strides: list("strides"), offset, outShape: attrs.outShape === undefined ? shape : list("outShape") };
}

/**
 * Copy: y[i] = x[offset + Σ i_d · strides[d]] for i over `shape`, stored with shape `outShape`
 * (default `shape`): transpose, slice, expand, tile and reshape are all this.
 */
export const Copy: OpDef = {
  infer([x], attrs, node) {
    if (isSymbolic(attrs)) {
      // Built for any T up to a maximum: the frontend checked the reads at four token counts (onnx/dynamic.ts).
      const { shape, strides, outShape } = symbolicCopyAttrs(attrs);
      if (shape.length !== strides.length) fail(node, "Copy needs one stride per output dimension");
      return [{ dtype: x.dtype, shape: outShape.map((d) => entryDim(d, node)) }];
    }
    const { shape, strides, offset, outShape } = copyAttrs(attrs);
    if (shape.length !== strides.length) fail(node, "Copy needs one stride per output dimension");
    if (size(outShape) !== size(shape)) fail(node, `Copy stores ${size(shape)} elements as [${outShape.join(", ")}]`);
    const X = numbers(x.shape, node);
    const last = offset + shape.reduce((a, d, i) => a + (d - 1) * Math.max(strides[i], 0), 0);
    if (size(shape) > 0 && (last >= size(X) || offset < 0)) fail(node, `Copy reads past the end of [${X.join(", ")}]`);
    return [{ dtype: x.dtype, shape: [...outShape] }];
  },
  run([x], attrs) {
    const { shape, strides, offset, outShape } = copyAttrs(attrs);
    const y = allocate(x.data instanceof Float32Array ? "f32" : x.data instanceof Int8Array ? "i8" : "i32", size(shape));
    forEachIndex([...shape], [strides], (i, [at]) => (y[i] = x.data[offset + at]));
    return [{ shape: [...outShape], data: y }];
  },
};

/** Concat's attribute: the axis its inputs are joined along. */
export function concatAttrs(attrs: Attrs): { axis: number } {
  return { axis: num(attrs, "axis") };
}

/** Concat: inputs joined along `axis`. */
export const Concat: OpDef = {
  infer(inputs, attrs, node) {
    const shapes = inputs.map((t) => numbers(t.shape, node));
    const { axis } = concatAttrs(attrs);
    const shape = shapes[0].slice();
    shape[axis] = shapes.reduce((n, s) => n + s[axis], 0);
    if (shapes.some((s) => s.length !== shape.length || s.some((d, i) => i !== axis && d !== shape[i])))
      fail(node, "Concat inputs differ off the axis");
    return [{ dtype: inputs[0].dtype, shape }];
  },
  run(inputs, attrs) {
    const { axis } = concatAttrs(attrs);
    const shape = inputs[0].shape.slice();
    shape[axis] = inputs.reduce((n, t) => n + t.shape[axis], 0);
    const y = allocate(inputs[0].data instanceof Float32Array ? "f32" : "i32", size(shape));
    const outer = size(shape.slice(0, axis)),
      inner = size(shape.slice(axis + 1));
    let offset = 0;
    for (const t of inputs) {
      const w = t.shape[axis] * inner;
      for (let o = 0; o < outer; o++) y.set(t.data.subarray(o * w, (o + 1) * w), o * shape[axis] * inner + offset);
      offset += w;
    }
    return [{ shape, data: y }];
  },
};

/** MatMul: a [..., M, K] · b [..., K, N] with broadcast batch axes (both at least 2-D here). */
export const MatMul: OpDef = {
  infer([a, b], _attrs, node) {
    const A = numbers(a.shape, node),
      B = numbers(b.shape, node);
    if (A.length < 2 || B.length < 2 || A.at(-1) !== B.at(-2)) fail(node, `MatMul of [${A.join(", ")}] and [${B.join(", ")}]`);
    return [{ dtype: "f32", shape: [...broadcastShapes([A.slice(0, -2), B.slice(0, -2)], node), A.at(-2)!, B.at(-1)!] }];
  },
  run([a, b]) {
    const [M, K] = a.shape.slice(-2),
      N = b.shape.at(-1)!;
    const batch = broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)], "");
    const y = new Float32Array(size(batch) * M * N);
    forEachIndex(batch, [broadcastStrides(a.shape.slice(0, -2), batch), broadcastStrides(b.shape.slice(0, -2), batch)], (p, [ai, bi]) => {
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += a.data[ai * M * K + i * K + k] * b.data[bi * K * N + k * N + j];
          y[p * M * N + i * N + j] = acc;
        }
    });
    return [{ shape: [...batch, M, N], data: y }];
  },
};

/** What Reduce computes over its axes. */
export type ReduceFunction = "sum" | "mean" | "max" | "min" | "prod";

/** Each reduction's start value and step. */
export const REDUCE_FUNCTIONS: Readonly<Record<ReduceFunction, { init: number; step: (acc: number, x: number) => number }>> = {
  sum: { init: 0, step: (acc, x) => acc + x },
  mean: { init: 0, step: (acc, x) => acc + x },
  max: { init: -Infinity, step: Math.max },
  min: { init: Infinity, step: Math.min },
  prod: { init: 1, step: (acc, x) => acc * x },
};

/** Reduce's attributes: what it computes, over which axes. */
export interface ReduceAttrs {
  fn: ReduceFunction;
  axes: readonly number[];
}

export function reduceAttrs(attrs: Attrs): ReduceAttrs {
  return { fn: oneOf(attrs, "fn", REDUCE_FUNCTIONS), axes: nums(attrs, "axes") };
}

/** Reduce: sum, mean, max, min or product over `axes`, which stay as size-1 dimensions. */
export const Reduce: OpDef = {
  infer([x], attrs, node) {
    if (typeof attrs.fn !== "string" || !Object.hasOwn(REDUCE_FUNCTIONS, attrs.fn)) fail(node, `unknown reduction ${attrs.fn}`);
    const axes = new Set(reduceAttrs(attrs).axes);
    return [{ dtype: x.dtype, shape: numbers(x.shape, node).map((d, i) => (axes.has(i) ? 1 : d)) }];
  },
  run([x], attrs) {
    const { fn, axes: listed } = reduceAttrs(attrs);
    const axes = new Set(listed);
    const shape = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const { init, step } = REDUCE_FUNCTIONS[fn];
    const y = new Float32Array(size(shape)).fill(init);
    forEachIndex(x.shape, [broadcastStrides(shape, x.shape)], (i, [at]) => (y[at] = step(y[at], x.data[i])));
    if (fn === "mean") y.forEach((v, i) => (y[i] = v / (size(x.shape) / size(shape))));
    return [{ shape, data: y }];
  },
};

/** Softmax over the last axis. */
export const Softmax: OpDef = {
  infer([x], _attrs, node): ValueType[] {
    return [{ dtype: "f32", shape: numbers(x.shape, node) }];
  },
  run([x]): Tensor[] {
    const D = x.shape.at(-1)!;
    const y = new Float32Array(x.data.length);
    for (let r = 0; r < y.length / D; r++) {
      let m = -Infinity,
        s = 0;
      for (let i = 0; i < D; i++) m = Math.max(m, x.data[r * D + i]);
      for (let i = 0; i < D; i++) s += y[r * D + i] = Math.exp(x.data[r * D + i] - m);
      for (let i = 0; i < D; i++) y[r * D + i] /= s;
    }
    return [{ shape: x.shape, data: y }];
  },
};
