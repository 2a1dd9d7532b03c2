/**
 * WGSL compute kernels, one generator per IR op, specialized to the node's shapes (every size a
 * constant in the source). Each kernel binds the call's uniforms at 0 (T, the tokens in this call)
 * and then its tensors in order. A node may need several dispatches (attention writes the cache,
 * then attends).
 */
import type { Node } from "../../compiler/ir/graph.js";
import { OP_NAMES, type OpName } from "../../compiler/ir/op-names.js";
import { SeecError } from "../../runtime/errors.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";
import { attention, scaledAttention, selfAttention } from "./attention.js";
import { entangledEmbedding, entangledLogits, entangledTable } from "./entangled.js";
import { linear, meanLinear } from "./linear.js";
import { TENSOR_KERNELS } from "./tensor.js";
import {
  type Count,
  elementCountOf,
  elementwise,
  f32,
  type Generator,
  int8Weight,
  type KernelContext,
  num,
  perRow,
  polys,
  reduce,
  rows,
  WORKGROUP,
} from "./wgsl.js";

export type { KernelContext } from "./wgsl.js";

/** All the elements of the node's first input, of any rank (one dimension may be T, or several: T²). */
function elements(n: Node, c: KernelContext): Count {
  return elementCountOf(polys(c.shape(n.inputs[0])), `node ${n.name}`);
}

/** y = f(a, b) over two tensors of one shape, or a [T, D] x and the first rows of a longer table (expr reads t0[i] and t1[i]). */
function binary(n: Node, c: KernelContext, expr: string): GpuDispatch[] {
  return [elementwise(n, [...n.inputs, n.outputs[0]], ["f32", "f32", "f32"], [2], elements(n, c), `  t2[i] = ${expr};`)];
}

/** y = f(x) over a tensor of any shape. */
function unary(n: Node, c: KernelContext, expr: string): GpuDispatch[] {
  return [elementwise(n, [n.inputs[0], n.outputs[0]], ["f32", "f32"], [1], elements(n, c), `  t1[i] = ${expr};`)];
}

/** Every op has a WGSL kernel: a missing, misspelled or removed key is a type error. */
export const GENERATORS = {
  Gather: (n, c) => {
    const [table, ids] = n.inputs;
    const D = c.shape(table)[1] as number,
      V = c.shape(table)[0] as number;
    const r = rows(c.shape(ids)[0]);
    return [
      elementwise(
        n,
        [table, ids, n.outputs[0]],
        ["f32", "i32", "f32"],
        [2],
        { ...r, perT: r.perT * D, fixed: r.fixed * D, expr: `${r.expr} * ${D}u` },
        [`  let t = i / ${D}u;`, `  let id = u32(clamp(t1[t], 0, ${V - 1}));`, `  t2[i] = t0[id * ${D}u + i % ${D}u];`].join("\n"),
      ),
    ];
  },
  // An int8 table (four to a u32 word) with a scale per row (passes/quantize.ts).
  QGather: (n, c) => {
    const [table, scale, ids] = n.inputs;
    const D = c.shape(table)[1] as number,
      V = c.shape(table)[0] as number;
    const r = rows(c.shape(ids)[0]);
    return [
      elementwise(
        n,
        [table, scale, ids, n.outputs[0]],
        ["u32", "f32", "i32", "f32"],
        [3],
        { ...r, perT: r.perT * D, fixed: r.fixed * D, expr: `${r.expr} * ${D}u` },
        [
          `  let t = i / ${D}u;`,
          `  let id = u32(clamp(t2[t], 0, ${V - 1}));`,
          `  let e = id * ${D}u + i % ${D}u;`,
          `  t3[i] = ${int8Weight("t0", "e")} * t1[id];`,
        ].join("\n"),
      ),
    ];
  },
  Linear: linear,
  QLinear: linear,
  EntangledEmbedding: entangledEmbedding,
  EntangledLogits: entangledLogits,
  EntangledTable: entangledTable,
  RMSNorm: (n, c) => {
    const [x, w] = n.inputs;
    const D = c.shape(x)[1] as number;
    return [
      perRow(
        n,
        [x, w, n.outputs[0]],
        ["f32", "f32", "f32"],
        [2],
        rows(c.shape(x)[0]),
        [
          `  var s = 0.0;`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let v = t0[t * ${D}u + i]; s = s + v * v; }`,
          `  part[l.x] = s;`,
          reduce("sum"),
          `  let scale = 1.0 / sqrt(part[0] / ${f32(D)} + ${f32(num(n, "epsilon"))});`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { t2[t * ${D}u + i] = t1[i] * t0[t * ${D}u + i] * scale; }`,
        ].join("\n"),
      ),
    ];
  },
  RoPE: (n, c) => {
    const [x, pos, cos, sin] = n.inputs;
    const D = c.shape(x)[1] as number,
      half = num(n, "headDim") / 2,
      pairs = D / 2;
    const r = rows(c.shape(x)[0]);
    return [
      elementwise(
        n,
        [x, pos, cos, sin, n.outputs[0]],
        ["f32", "i32", "f32", "f32", "f32"],
        [4],
        { perT: r.perT * pairs, fixed: r.fixed * pairs, expr: `${r.expr} * ${pairs}u` },
        [
          `  let t = i / ${pairs}u;`,
          `  let j = (i % ${pairs}u) * 2u;`,
          `  let p = u32(t1[0]) + t;`,
          `  let f = (j / 2u) % ${half}u;`,
          `  let cs = t2[p * ${half}u + f];`,
          `  let sn = t3[p * ${half}u + f];`,
          `  let x0 = t0[t * ${D}u + j];`,
          `  let x1 = t0[t * ${D}u + j + 1u];`,
          `  t4[t * ${D}u + j] = x0 * cs - x1 * sn;`,
          `  t4[t * ${D}u + j + 1u] = x0 * sn + x1 * cs;`,
        ].join("\n"),
      ),
    ];
  },
  Attention: attention,
  SwiGLU: (n, c) => binary(n, c, "t0[i] * (1.0 / (1.0 + exp(-t0[i]))) * t1[i]"),
  Add: (n, c) => binary(n, c, "t0[i] + t1[i]"),
  // x + table[t]: the table has the longest call's rows, so row t of both lines up.
  AddRows: (n, c) => binary(n, c, "t0[i] + t1[i]"),
  Relu: (n, c) => unary(n, c, "max(t0[i], 0.0)"),
  Tanh: (n, c) => unary(n, c, "tanh(t0[i])"),
  LayerNorm: (n, c) => {
    const [x, w, b] = n.inputs;
    const D = c.shape(x)[1] as number;
    return [
      perRow(
        n,
        [x, w, b, n.outputs[0]],
        ["f32", "f32", "f32", "f32"],
        [3],
        rows(c.shape(x)[0]),
        [
          `  var s = 0.0;`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { s = s + t0[t * ${D}u + i]; }`,
          `  part[l.x] = s;`,
          reduce("sum"),
          `  let mean = part[0] / ${f32(D)};`,
          `  workgroupBarrier();`,
          `  var v = 0.0;`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let d = t0[t * ${D}u + i] - mean; v = v + d * d; }`,
          `  part[l.x] = v;`,
          reduce("sum"),
          `  let inv = 1.0 / sqrt(part[0] / ${f32(D)} + ${f32(num(n, "epsilon"))});`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { t3[t * ${D}u + i] = (t0[t * ${D}u + i] - mean) * inv * t1[i] + t2[i]; }`,
        ].join("\n"),
      ),
    ];
  },
  SelfAttention: selfAttention,
  ScaledAttention: scaledAttention,
  MeanRows: (n, c) => {
    const D = c.shape(n.inputs[0])[1] as number;
    const r = rows(c.shape(n.inputs[0])[0]);
    return [
      elementwise(
        n,
        [n.inputs[0], n.outputs[0]],
        ["f32", "f32"],
        [1],
        { perT: 0, fixed: D, expr: `${D}u` },
        [
          `  var s = 0.0;`,
          `  for (var t = 0u; t < ${r.expr}; t = t + 1u) { s = s + t0[t * ${D}u + i]; }`,
          `  t1[i] = s / f32(max(${r.expr}, 1u));`,
        ].join("\n"),
      ),
    ];
  },
  MeanLinear: meanLinear,
  MeanQLinear: meanLinear,
  L2Normalize: (n, c) => {
    const D = c.shape(n.inputs[0])[1] as number;
    return [
      perRow(
        n,
        [n.inputs[0], n.outputs[0]],
        ["f32", "f32"],
        [1],
        rows(c.shape(n.inputs[0])[0]),
        [
          `  var s = 0.0;`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let v = t0[t * ${D}u + i]; s = s + v * v; }`,
          `  part[l.x] = s;`,
          reduce("sum"),
          `  let inv = 1.0 / sqrt(max(part[0], ${f32(num(n, "epsilon"))}));`,
          `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { t1[t * ${D}u + i] = t0[t * ${D}u + i] * inv; }`,
        ].join("\n"),
      ),
    ];
  },
  ...TENSOR_KERNELS,
  // No WGSL kernel for 4-bit weights yet: the registry refuses --quantize q4 for webgpu before any work; a graph built by hand stops here.
  Q4Linear: (n) => {
    throw new SeecError("unsupported.quantize", "the webgpu target has no kernel for 4-bit weights (Q4Linear)", {
      at: `node ${n.name}`,
      hint: "build --quantize q4 for wasm-simd, wasm-relaxed, wasm, wasi or mcu, or --quantize int8 for webgpu",
    });
  },
  LastRow: (n, c) => {
    const D = c.shape(n.inputs[0])[1] as number;
    const r = rows(c.shape(n.inputs[0])[0]);
    return [
      elementwise(
        n,
        [n.inputs[0], n.outputs[0]],
        ["f32", "f32"],
        [1],
        { perT: 0, fixed: D, expr: `${D}u` },
        `  t1[i] = t0[(${r.expr} - 1u) * ${D}u + i];`,
      ),
    ];
  },
} satisfies Readonly<Record<OpName, Generator>>;

/** The ops with a WGSL kernel. */
export const WEBGPU_OPS: readonly OpName[] = OP_NAMES.filter((op) => op in GENERATORS);

export function kernelsFor(node: Node, c: KernelContext): GpuDispatch[] {
  const g = GENERATORS[node.op];
  if (!g)
    throw new SeecError("unsupported.webgpu", `the WebGPU backend has no kernel for op ${node.op} yet`, {
      at: `node ${node.name}`,
      hint: "build for wasm-simd",
    });
  // Empty outputs (an imported graph's zero-length slices) need no work.
  if (node.outputs.every((o) => c.shape(o).some((d) => d === 0))) return [];
  return g(node, c).filter((d) => !d.groups.some((g) => !g.perT2 && g.perT === 0 && g.fixed === 0));
}
