/**
 * What every WGSL kernel shares: the bindings header, the two dispatch shapes (a thread per
 * element, a workgroup per row), and the context a generator reads shapes and weights from.
 * Each kernel binds the call's uniforms at 0 (T, the tokens in this call), then its tensors in order.
 */
import { Poly, polyProduct } from "../../compiler/ir/affine.js";
import type { Dim, DType, Node, Shape } from "../../compiler/ir/graph.js";
import { num as attrNumber } from "../../compiler/ir/ops/op.js";
import { SeecError } from "../../runtime/errors.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";

export interface KernelContext {
  shape(tensor: string): Shape;
  dtype(tensor: string): DType;
  /**
   * One buffer over several weights (kernels with more operands than a shader may bind): its
   * tensor name, and where each weight starts in it, in 4-byte words.
   */
  span(weights: readonly string[]): { tensor: string; at: number[] };
}

export type Generator = (node: Node, c: KernelContext) => GpuDispatch[];

export const WORKGROUP = 64;

export type ElementType = "f32" | "i32" | "u32";

/** How many threads or workgroups a kernel needs: perT2 · T² + perT · T + fixed, and that as WGSL. */
export interface Count {
  expr: string;
  perT: number;
  fixed: number;
  perT2?: number;
}

/** The symbolic dimension of a graph built for any length (onnx/dynamic.ts): the call's T, params.T. */
export const T_DIM = "T";

/** A shape's dimensions as polynomials in T. */
export const polys = (shape: Shape | readonly (number | string)[]) => shape.map((d) => Poly.of(d, T_DIM));

/**
 * A polynomial in T as WGSL: u32 ("12u", "params.T", "(3u * params.T + 1u)") or i32 for offsets
 * and strides ("12", "(3 * i32(params.T) - 1)"); a u32 with a negative term is computed in i32.
 */
export function wgslPoly(p: Poly, type: "u32" | "i32" = "u32"): string {
  const k = p.constant;
  if (k !== undefined) return type === "u32" ? `${k}u` : `${k}`;
  if (type === "u32" && p.c.some((x) => x < 0)) return `u32(${wgslPoly(p, "i32")})`;
  const lit = (x: number) => (type === "u32" ? `${x}u` : `${x}`);
  const t = type === "u32" ? "params.T" : "i32(params.T)";
  const terms = p.c.flatMap((x, i) => {
    if (x === 0) return [];
    if (i === 0) return [lit(x)];
    const power = Array.from({ length: i }, () => t).join(" * ");
    return [x === 1 ? power : `${lit(x)} * ${power}`];
  });
  return `(${terms.join(" + ").replace(/\+ -/g, "- ")})`;
}

/** A count of `p` elements, threads or rows. */
export function countOf(p: Poly, at: string): Count {
  if (p.c.length > 3 && p.c.slice(3).some((x) => x !== 0)) throw dynamicShapes(at);
  const [fixed = 0, perT = 0, perT2 = 0] = p.c;
  return { expr: wgslPoly(p), perT, fixed, ...(perT2 ? { perT2 } : {}) };
}

/** The count of all the elements of a shape whose dimensions are polynomials in T (T² included). */
export function elementCountOf(dims: readonly Poly[], at: string): Count {
  return countOf(polyProduct(dims, T_DIM), at);
}

/** The refusal of what the webgpu target cannot run for a graph built for any length. */
export function dynamicShapes(at: string): SeecError {
  return new SeecError(
    "unsupported.dynamic_shape",
    "the webgpu target cannot run this node of a graph built for any length (--shape ...x?max)",
    {
      at,
      hint: "build it for wasm-simd, or at a fixed length (--shape input_ids=1x128)",
    },
  );
}

/** Rows of a [rows, D] tensor: the call's T, or a fixed count. */
export function rows(d: Dim): Count {
  return typeof d === "number" ? { expr: `${d}u`, perT: 0, fixed: d } : { expr: "params.T", perT: 1, fixed: 0 };
}

/** A WGSL f32 literal: "2.0", "0.5", "-3.4028234e+38". */
export const f32 = (x: number) => (/^-?\d+$/.test(String(x)) ? `${x}.0` : String(x));

/** The WGSL header: uniforms and the node's tensors, read-only unless `write`. */
export function header(bindings: { name: string; type: ElementType; write?: boolean }[]): string {
  return [
    "struct Params { T: u32, pad0: u32, pad1: u32, pad2: u32 }",
    "@group(0) @binding(0) var<uniform> params: Params;",
    ...bindings.map((b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.write ? "read_write" : "read"}> ${b.name}: array<${b.type}>;`),
  ].join("\n");
}

/** A kernel with one thread per element of `count` (perT · T + fixed), bound as t0, t1, ... */
export function elementwise(
  node: Node,
  tensors: string[],
  types: ElementType[],
  writes: number[],
  count: Count,
  body: string,
  functions = "",
): GpuDispatch {
  const wgsl = [
    header(tensors.map((_, i) => ({ name: `t${i}`, type: types[i], write: writes.includes(i) }))),
    ...(functions ? [functions] : []),
    `@compute @workgroup_size(${WORKGROUP})`,
    `fn main(@builtin(global_invocation_id) gid: vec3u) {`,
    `  let i = gid.x;`,
    `  if (i >= ${count.expr}) { return; }`,
    body,
    `}`,
  ].join("\n");
  return { node: node.name, wgsl, tensors, groups: [{ ...groupCount(count), per: WORKGROUP }] };
}

/** A kernel with one workgroup per row (cooperative reductions through `part`). */
export function perRow(
  node: Node,
  tensors: string[],
  types: ElementType[],
  writes: number[],
  r: Count,
  body: string,
  functions = "",
): GpuDispatch {
  const wgsl = [
    header(tensors.map((_, i) => ({ name: `t${i}`, type: types[i], write: writes.includes(i) }))),
    `var<workgroup> part: array<f32, ${WORKGROUP}>;`,
    ...(functions ? [functions] : []),
    `@compute @workgroup_size(${WORKGROUP})`,
    `fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {`,
    `  let t = wg.x;`,
    `  if (t >= ${r.expr}) { return; }`,
    body,
    `}`,
  ].join("\n");
  return { node: node.name, wgsl, tensors, groups: [{ ...groupCount(r), per: 1 }] };
}

const groupCount = (c: Count) => ({ perT: c.perT, fixed: c.fixed, ...(c.perT2 ? { perT2: c.perT2 } : {}) });

/** The sum or max of `part` across the workgroup, left in part[0]. */
export function reduce(op: "sum" | "max"): string {
  return [
    `  workgroupBarrier();`,
    `  for (var k = ${WORKGROUP / 2}u; k > 0u; k = k >> 1u) {`,
    `    if (l.x < k) { part[l.x] = ${op === "sum" ? "part[l.x] + part[l.x + k]" : "max(part[l.x], part[l.x + k])"}; }`,
    `    workgroupBarrier();`,
    `  }`,
  ].join("\n");
}

/** A number attribute of the node (checked: internal.ir when absent). */
export const num = (n: Node, key: string) => attrNumber(n.attrs, key);

/** Element `e` of int8 weights bound as `buffer` (u32 words, four weights each), sign-extended to f32. */
export function int8Weight(buffer: string, e: string): string {
  return `f32(extractBits(bitcast<i32>(${buffer}[${e} >> 2u]), (${e} & 3u) * 8u, 8u))`;
}
