/**
 * The entangled embedding (SEE) in WGSL. Element i of token t's uncut product is
 * sum over rank terms k of prod over slots j of v_jk(t)[i_j], where i's digits i_j in the mixed
 * radix of the slots' widths (the last slot fastest) pick each slot vector's entry, and a slot
 * vector is its source table's row for t (an index slot) or the weighted sum of its rows (a bag;
 * the null row when empty). The kernels evaluate that sum per element straight from the factors,
 * so no row is ever stored: EntangledEmbedding for the tokens of a call, EntangledLogits for
 * h · e(v) over the vocabulary (the tied head), EntangledTable for every row once, at load.
 *
 * All factors are read from one buffer (a span of weights.bin), bound twice: as f32 for tables
 * and weights, as i32 for indices, since a shader may bind only a handful of buffers.
 */
import type { Node } from "../../compiler/ir/graph.js";
import { readEntangledAttrs, type EntangledAttrs } from "../../compiler/ir/ops/entangled.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";
import { elementwise, f32, perRow, reduce, rows, WORKGROUP, type KernelContext } from "./wgsl.js";

/** The factor operands of an entangled node: all its inputs after `lead`, less the trailing scratch. */
function factors(n: Node, lead: number): string[] {
  return n.inputs.slice(lead, -1);
}

/**
 * WGSL functions over the factor span, bound as f32 (`f`) and as i32 (`ix`): slot<j>(k, t, c) and
 * entangled(t, i); and the norm's weight and bias, as reads of f at an element, where it has one.
 */
function entangledFunctions(
  a: EntangledAttrs,
  at: number[],
  f: string,
  ix: string,
): { wgsl: string; norm?: { weight: (i: string) => string; bias: (i: string) => string } } {
  const sources = a.rows.length;
  const q = a.slotSource.map((s) => a.q[s]);
  let next = sources;
  const lines: string[] = [];
  a.slotSource.forEach((s, j) => {
    const R = a.rows[s],
      Q = a.q[s],
      table = at[s];
    const row = (r: string) => `${f}[${table ? `${table}u + ` : ""}(k * ${R}u + ${r}) * ${Q}u + c]`;
    lines.push(
      `/** Slot ${j}: entry c of rank term k of source ${s} (${R} rows of ${Q}) for token t, ${a.slotBag[j] ? "the weighted sum of its bag's rows" : "its indexed row"}. */`,
    );
    lines.push(`fn slot${j}(k: u32, t: u32, c: u32) -> f32 {`);
    if (!a.slotBag[j]) {
      const entry = a.slotPerTerm[j] ? `k * ${a.vocab}u + t` : "t";
      lines.push(`  return ${row(indexEntry(ix, at[next++], entry, a.slotIndexBytes[j]))};`);
    } else {
      const [offsets, ids, weights] = [at[next++], at[next++], at[next++]];
      lines.push(
        `  let first = u32(${ix}[${offsets}u + t]);`,
        `  let end = u32(${ix}[${offsets}u + t + 1u]);`,
        `  if (first == end) { return ${row(`${a.nullRow[s]}u`)}; }`,
        `  var s = 0.0;`,
        `  for (var m = first; m < end; m = m + 1u) { s = s + ${f}[${weights}u + m] * ${row(`u32(${ix}[${ids}u + m])`)}; }`,
        `  return s;`,
      );
    }
    lines.push(`}`);
  });
  const digits = q.map((_, j) => {
    const stride = q.slice(j + 1).reduce((x, y) => x * y, 1);
    return `slot${j}(k, t, ${stride === 1 ? "i" : `i / ${stride}u`}${j === 0 ? "" : ` % ${q[j]}u`})`;
  });
  lines.push(
    `/** Element i of token t's entangled product, before any norm. */`,
    `fn entangled(t: u32, i: u32) -> f32 {`,
    `  var acc = 0.0;`,
    `  for (var k = 0u; k < ${a.rank}u; k = k + 1u) { acc = acc + ${digits.join(" * ")}; }`,
    `  return acc;`,
    `}`,
  );
  return {
    wgsl: lines.join("\n"),
    norm: a.norm ? { weight: (i) => `${f}[${at[next]}u + ${i}]`, bias: (i) => `${f}[${at[next + 1]}u + ${i}]` } : undefined,
  };
}

/**
 * Entry `entry` of an index at word `start` of the span (bound as i32), as u32: u8 and u16 entries
 * are packed four and two to a word, little-endian.
 */
function indexEntry(ix: string, start: number, entry: string, bytes: number): string {
  if (bytes === 4) return `u32(${ix}[${start}u + ${entry}])`;
  const perWord = 4 / bytes,
    mask = bytes === 1 ? "255u" : "65535u";
  return `((bitcast<u32>(${ix}[${start}u + (${entry}) / ${perWord}u]) >> (((${entry}) % ${perWord}u) * ${8 * bytes}u)) & ${mask})`;
}

/** Rows of e(token) for each row of a perRow kernel: raw products, then the LayerNorm in place. */
function rowKernel(
  n: Node,
  tensors: string[],
  types: ("f32" | "i32")[],
  r: ReturnType<typeof rows>,
  token: string,
  fn: ReturnType<typeof entangledFunctions>,
  a: EntangledAttrs,
): GpuDispatch {
  const out = `t${tensors.length - 1}`,
    D = a.dim;
  const body = [`  let tok = ${token};`];
  if (!fn.norm) body.push(`  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { ${out}[t * ${D}u + i] = entangled(tok, i); }`);
  else
    body.push(
      `  var s = 0.0;`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let v = entangled(tok, i); ${out}[t * ${D}u + i] = v; s = s + v; }`,
      `  part[l.x] = s;`,
      reduce("sum"),
      `  let mean = part[0] / ${f32(D)};`,
      `  workgroupBarrier();`,
      `  var v = 0.0;`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { let d = ${out}[t * ${D}u + i] - mean; v = v + d * d; }`,
      `  part[l.x] = v;`,
      reduce("sum"),
      `  let inv = 1.0 / sqrt(part[0] / ${f32(D)} + ${f32(a.epsilon)});`,
      `  for (var i = l.x; i < ${D}u; i = i + ${WORKGROUP}u) { ${out}[t * ${D}u + i] = (${out}[t * ${D}u + i] - mean) * inv * ${fn.norm.weight("i")} + ${fn.norm.bias("i")}; }`,
    );
  return perRow(n, tensors, [...types, "f32"], [tensors.length - 1], r, body.join("\n"), fn.wgsl);
}

/** The node's tensors with the factor span bound twice (f32, then i32) after `before`, and the functions reading it. */
function withSpan(c: KernelContext, n: Node, lead: number, before: string[], after: string[]) {
  const { tensor, at } = c.span(factors(n, lead));
  const tensors = [...before, tensor, tensor, ...after];
  const fn = entangledFunctions(readEntangledAttrs(n.attrs), at, `t${before.length}`, `t${before.length + 1}`);
  return { tensors, fn };
}

export function entangledEmbedding(n: Node, c: KernelContext): GpuDispatch[] {
  const a = readEntangledAttrs(n.attrs);
  const ids = n.inputs[0];
  const { tensors, fn } = withSpan(c, n, 1, [ids], [n.outputs[0]]);
  return [rowKernel(n, tensors, ["i32", "f32", "i32"], rows(c.shape(ids)[0]), `u32(clamp(t0[t], 0, ${a.vocab - 1}))`, fn, a)];
}

export function entangledTable(n: Node, c: KernelContext): GpuDispatch[] {
  const a = readEntangledAttrs(n.attrs);
  const { tensors, fn } = withSpan(c, n, 0, [], [n.outputs[0]]);
  return [rowKernel(n, tensors, ["f32", "i32"], rows(a.vocab), "t", fn, a)];
}

/** y[r, v] = h[r] · e(v), one thread per (row, word); with a norm, two passes over e(v) (its mean, then the rest). */
export function entangledLogits(n: Node, c: KernelContext): GpuDispatch[] {
  const a = readEntangledAttrs(n.attrs);
  const h = n.inputs[0],
    D = a.dim,
    V = a.vocab;
  const r = rows(c.shape(h)[0]);
  const { tensors, fn } = withSpan(c, n, 1, [h], [n.outputs[0]]);
  const body = [`  let t = i / ${V}u;`, `  let v = i % ${V}u;`];
  if (!fn.norm)
    body.push(
      `  var s = 0.0;`,
      `  for (var d = 0u; d < ${D}u; d = d + 1u) { s = s + t0[t * ${D}u + d] * entangled(v, d); }`,
      `  t3[i] = s;`,
    );
  else
    body.push(
      `  var mean = 0.0;`,
      `  for (var d = 0u; d < ${D}u; d = d + 1u) { mean = mean + entangled(v, d); }`,
      `  mean = mean / ${f32(D)};`,
      `  var variance = 0.0;`,
      `  var dot = 0.0;`,
      `  var shift = 0.0;`,
      `  for (var d = 0u; d < ${D}u; d = d + 1u) {`,
      `    let x = entangled(v, d) - mean;`,
      `    let hd = t0[t * ${D}u + d];`,
      `    variance = variance + x * x;`,
      `    dot = dot + hd * ${fn.norm.weight("d")} * x;`,
      `    shift = shift + hd * ${fn.norm.bias("d")};`,
      `  }`,
      `  t3[i] = dot / sqrt(variance / ${f32(D)} + ${f32(a.epsilon)}) + shift;`,
    );
  return [
    elementwise(
      n,
      tensors,
      ["f32", "f32", "i32", "f32"],
      [3],
      { perT: r.perT * V, fixed: r.fixed * V, expr: `${r.expr} * ${V}u` },
      body.join("\n"),
      fn.wgsl,
    ),
  ];
}
