/**
 * WGSL compute kernels, one generator per IR op, specialized to the node's shapes (every size a
 * constant in the source). Each kernel binds the call's uniforms at 0 (T, the tokens in this call)
 * and then its tensors in order. A node may need several dispatches (attention writes the cache,
 * then attends).
 */
import type { Node } from "../../compiler/ir/graph.js";
import { SeecError } from "../../runtime/errors.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";
import { entangledEmbedding, entangledLogits, entangledTable } from "./entangled.js";
import { linear } from "./linear.js";
import { elementwise, f32, type Generator, type KernelContext, num, perRow, REDUCE, rows, WORKGROUP } from "./wgsl.js";

export type { KernelContext } from "./wgsl.js";

/** y = f(a, b) over two [rows, D] tensors (expr reads t0[i] and t1[i]). */
function binary(n: Node, c: KernelContext, expr: string): GpuDispatch[] {
  const D = c.shape(n.inputs[0])[1] as number;
  const r = rows(c.shape(n.inputs[0])[0]);
  return [elementwise(n, [...n.inputs, n.outputs[0]], ["f32", "f32", "f32"], [2], { perT: r.perT * D, fixed: r.fixed * D, expr: `${r.expr} * ${D}u` }, `  t2[i] = ${expr};`)];
}

/**
 * WGSL for one query row's attention: an online softmax over `count` key rows (row j of keys and
 * values starts at row(j)), scores q·k · scale, the weighted values accumulated and written to out.
 */
function onlineSoftmax(a: { queries: string; qo: string; keys: string; values: string; out: string; count: string; row: (j: string) => string; headDim: number; scale: number }): string {
  const hd = a.headDim;
  return [
    `  var acc: array<f32, ${hd}>;`,
    `  var m = -3.402823e38;`,
    `  var sum = 0.0;`,
    `  for (var j = 0u; j < ${a.count}; j = j + 1u) {`,
    `    let kj = ${a.row("j")};`,
    `    var s = 0.0;`,
    `    for (var d = 0u; d < ${hd}u; d = d + 1u) { s = s + ${a.queries}[${a.qo} + d] * ${a.keys}[kj + d]; }`,
    `    s = s * ${f32(a.scale)};`,
    `    if (s > m) {`,
    `      let r = exp(m - s);`,
    `      sum = sum * r;`,
    `      for (var d = 0u; d < ${hd}u; d = d + 1u) { acc[d] = acc[d] * r; }`,
    `      m = s;`,
    `    }`,
    `    let w = exp(s - m);`,
    `    sum = sum + w;`,
    `    for (var d = 0u; d < ${hd}u; d = d + 1u) { acc[d] = acc[d] + w * ${a.values}[kj + d]; }`,
    `  }`,
    `  for (var d = 0u; d < ${hd}u; d = d + 1u) { ${a.out}[${a.qo} + d] = acc[d] / sum; }`,
  ].join("\n");
}

/** y = f(x) over a [rows, D] tensor. */
function unary(n: Node, c: KernelContext, expr: string): GpuDispatch[] {
  const D = c.shape(n.inputs[0])[1] as number;
  const r = rows(c.shape(n.inputs[0])[0]);
  return [elementwise(n, [n.inputs[0], n.outputs[0]], ["f32", "f32"], [1], { perT: r.perT * D, fixed: r.fixed * D, expr: `${r.expr} * ${D}u` }, `  t1[i] = ${expr};`)];
}


const GENERATORS: Record<string, Generator> = {
  Gather: (n, c) => {
    const [table, ids] = n.inputs;
    const D = c.shape(table)[1] as number, V = c.shape(table)[0] as number;
    const r = rows(c.shape(ids)[0]);
    return [elementwise(n, [table, ids, n.outputs[0]], ["f32", "i32", "f32"], [2], { ...r, perT: r.perT * D, fixed: r.fixed * D, expr: `${r.expr} * ${D}u` }, [
      `  let t = i / ${D}u;`,
      `  let id = u32(clamp(t1[t], 0, ${V - 1}));`,
      `  t2[i] = t0[id * ${D}u + i % ${D}u];`,
    ].join("\n"))];
  },
  Linear: linear,
  QLinear: linear,
  EntangledEmbedding: entangledEmbedding,
  EntangledLogits: entangledLogits,
  EntangledTable: entangledTable,
  RMSNorm: (n, c) => {
    const [x, w] = n.inputs;
    const D = c.shape(x)[1] as number;
    return [perRow(n, [x, w, n.outputs[0]], ["f32", "f32", "f32"], [2], rows(c.shape(x)[0]), [
      `  var s = 0.0;`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let v = t0[t * ${D}u + i]; s = s + v * v; }`,
      `  part[l.x] = s;`,
      REDUCE,
      `  let scale = 1.0 / sqrt(part[0] / ${f32(D)} + ${f32(num(n, "epsilon"))});`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { t2[t * ${D}u + i] = t1[i] * t0[t * ${D}u + i] * scale; }`,
    ].join("\n"))];
  },
  RoPE: (n, c) => {
    const [x, pos, cos, sin] = n.inputs;
    const D = c.shape(x)[1] as number, half = num(n, "headDim") / 2, pairs = D / 2;
    const r = rows(c.shape(x)[0]);
    return [elementwise(n, [x, pos, cos, sin, n.outputs[0]], ["f32", "i32", "f32", "f32", "f32"], [4], { perT: r.perT * pairs, fixed: r.fixed * pairs, expr: `${r.expr} * ${pairs}u` }, [
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
    ].join("\n"))];
  },
  Attention: (n, c) => {
    const [q, k, v, pos, kCache, vCache] = n.inputs;
    const H = num(n, "heads"), kvH = num(n, "kvHeads"), hd = num(n, "headDim");
    const kvDim = kvH * hd, qDim = H * hd;
    const r = rows(c.shape(q)[0]);
    // Rows pos..pos+T-1 of both caches, then one thread per (token, head) over cache rows 0..pos+t.
    const write = elementwise({ ...n, name: `${n.name}.cache` }, [k, v, pos, kCache, vCache], ["f32", "f32", "i32", "f32", "f32"], [3, 4], { perT: r.perT * kvDim, fixed: r.fixed * kvDim, expr: `${r.expr} * ${kvDim}u` }, [
      `  let row = u32(t2[0]) + i / ${kvDim}u;`,
      `  t3[row * ${kvDim}u + i % ${kvDim}u] = t0[i];`,
      `  t4[row * ${kvDim}u + i % ${kvDim}u] = t1[i];`,
    ].join("\n"));
    const attend = elementwise(n, [q, pos, kCache, vCache, n.outputs[0]], ["f32", "i32", "f32", "f32", "f32"], [4], { perT: r.perT * H, fixed: r.fixed * H, expr: `${r.expr} * ${H}u` }, [
      `  let t = i / ${H}u;`,
      `  let h = i % ${H}u;`,
      `  let kv = (h / ${H / kvH}u) * ${hd}u;`,
      `  let qo = t * ${qDim}u + h * ${hd}u;`,
      `  let n = u32(t1[0]) + t + 1u;`,
      onlineSoftmax({ queries: "t0", qo: "qo", keys: "t2", values: "t3", out: "t4", count: "n", row: (j) => `${j} * ${kvDim}u + kv`, headDim: hd, scale: 1 / Math.sqrt(hd) }),
    ].join("\n"));
    return [write, attend];
  },
  SwiGLU: (n, c) => binary(n, c, "t0[i] * (1.0 / (1.0 + exp(-t0[i]))) * t1[i]"),
  Add: (n, c) => binary(n, c, "t0[i] + t1[i]"),
  // x + table[t]: the table has the longest call's rows, so row t of both lines up.
  AddRows: (n, c) => binary(n, c, "t0[i] + t1[i]"),
  Relu: (n, c) => unary(n, c, "max(t0[i], 0.0)"),
  Tanh: (n, c) => unary(n, c, "tanh(t0[i])"),
  LayerNorm: (n, c) => {
    const [x, w, b] = n.inputs;
    const D = c.shape(x)[1] as number;
    return [perRow(n, [x, w, b, n.outputs[0]], ["f32", "f32", "f32", "f32"], [3], rows(c.shape(x)[0]), [
      `  var s = 0.0;`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { s = s + t0[t * ${D}u + i]; }`,
      `  part[l.x] = s;`,
      REDUCE,
      `  let mean = part[0] / ${f32(D)};`,
      `  workgroupBarrier();`,
      `  var v = 0.0;`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let d = t0[t * ${D}u + i] - mean; v = v + d * d; }`,
      `  part[l.x] = v;`,
      REDUCE,
      `  let inv = 1.0 / sqrt(part[0] / ${f32(D)} + ${f32(num(n, "epsilon"))});`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { t3[t * ${D}u + i] = (t0[t * ${D}u + i] - mean) * inv * t1[i] + t2[i]; }`,
    ].join("\n"))];
  },
  SelfAttention: (n, c) => {
    const [q, k, v] = n.inputs;
    const H = num(n, "heads"), hd = num(n, "headDim"), D = H * hd;
    const r = rows(c.shape(q)[0]);
    return [elementwise(n, [q, k, v, n.outputs[0]], ["f32", "f32", "f32", "f32"], [3], { perT: r.perT * H, fixed: r.fixed * H, expr: `${r.expr} * ${H}u` }, [
      `  let t = i / ${H}u;`,
      `  let o = t * ${D}u + (i % ${H}u) * ${hd}u;`,
      onlineSoftmax({ queries: "t0", qo: "o", keys: "t1", values: "t2", out: "t3", count: r.expr, row: (j) => `${j} * ${D}u + (i % ${H}u) * ${hd}u`, headDim: hd, scale: num(n, "scale") }),
    ].join("\n"))];
  },
  MeanRows: (n, c) => {
    const D = c.shape(n.inputs[0])[1] as number;
    const r = rows(c.shape(n.inputs[0])[0]);
    return [elementwise(n, [n.inputs[0], n.outputs[0]], ["f32", "f32"], [1], { perT: 0, fixed: D, expr: `${D}u` }, [
      `  var s = 0.0;`,
      `  for (var t = 0u; t < ${r.expr}; t = t + 1u) { s = s + t0[t * ${D}u + i]; }`,
      `  t1[i] = s / f32(max(${r.expr}, 1u));`,
    ].join("\n"))];
  },
  L2Normalize: (n, c) => {
    const D = c.shape(n.inputs[0])[1] as number;
    return [perRow(n, [n.inputs[0], n.outputs[0]], ["f32", "f32"], [1], rows(c.shape(n.inputs[0])[0]), [
      `  var s = 0.0;`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let v = t0[t * ${D}u + i]; s = s + v * v; }`,
      `  part[l.x] = s;`,
      REDUCE,
      `  let inv = 1.0 / sqrt(max(part[0], ${f32(num(n, "epsilon"))}));`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { t1[t * ${D}u + i] = t0[t * ${D}u + i] * inv; }`,
    ].join("\n"))];
  },
  LastRow: (n, c) => {
    const D = c.shape(n.inputs[0])[1] as number;
    const r = rows(c.shape(n.inputs[0])[0]);
    return [elementwise(n, [n.inputs[0], n.outputs[0]], ["f32", "f32"], [1], { perT: 0, fixed: D, expr: `${D}u` }, `  t1[i] = t0[(${r.expr} - 1u) * ${D}u + i];`)];
  },
};

export function kernelsFor(node: Node, c: KernelContext): GpuDispatch[] {
  const g = GENERATORS[node.op];
  if (!g) throw new SeecError("unsupported.webgpu", `the WebGPU backend has no kernel for op ${node.op} yet`, { at: `node ${node.name}`, hint: "build for wasm-simd" });
  return g(node, c);
}
