/**
 * Attention in WGSL, one thread per (query row, head), each an online softmax over its key rows:
 * Attention writes the call's keys and values into the KV cache and attends over rows 0..pos+t;
 * SelfAttention attends over the call's own rows (encoders); ScaledAttention is the general form
 * imported graphs fuse to (batches, grouped heads, an additive bias, a keep mask, a causal fill).
 */
import type { Node } from "../../compiler/ir/graph.js";
import { heads4, scaledAttentionAttrs } from "../../compiler/ir/ops/attention.js";
import { broadcastPolyStrides, Poly } from "../../compiler/ir/affine.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";
import { countOf, dynamicShapes, elementwise, f32, type KernelContext, num, polys, rows, T_DIM, wgslPoly } from "./wgsl.js";

/**
 * WGSL for one query row's attention: an online softmax over `count` key rows (row j of keys and
 * values starts at row(j)), scores q·k · scale then `adjust` (statements on s and j), the weighted
 * values accumulated and written to out.
 */
function onlineSoftmax(a: {
  queries: string;
  qo: string;
  keys: string;
  values: string;
  out: string;
  count: string;
  row: (j: string) => string;
  headDim: number;
  scale: number;
  adjust?: string[];
}): string {
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
    ...(a.adjust ?? []).map((line) => `    ${line}`),
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

export function attention(n: Node, c: KernelContext): GpuDispatch[] {
  const [q, k, v, pos, kCache, vCache] = n.inputs;
  const H = num(n, "heads"),
    kvH = num(n, "kvHeads"),
    hd = num(n, "headDim");
  const kvDim = kvH * hd,
    qDim = H * hd;
  const r = rows(c.shape(q)[0]);
  // Rows pos..pos+T-1 of both caches, then one thread per (token, head) over cache rows 0..pos+t.
  const write = elementwise(
    { ...n, name: `${n.name}.cache` },
    [k, v, pos, kCache, vCache],
    ["f32", "f32", "i32", "f32", "f32"],
    [3, 4],
    { perT: r.perT * kvDim, fixed: r.fixed * kvDim, expr: `${r.expr} * ${kvDim}u` },
    [
      `  let row = u32(t2[0]) + i / ${kvDim}u;`,
      `  t3[row * ${kvDim}u + i % ${kvDim}u] = t0[i];`,
      `  t4[row * ${kvDim}u + i % ${kvDim}u] = t1[i];`,
    ].join("\n"),
  );
  const attend = elementwise(
    n,
    [q, pos, kCache, vCache, n.outputs[0]],
    ["f32", "i32", "f32", "f32", "f32"],
    [4],
    { perT: r.perT * H, fixed: r.fixed * H, expr: `${r.expr} * ${H}u` },
    [
      `  let t = i / ${H}u;`,
      `  let h = i % ${H}u;`,
      `  let kv = (h / ${H / kvH}u) * ${hd}u;`,
      `  let qo = t * ${qDim}u + h * ${hd}u;`,
      `  let n = u32(t1[0]) + t + 1u;`,
      onlineSoftmax({
        queries: "t0",
        qo: "qo",
        keys: "t2",
        values: "t3",
        out: "t4",
        count: "n",
        row: (j) => `${j} * ${kvDim}u + kv`,
        headDim: hd,
        scale: 1 / Math.sqrt(hd),
      }),
    ].join("\n"),
  );
  return [write, attend];
}

export function selfAttention(n: Node, c: KernelContext): GpuDispatch[] {
  const [q, k, v] = n.inputs;
  const H = num(n, "heads"),
    hd = num(n, "headDim"),
    D = H * hd;
  const r = rows(c.shape(q)[0]);
  return [
    elementwise(
      n,
      [q, k, v, n.outputs[0]],
      ["f32", "f32", "f32", "f32"],
      [3],
      { perT: r.perT * H, fixed: r.fixed * H, expr: `${r.expr} * ${H}u` },
      [
        `  let t = i / ${H}u;`,
        `  let o = t * ${D}u + (i % ${H}u) * ${hd}u;`,
        onlineSoftmax({
          queries: "t0",
          qo: "o",
          keys: "t1",
          values: "t2",
          out: "t3",
          count: r.expr,
          row: (j) => `${j} * ${D}u + (i % ${H}u) * ${hd}u`,
          headDim: hd,
          scale: num(n, "scale"),
        }),
      ].join("\n"),
    ),
  ];
}

/** A finite f32 literal: the masks' ±Infinity become ±f32 max. */
const finite = (x: number) => f32(Math.max(-3.4028234e38, Math.min(3.4028234e38, x)));

export function scaledAttention(n: Node, c: KernelContext): GpuDispatch[] {
  const [q, k, v] = n.inputs;
  const extra = n.inputs.slice(3);
  const a = scaledAttentionAttrs(n.attrs);
  const bias = a.bias ? extra.shift() : undefined,
    keep = a.keep ? extra.shift() : undefined;
  // Sizes as polynomials of the call's T: a graph built for any length has S = T = the call's tokens.
  const [B, Nq, S, H] = polys(heads4(c.shape(q))),
    [, Nkv, T] = polys(heads4(c.shape(k)));
  const [nq, nkv, hd] = [Nq, Nkv, H].map((p) => p.constant);
  if (nq === undefined || nkv === undefined || hd === undefined) throw dynamicShapes(`node ${n.name}`);
  const tensors = [q, k, v, ...(bias ? [bias] : []), ...(keep ? [keep] : []), n.outputs[0]];
  const name = (t: string) => `t${tensors.indexOf(t)}`;
  /** Element (b, h, qi, j) of a tensor broadcast to the scores' [B, Nq, S, T]. */
  const at = (t: string) => {
    const [sb, sh, si, sj] = broadcastPolyStrides(c.shape(t), [B, Nq, S, T], T_DIM).map((p) => wgslPoly(p));
    return `${name(t)}[b * ${sb} + h * ${sh} + qi * ${si} + j * ${sj}]`;
  };
  const adjust = [
    ...(bias ? [`s = s + ${at(bias)};`] : []),
    ...(keep ? [`if (${at(keep)} == 0) { s = ${finite(a.fill)}; }`] : []),
    ...(a.causal
      ? [`if (i32(j) > i32(qi) + ${wgslPoly(T.plus(S.times(Poly.of(-1, T_DIM))), "i32")}) { s = s + ${finite(a.causalFill)}; }`]
      : []),
  ];
  const u = (p: Poly) => wgslPoly(p);
  return [
    elementwise(
      n,
      tensors,
      tensors.map((t) => (t === keep ? "i32" : "f32")),
      [tensors.length - 1],
      countOf(B.times(Nq).times(S), `node ${n.name}`),
      [
        `  let b = i / ${u(Nq.times(S))};`,
        `  let h = (i / ${u(S)}) % ${nq}u;`,
        `  let qi = i % ${u(S)};`,
        `  let kv = (b * ${nkv}u + h / ${nq / nkv}u) * ${u(T.times(H))};`,
        onlineSoftmax({
          queries: "t0",
          qo: `i * ${hd}u`,
          keys: "t1",
          values: "t2",
          out: name(n.outputs[0]),
          count: u(T),
          row: (j) => `kv + ${j} * ${hd}u`,
          headDim: hd,
          scale: num(n, "scale"),
          adjust,
        }),
      ].join("\n"),
    ),
  ];
}
