/**
 * Linear and QLinear (and their means over the rows). Calls of a few tokens (decoding) take a thread per output, reading its
 * weight row once; longer calls take a tiled matmul, y[t, n] = x[t, :] · w[n, :] (· scale[n]) (+ b[n]): each
 * workgroup computes a 16 × 64 tile of y, staging 16-wide slices of x and w through workgroup
 * memory so that every weight read from the buffer serves 16 rows; each thread keeps a 4 × 4 block
 * of the tile in registers. int8 weights (QLinear) are read four to a word and widened in the tile.
 */
import type { Node } from "../../compiler/ir/graph.js";
import { linearOperands } from "../../compiler/ir/ops/linear.js";
import { SeecError } from "../../runtime/errors.js";
import type { GpuDispatch } from "../../runtime/webgpu-program.js";
import { elementwise, header, int8Weight, rows, type KernelContext } from "./wgsl.js";

const TM = 16,
  TN = 64,
  TK = 16;
/** Below this many rows, a thread per output (a tile would leave most of its rows empty). */
const TILED_FROM = 4;
/** Threads: 16 across the tile's columns, 4 down its rows, each 4 × 4 outputs. */
const WX = TN / 4,
  WY = TM / 4;
/** Workgroup-memory rows are padded by one float so neighbouring threads read different banks. */
const PAD = TK + 1;

/**
 * What every kernel of the Linear family binds and reads: x, w, (scale,) (bias,) (residual,) y bound
 * as t0, t1... in that order; `weight` reads element e of w (int8 weights four to a u32 word);
 * `epilogue(row, col)` finishes the sum for y[row, col]: scale, bias, activation, residual.
 */
function operands(n: Node, c: KernelContext) {
  const { x, w, scale, bias, residual, activation, layout } = linearOperands(n.op, n.inputs, n.attrs);
  const int8 = scale !== undefined;
  // The webgpu target's graph keeps weights [N, K] (compiler/build.ts): its wasm fallback shares them.
  if (layout !== "nk")
    throw new SeecError("internal.webgpu", `WGSL reads Linear weights as [N, K]; this node's are stored "${layout}"`, {
      at: `node ${n.name}`,
    });
  const tensors = [x, w, ...[scale, bias, residual].filter((t): t is string => t !== undefined), n.outputs[0]];
  const N = c.shape(w)[0] as number;
  const name = (t: string | undefined) => `t${tensors.indexOf(t!)}`;
  const epilogue = (row: string, col: string) => (sum: string) => {
    let v = [sum, scale ? ` * ${name(scale)}[${col}]` : "", bias ? ` + ${name(bias)}[${col}]` : ""].join("");
    if (activation === "relu") v = `max(${v}, 0.0)`;
    return residual ? `${v} + ${name(residual)}[${row} * ${N}u + ${col}]` : v;
  };
  return {
    tensors,
    epilogue,
    K: c.shape(x)[1] as number,
    N,
    r: rows(c.shape(x)[0]),
    name,
    types: tensors.map((t) => (t === w && int8 ? "u32" : "f32") as "u32" | "f32"),
    weight: int8 ? int8Weight("t1", "e") : `t1[e]`,
  };
}

export function linear(n: Node, c: KernelContext): GpuDispatch[] {
  const { tensors, epilogue, K, N, r, name, types, weight } = operands(n, c);
  const out = name(n.outputs[0]);
  const perOutput = elementwise(
    n,
    tensors,
    types,
    [tensors.length - 1],
    { perT: r.perT * N, fixed: r.fixed * N, expr: `${r.expr} * ${N}u` },
    [
      `  let t = i / ${N}u;`,
      `  let o = i % ${N}u;`,
      `  var acc = 0.0;`,
      `  for (var k = 0u; k < ${K}u; k = k + 1u) { let e = o * ${K}u + k; acc = acc + t0[t * ${K}u + k] * ${weight}; }`,
      `  ${out}[i] = ${epilogue("t", "o")("acc")};`,
    ].join("\n"),
  );
  if (r.fixed && r.fixed < TILED_FROM) return [perOutput];
  const wgsl = [
    header(tensors.map((t, i) => ({ name: `t${i}`, type: types[i], write: t === n.outputs[0] }))),
    `var<workgroup> xs: array<f32, ${TM * PAD}>; // [${TM} rows][${TK} k], rows ${PAD} floats apart`,
    `var<workgroup> ws: array<f32, ${TN * PAD}>; // [${TN} columns][${TK} k], rows ${PAD} floats apart`,
    `@compute @workgroup_size(${WX}, ${WY})`,
    `fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u, @builtin(local_invocation_index) li: u32) {`,
    `  let row0 = wg.y * ${TM}u;`,
    `  let col0 = wg.x * ${TN}u;`,
    `  let R = ${r.expr};`,
    `  var acc0 = vec4f(); // row l.y, columns l.x + ${WX}j`,
    `  var acc1 = vec4f(); // row l.y + ${WY}`,
    `  var acc2 = vec4f(); // row l.y + ${2 * WY}`,
    `  var acc3 = vec4f(); // row l.y + ${3 * WY}`,
    `  for (var k0 = 0u; k0 < ${K}u; k0 = k0 + ${TK}u) {`,
    `    for (var s = li; s < ${TM * TK}u; s = s + ${WX * WY}u) {`,
    `      let row = row0 + s / ${TK}u;`,
    `      let k = k0 + s % ${TK}u;`,
    `      var v = 0.0;`,
    `      if (row < R && k < ${K}u) { v = t0[row * ${K}u + k]; }`,
    `      xs[(s / ${TK}u) * ${PAD}u + s % ${TK}u] = v;`,
    `    }`,
    `    for (var s = li; s < ${TN * TK}u; s = s + ${WX * WY}u) {`,
    `      let col = col0 + s / ${TK}u;`,
    `      let k = k0 + s % ${TK}u;`,
    `      var v = 0.0;`,
    `      if (col < ${N}u && k < ${K}u) { let e = col * ${K}u + k; v = ${weight}; }`,
    `      ws[(s / ${TK}u) * ${PAD}u + s % ${TK}u] = v;`,
    `    }`,
    `    workgroupBarrier();`,
    `    for (var k = 0u; k < ${TK}u; k = k + 1u) {`,
    `      let b = vec4f(ws[l.x * ${PAD}u + k], ws[(l.x + ${WX}u) * ${PAD}u + k], ws[(l.x + ${2 * WX}u) * ${PAD}u + k], ws[(l.x + ${3 * WX}u) * ${PAD}u + k]);`,
    `      acc0 = acc0 + xs[l.y * ${PAD}u + k] * b;`,
    `      acc1 = acc1 + xs[(l.y + ${WY}u) * ${PAD}u + k] * b;`,
    `      acc2 = acc2 + xs[(l.y + ${2 * WY}u) * ${PAD}u + k] * b;`,
    `      acc3 = acc3 + xs[(l.y + ${3 * WY}u) * ${PAD}u + k] * b;`,
    `    }`,
    `    workgroupBarrier();`,
    `  }`,
    `  let acc = array<vec4f, 4>(acc0, acc1, acc2, acc3);`,
    `  for (var i = 0u; i < 4u; i = i + 1u) {`,
    `    let row = row0 + l.y + ${WY}u * i;`,
    `    for (var j = 0u; j < 4u; j = j + 1u) {`,
    `      let col = col0 + l.x + ${WX}u * j;`,
    `      if (row < R && col < ${N}u) { ${out}[row * ${N}u + col] = ${epilogue("row", "col")("acc[i][j]")}; }`,
    `    }`,
    `  }`,
    `}`,
  ].join("\n");
  const tiled = {
    node: n.name,
    wgsl,
    tensors,
    groups: [
      { perT: 0, fixed: N, per: TN },
      { perT: r.perT, fixed: r.fixed, per: TM },
    ],
  };
  if (r.fixed) return [tiled];
  return [
    { ...perOutput, tokens: { max: TILED_FROM - 1 } },
    { ...tiled, tokens: { min: TILED_FROM } },
  ];
}

/** MeanLinear and MeanQLinear, the mean of (Q)Linear's rows: a thread per output, averaging x's column k as it goes. */
export function meanLinear(n: Node, c: KernelContext): GpuDispatch[] {
  const { tensors, epilogue, K, N, r, name, types, weight } = operands(n, c);
  return [
    elementwise(
      n,
      tensors,
      types,
      [tensors.length - 1],
      { perT: 0, fixed: N, expr: `${N}u` },
      [
        `  let R = ${r.expr};`,
        `  var acc = 0.0;`,
        `  for (var k = 0u; k < ${K}u; k = k + 1u) {`,
        `    var s = 0.0;`,
        `    for (var t = 0u; t < R; t = t + 1u) { s = s + t0[t * ${K}u + k]; }`,
        `    let e = i * ${K}u + k;`,
        `    acc = acc + s * ${weight};`,
        `  }`,
        `  ${name(n.outputs[0])}[i] = select(${epilogue("0u", "i")("acc / f32(R)")}, 0.0, R == 0u);`,
      ].join("\n"),
    ),
  ];
}
