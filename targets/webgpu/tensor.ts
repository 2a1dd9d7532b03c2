/**
 * The general tensor ops in WGSL, for graphs imported op by op (ONNX): elementwise maps with
 * broadcasting, strided copies, concatenation, batched matrix products, reductions and softmax.
 * Each kernel has the node's shapes and strides written in, with dimensions contiguous in every
 * operand merged first (as the wasm backend does); in a graph built for any length they are
 * expressions of the call's T (params.T), and so are the kernels' thread counts.
 */
import type { Node } from "../../compiler/ir/graph.js";
import { broadcastPolyStrides, coalescePolys, isSymbolic, Poly, polyProduct } from "../../compiler/ir/affine.js";
import {
  concatAttrs,
  copyAttrs,
  mapAttrs,
  mapComputeType,
  reduceAttrs,
  symbolicCopyAttrs,
  type MapFunction,
  type ReduceFunction,
} from "../../compiler/ir/ops/tensor.js";
import { SeecError } from "../../runtime/errors.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";
import type { OpName } from "../../compiler/ir/op-names.js";
import {
  elementCountOf,
  elementwise,
  f32,
  type Generator,
  type KernelContext,
  perRow,
  polys,
  reduce,
  T_DIM,
  wgslPoly,
  WORKGROUP,
} from "./wgsl.js";

const product = (dims: readonly Poly[]) => polyProduct(dims, T_DIM);
const coalesce = (shape: readonly Poly[], strides: readonly (readonly Poly[])[]) => coalescePolys(shape, strides, T_DIM);
const broadcast = (shape: readonly (number | string)[], out: readonly Poly[]) => broadcastPolyStrides(shape, out, T_DIM);
/** u32 and i32 WGSL of a polynomial in T. */
const u = (p: Poly) => wgslPoly(p);
const i = (p: Poly) => wgslPoly(p, "i32");

function bufferType(c: KernelContext, n: Node, t: string): "f32" | "i32" {
  const dtype = c.dtype(t);
  if (dtype === "i8")
    throw new SeecError("unsupported.webgpu", `the WebGPU backend has no ${n.op} over int8 tensors`, {
      at: `node ${n.name}`,
      hint: "build for wasm-simd",
    });
  return dtype;
}

/**
 * Statements splitting the flat index `flat` into coordinates over `shape` (innermost first), and
 * each operand's element offset as an i32 expression (strides may be negative).
 */
function indexer(flat: string, shape: Poly[], strides: Poly[][], prefix = "c"): { lines: string[]; offset: (k: number) => string } {
  const lines = [`  var ${prefix}r = i32(${flat});`];
  for (let d = shape.length - 1; d >= 0; d--) {
    if (d === 0) lines.push(`  let ${prefix}${d} = ${prefix}r;`);
    else lines.push(`  let ${prefix}${d} = ${prefix}r % ${i(shape[d])};`, `  ${prefix}r = ${prefix}r / ${i(shape[d])};`);
  }
  const offset = (k: number) => {
    const terms = shape
      .map((_, d) => {
        const s = strides[k][d];
        return s.constant === 0 ? "" : s.constant === 1 ? `${prefix}${d}` : `${prefix}${d} * ${i(s)}`;
      })
      .filter(Boolean);
    return terms.length ? terms.join(" + ") : "0";
  };
  return { lines, offset };
}

/** WGSL helpers the map expressions call. */
const MAP_HELPERS: Record<string, string> = {
  erf: [
    `/** erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), as the wasm kernels compute it. */`,
    `fn erf(x: f32) -> f32 {`,
    `  let a = abs(x);`,
    `  let t = 1.0 / (1.0 + 0.3275911 * a);`,
    `  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));`,
    `  return sign(x) * (1.0 - poly * exp(-a * a));`,
    `}`,
  ].join("\n"),
  bfloat16: [
    `/** The nearest bfloat16 (ties to even), held in f32; NaN stays NaN. */`,
    `fn bfloat16(x: f32) -> f32 {`,
    `  let b = bitcast<u32>(x);`,
    `  return select(bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u), x, x != x);`,
    `}`,
  ].join("\n"),
};

/**
 * Each map function in WGSL over operands loaded in the compute type t (where's condition in its own):
 * the expression, and whether it is a condition (stored as 0 or 1).
 */
const EXPRESSIONS: Record<MapFunction, (x: string[], zero: string) => { e: string; condition?: true; helper?: string; float?: true }> = {
  add: ([a, b]) => ({ e: `${a} + ${b}` }),
  sub: ([a, b]) => ({ e: `${a} - ${b}` }),
  mul: ([a, b]) => ({ e: `${a} * ${b}` }),
  div: ([a, b]) => ({ e: `${a} / ${b}` }),
  divInt: ([a, b]) => ({ e: `${a} / ${b}` }),
  pow: ([a, b]) => ({ e: `pow(${a}, ${b})`, float: true }),
  max: ([a, b]) => ({ e: `max(${a}, ${b})` }),
  min: ([a, b]) => ({ e: `min(${a}, ${b})` }),
  equal: ([a, b]) => ({ e: `${a} == ${b}`, condition: true }),
  less: ([a, b]) => ({ e: `${a} < ${b}`, condition: true }),
  lessOrEqual: ([a, b]) => ({ e: `${a} <= ${b}`, condition: true }),
  greater: ([a, b]) => ({ e: `${a} > ${b}`, condition: true }),
  greaterOrEqual: ([a, b]) => ({ e: `${a} >= ${b}`, condition: true }),
  and: ([a, b], z) => ({ e: `${a} != ${z} && ${b} != ${z}`, condition: true }),
  or: ([a, b], z) => ({ e: `${a} != ${z} || ${b} != ${z}`, condition: true }),
  where: ([c, a, b]) => ({ e: `select(${b}, ${a}, ${c} != 0)` }),
  copy: ([a]) => ({ e: a }),
  trunc: ([a]) => ({ e: `trunc(${a})`, float: true }),
  bool: ([a], z) => ({ e: `${a} != ${z}`, condition: true }),
  not: ([a], z) => ({ e: `${a} == ${z}`, condition: true }),
  neg: ([a]) => ({ e: `-${a}` }),
  abs: ([a]) => ({ e: `abs(${a})` }),
  sqrt: ([a]) => ({ e: `sqrt(${a})`, float: true }),
  reciprocal: ([a]) => ({ e: `1.0 / ${a}`, float: true }),
  exp: ([a]) => ({ e: `exp(${a})`, float: true }),
  log: ([a]) => ({ e: `log(${a})`, float: true }),
  tanh: ([a]) => ({ e: `tanh(${a})`, float: true }),
  sigmoid: ([a]) => ({ e: `1.0 / (1.0 + exp(-${a}))`, float: true }),
  relu: ([a], z) => ({ e: `max(${a}, ${z})` }),
  sin: ([a]) => ({ e: `sin(${a})`, float: true }),
  cos: ([a]) => ({ e: `cos(${a})`, float: true }),
  erf: ([a]) => ({ e: `erf(${a})`, helper: "erf", float: true }),
  gelu: ([a]) => ({ e: `0.5 * ${a} * (1.0 + erf(${a} * ${f32(Math.SQRT1_2)}))`, helper: "erf", float: true }),
  geluTanh: ([a]) => ({
    e: `0.5 * ${a} * (1.0 + tanh(${f32(Math.sqrt(2 / Math.PI))} * (${a} + 0.044715 * ${a} * ${a} * ${a})))`,
    float: true,
  }),
  // i32: the remainder moved to the divisor's sign; f32: a - floor(a / b) · b.
  mod: ([a, b], z) => ({
    e:
      z === "0"
        ? `select(${a} % ${b}, ${a} % ${b} + ${b}, ${a} % ${b} != 0 && ((${a} % ${b}) < 0) != (${b} < 0))`
        : `${a} - floor(${a} / ${b}) * ${b}`,
  }),
  // WGSL's % truncates, for integers and floats alike.
  fmod: ([a, b]) => ({ e: `${a} % ${b}` }),
  xor: ([a, b], z) => ({ e: `(${a} != ${z}) != (${b} != ${z})`, condition: true }),
  sign: ([a]) => ({ e: `sign(${a})`, float: true }),
  floor: ([a]) => ({ e: `floor(${a})`, float: true }),
  ceil: ([a]) => ({ e: `ceil(${a})`, float: true }),
  // WGSL's round takes halves to even.
  round: ([a]) => ({ e: `round(${a})`, float: true }),
  isinf: ([a]) => ({ e: `abs(${a}) > 3.40282347e38`, condition: true, float: true }),
  isnan: ([a]) => ({ e: `${a} != ${a}`, condition: true, float: true }),
  tan: ([a]) => ({ e: `tan(${a})`, float: true }),
  asin: ([a]) => ({ e: `asin(${a})`, float: true }),
  acos: ([a]) => ({ e: `acos(${a})`, float: true }),
  atan: ([a]) => ({ e: `atan(${a})`, float: true }),
  sinh: ([a]) => ({ e: `sinh(${a})`, float: true }),
  cosh: ([a]) => ({ e: `cosh(${a})`, float: true }),
  asinh: ([a]) => ({ e: `asinh(${a})`, float: true }),
  acosh: ([a]) => ({ e: `acosh(${a})`, float: true }),
  atanh: ([a]) => ({ e: `atanh(${a})`, float: true }),
  bfloat16: ([a]) => ({ e: `bfloat16(${a})`, helper: "bfloat16", float: true }),
  // Shift counts modulo 32, as wasm's; shr fills with zeros.
  shl: ([a, b]) => ({ e: `${a} << (u32(${b}) & 31u)` }),
  shr: ([a, b]) => ({ e: `i32(u32(${a}) >> (u32(${b}) & 31u))` }),
};

function map(n: Node, c: KernelContext): GpuDispatch[] {
  const { fn, dtype: outType } = mapAttrs(n.attrs);
  const out = polys(c.shape(n.outputs[0]));
  const types = n.inputs.map((t) => bufferType(c, n, t));
  const probe = EXPRESSIONS[fn](
    n.inputs.map(() => "x"),
    "0",
  );
  // Float-only functions compute in f32 whatever the operands (the values agree for integers in range).
  const t = probe.float ? "f32" : mapComputeType(fn, types);
  const { shape, strides } = coalesce(
    out,
    n.inputs.map((x) => broadcast(c.shape(x), out)),
  );
  const ix = indexer("i", shape, strides);
  const load = (k: number) => {
    const raw = `t${k}[${ix.offset(k)}]`;
    const want = fn === "where" && k === 0 ? types[0] : t;
    return types[k] === want ? raw : `${want}(${raw})`;
  };
  const { e, condition, helper } = EXPRESSIONS[fn](
    n.inputs.map((_, k) => load(k)),
    t === "f32" ? "0.0" : "0",
  );
  const value = condition ? `select(${outType === "f32" ? "0.0, 1.0" : "0, 1"}, ${e})` : t === outType ? e : `${outType}(${e})`;
  const o = n.inputs.length;
  return [
    elementwise(
      n,
      [...n.inputs, n.outputs[0]],
      [...types, outType],
      [o],
      elementCountOf(out, `node ${n.name}`),
      [
        `  // ${fn}: [${c.shape(n.outputs[0]).join(", ")}] from ${n.inputs.map((x) => `[${c.shape(x).join(", ")}]`).join(", ")}`,
        ...ix.lines,
        `  t${o}[i] = ${value};`,
      ].join("\n"),
      helper ? MAP_HELPERS[helper] : "",
    ),
  ];
}

/** y[i] = x[offset + Σ i_d · strides[d]] (transpose, slice, expand, tile, reshape). */
function copy(n: Node, c: KernelContext): GpuDispatch[] {
  const attrs = isSymbolic(n.attrs) ? symbolicCopyAttrs(n.attrs) : copyAttrs(n.attrs);
  const iter = polys(attrs.shape),
    from = polys(attrs.strides),
    offset = Poly.of(attrs.offset, T_DIM);
  const type = bufferType(c, n, n.inputs[0]);
  const { shape, strides } = coalesce(iter, [from]);
  const ix = indexer("i", shape, strides);
  return [
    elementwise(
      n,
      [n.inputs[0], n.outputs[0]],
      [type, type],
      [1],
      elementCountOf(iter, `node ${n.name}`),
      [
        `  // copy [${iter.join(", ")}] with strides [${from.join(", ")}] from offset ${offset}`,
        ...ix.lines,
        `  t1[i] = t0[${offset.constant === 0 ? "" : `${i(offset)} + `}${ix.offset(0)}];`,
      ].join("\n"),
    ),
  ];
}

/** One dispatch per input, each writing its slab of the output. */
function concat(n: Node, c: KernelContext): GpuDispatch[] {
  const { axis } = concatAttrs(n.attrs);
  const out = polys(c.shape(n.outputs[0]));
  const inner = product(out.slice(axis + 1)),
    W = out[axis].times(inner);
  const type = bufferType(c, n, n.inputs[0]);
  let offset = Poly.of(0, T_DIM);
  return n.inputs.map((x, k) => {
    const shape = polys(c.shape(x));
    const w = shape[axis].times(inner);
    const d = elementwise(
      { ...n, name: `${n.name}.${k}` },
      [x, n.outputs[0]],
      [type, type],
      [1],
      elementCountOf(shape, `node ${n.name}`),
      `  t1[(i / ${u(w)}) * ${u(W)} + ${u(offset)} + i % ${u(w)}] = t0[i];`,
    );
    offset = offset.plus(w);
    return d;
  });
}

/** a [..., M, K] · b [..., K, N], one thread per output. */
function matmul(n: Node, c: KernelContext): GpuDispatch[] {
  const [aShape, bShape] = n.inputs.map((t) => c.shape(t));
  const [a, b] = [aShape, bShape].map(polys);
  const out = polys(c.shape(n.outputs[0]));
  const [M, K] = a.slice(-2),
    N = b.at(-1)!;
  const batch = out.slice(0, -2);
  const { shape, strides } = coalesce(batch, [broadcast(aShape.slice(0, -2), batch), broadcast(bShape.slice(0, -2), batch)]);
  const ix = indexer(`i / ${u(M.times(N))}`, shape, strides);
  return [
    elementwise(
      n,
      [...n.inputs, n.outputs[0]],
      ["f32", "f32", "f32"],
      [2],
      elementCountOf(out, `node ${n.name}`),
      [
        `  // [${aShape.join(", ")}] · [${bShape.join(", ")}]`,
        ...ix.lines,
        `  let row = (i / ${u(N)}) % ${u(M)};`,
        `  let col = i % ${u(N)};`,
        `  let ao = u32(${ix.offset(0)}) * ${u(M.times(K))} + row * ${u(K)};`,
        `  let bo = u32(${ix.offset(1)}) * ${u(K.times(N))} + col;`,
        `  var acc = 0.0;`,
        `  for (var k = 0u; k < ${u(K)}; k = k + 1u) { acc = acc + t0[ao + k] * t1[bo + k * ${u(N)}]; }`,
        `  t2[i] = acc;`,
      ].join("\n"),
    ),
  ];
}

/** Each reduction's start value and step in WGSL. */
const REDUCTIONS: Record<ReduceFunction, { init: string; step: (acc: string, x: string) => string }> = {
  sum: { init: "0.0", step: (acc, x) => `${acc} + ${x}` },
  mean: { init: "0.0", step: (acc, x) => `${acc} + ${x}` },
  max: { init: "-3.402823e38", step: (acc, x) => `max(${acc}, ${x})` },
  min: { init: "3.402823e38", step: (acc, x) => `min(${acc}, ${x})` },
  prod: { init: "1.0", step: (acc, x) => `${acc} * ${x}` },
};

/** A reduction over `axes` (kept as size 1), one thread per output over its reduced elements. */
function reduceOp(n: Node, c: KernelContext): GpuDispatch[] {
  const { fn, axes: listed } = reduceAttrs(n.attrs);
  const x = polys(c.shape(n.inputs[0])),
    y = polys(c.shape(n.outputs[0]));
  const axes = new Set(listed);
  const xs = Poly.strides(x, T_DIM);
  const outer = coalesce(y, [xs]);
  const reduced = x.map((d, k) => (axes.has(k) ? d : Poly.of(1, T_DIM)));
  const inner = coalesce(reduced, [xs]);
  const o = indexer("i", outer.shape, outer.strides);
  const r = indexer("r", inner.shape, inner.strides, "k");
  const count = product(reduced);
  const type = bufferType(c, n, n.inputs[0]);
  const value = type === "f32" ? `t0[base + ${r.offset(0)}]` : `f32(t0[base + ${r.offset(0)}])`;
  const result = fn === "mean" ? `acc / ${count.constant !== undefined ? f32(count.constant) : `f32(${u(count)})`}` : "acc";
  return [
    elementwise(
      n,
      [n.inputs[0], n.outputs[0]],
      [type, type],
      [1],
      elementCountOf(y, `node ${n.name}`),
      [
        `  // ${fn} of [${c.shape(n.inputs[0]).join(", ")}] to [${c.shape(n.outputs[0]).join(", ")}]`,
        ...o.lines,
        `  let base = ${o.offset(0)};`,
        `  var acc = ${REDUCTIONS[fn].init};`,
        `  for (var r = 0u; r < ${u(count)}; r = r + 1u) {`,
        ...r.lines.map((l) => `  ${l}`),
        `    acc = ${REDUCTIONS[fn].step("acc", value)};`,
        `  }`,
        `  t1[i] = ${type === "f32" ? result : `i32(${result})`};`,
      ].join("\n"),
    ),
  ];
}

/** Softmax over the last axis, a workgroup per row. */
function softmax(n: Node, c: KernelContext): GpuDispatch[] {
  const x = polys(c.shape(n.inputs[0]));
  const D = u(x.at(-1)!);
  return [
    perRow(
      n,
      [n.inputs[0], n.outputs[0]],
      ["f32", "f32"],
      [1],
      elementCountOf(x.slice(0, -1), `node ${n.name}`),
      [
        `  var m = -3.402823e38;`,
        `  for (var i = l.x; i < ${D}; i = i + ${WORKGROUP}u) { m = max(m, t0[t * ${D} + i]); }`,
        `  part[l.x] = m;`,
        reduce("max"),
        `  let top = part[0];`,
        `  workgroupBarrier();`,
        `  var s = 0.0;`,
        `  for (var i = l.x; i < ${D}; i = i + ${WORKGROUP}u) { let e = exp(t0[t * ${D} + i] - top); t1[t * ${D} + i] = e; s = s + e; }`,
        `  part[l.x] = s;`,
        reduce("sum"),
        `  let inv = 1.0 / part[0];`,
        `  for (var i = l.x; i < ${D}; i = i + ${WORKGROUP}u) { t1[t * ${D} + i] = t1[t * ${D} + i] * inv; }`,
      ].join("\n"),
    ),
  ];
}

export const TENSOR_KERNELS = {
  Map: map,
  Copy: copy,
  Concat: concat,
  MatMul: matmul,
  Reduce: reduceOp,
  Softmax: softmax,
} satisfies Partial<Record<OpName, Generator>>;
