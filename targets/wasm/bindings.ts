/**
 * How each IR op becomes a call into the kernel library (targets/wasm/kernels/).
 * Arguments are tensor addresses (named constants) then sizes, literal wherever the shape is
 * static; `T` is forward()'s argument, the number of tokens in this call.
 */
import { bindShape, maxDims, type Dim, type Node, type Shape } from "../../compiler/ir/graph.js";
import { linearOperands, type WeightLayout } from "../../compiler/ir/ops/linear.js";
import { q4Layout } from "../../compiler/ir/ops/linear-q4.js";
import { num as n } from "../../compiler/ir/ops/op.js";
import { isOpName, OP_NAMES, type OpName } from "../../compiler/ir/op-names.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import { SeecError } from "../../runtime/errors.js";
import { float } from "./literals.js";
import type { Binding, CallContext, Import, SharePart } from "./binding.js";
import { SEE_BINDINGS } from "./see.js";
import { TENSOR_BINDINGS } from "./tensor-ops.js";

/** A node that is one call of one library kernel. */
function kernelCall(
  module: string,
  fn: string | ((node: Node) => string),
  args: (node: Node, c: CallContext) => (string | number)[],
): Binding {
  if (typeof fn === "string") return { kernels: [[module, fn]], call: (node, c) => `${fn}(${args(node, c).join(", ")})` };
  return { kernels: (node) => [[module, fn(node)]], call: (node, c) => `${fn(node)}(${args(node, c).join(", ")})` };
}

/**
 * An op of `arity` inputs that runs per text when the texts are packed (their lengths one more
 * input, compiler/ir/ops/per-text.ts): `packed`'s kernel (kernels/per-text.ts) then, else `single`'s.
 */
function perText(arity: number, single: Binding, packed: Binding): Binding {
  const pick = (node: Node) => (node.inputs.length > arity ? packed : single);
  const kernels = (node: Node, c: CallContext) => {
    const b = pick(node).kernels;
    return typeof b === "function" ? b(node, c) : b;
  };
  return { kernels, call: (node, c) => pick(node).call(node, c), scratchBytes: (node, size) => pick(node).scratchBytes?.(node, size) ?? 0 };
}

const dim = (d: Dim): string => String(d);

/** qlinear's scratch for T rows of K: x's rows as int16, padded to a multiple of 16, then a scale per row (kernels/linear-q8.ts). */
const q8ScratchBytes = (T: number, K: number) => T * (2 * (Math.ceil(K / 16) * 16) + 4) + 16;
/** The means of B texts of K features in kernels/per-text.ts's scratch, in whole 64-byte lines. */
const meansBytes = (B: number, K: number) => Math.ceil((B * K * 4) / 64) * 64;
const count = (shape: Shape): string => {
  const fixed = shape.filter((d): d is number => typeof d === "number").reduce((a, b) => a * b, 1);
  const symbolic = shape.filter((d) => typeof d === "string");
  return [...symbolic, ...(fixed !== 1 || symbolic.length === 0 ? [fixed] : [])].join(" * ");
};

/** kernels/epilogue.ts's constant for the node's activation (RELU), if it has one. */
const activationConstant = (node: Node) => (node.attrs.activation ? String(node.attrs.activation).toUpperCase() : undefined);

/**
 * A matmul's call: x, w[, scale (int8 weights)][, row sums (int8 weights on wasm-relaxed)], bias or 0, y, T, K, N[, the kernel scratch (the
 * integer kernels)], then the epilogue's residual and activation (kernels/epilogue.ts; the kernels
 * default to none). `share`: one thread's part of it (kernels/threads.ts), every operand that the
 * part moves through offset, T or N its count: rows of x and y (tokens), or, for one token, whole
 * weight rows (outputs) as far as the weights' layout keeps a row's bytes together. `rowBytes`:
 * one weight row's bytes, for a K.
 */
function matmulCall(kernel: (node: Node) => Import, rowBytes: (K: number) => number, withScratch = false): Binding {
  const args = (node: Node, c: CallContext, part?: SharePart) => {
    const { x, w, scale, sums, bias, residual } = linearOperands(node.op, node.inputs, node.attrs);
    const [y] = node.outputs;
    const [T, K] = c.shape(x),
      N = c.shape(y)[1] as number;
    const rows = part?.axis === "rows" ? part : undefined,
      cols = part?.axis === "columns" ? part : undefined;
    // An address moved `step` bytes per item of the part, where the part moves it.
    const at = (address: string, step: number, moves: SharePart | undefined) => (moves ? `${address} + ${moves.start} * ${step}` : address);
    const act = activationConstant(node);
    return [
      at(c.addr(x), 4 * (K as number), rows),
      at(c.addr(w), rowBytes(K as number), cols),
      ...(scale ? [at(c.addr(scale), 4, cols)] : []),
      ...(sums ? [at(c.addr(sums), 4, cols)] : []),
      bias ? at(c.addr(bias), 4, cols) : 0,
      at(c.addr(y), cols ? 4 : 4 * N, part),
      rows ? rows.count : dim(T),
      dim(K),
      cols ? cols.count : N,
      ...(withScratch ? [part?.scratch ?? c.scratch] : []),
      ...(act
        ? [residual ? at(c.addr(residual), cols ? 4 : 4 * N, part) : 0, act]
        : residual
          ? [at(c.addr(residual), cols ? 4 : 4 * N, part)]
          : []),
    ];
  };
  return {
    kernels: (node) => [kernel(node), ...(activationConstant(node) ? [["epilogue", activationConstant(node)!] as Import] : [])],
    call: (node, c) => `${kernel(node)[1]}(${args(node, c).join(", ")})`,
    share: {
      axes: (node) => (linearOperands(node.op, node.inputs, node.attrs).layout === "kn" ? ["rows"] : ["rows", "columns"]),
      // K × N (for q4, its weights' count, not its packed bytes').
      work: (node, size) => size(linearOperands(node.op, node.inputs, node.attrs).x)[1] * size(node.outputs[0])[1],
      count: (node, c, axis) => (axis === "rows" ? c.shape(node.inputs[0])[0] : c.shape(node.outputs[0])[1]),
      call: (node, c, part) => `${kernel(node)[1]}(${args(node, c, part).join(", ")})`,
    },
  };
}

/**
 * A row lookup (Gather, QGather: the table, its scales where it has them, then the ids) as
 * kernels/indexing.ts's `fn`, or as `laidOutFn` from a table stored in `layout`.
 */
function lookup(fn: string, layout: WeightLayout, laidOutFn: string): Binding {
  return kernelCall(
    "indexing",
    (node) => (node.attrs.layout === layout ? laidOutFn : fn),
    ({ inputs, outputs: [y] }, c) => {
      const table = inputs[0],
        ids = inputs[inputs.length - 1];
      return [...inputs.map((t) => c.addr(t)), c.addr(y), dim(c.shape(ids)[0]), dim(c.shape(table)[1]), dim(c.shape(table)[0])];
    },
  );
}

/** f32 weights' layouts ("n4k16" is int8's: ir/ops/linear.ts refuses it for a Linear). */
const LINEAR_KERNELS: Record<Exclude<WeightLayout, "n4k16">, Import> = {
  nk: ["linear", "linear"],
  kn: ["linear-kn", "linearKN"],
  n4: ["linear-n4", "linearN4"],
};

/** An i32 [1] tensor read as a value (e.g. the position input). */
const scalar = (c: CallContext, tensor: string) => `load<i32>(${c.addr(tensor)})`;

/** attention()'s arguments: q, k, v, the caches, y, T, pos, heads, kv heads, head size. */
const attentionArgs = ({ inputs: [q, k, v, pos, kc, vc], outputs: [y], attrs }: Node, c: CallContext) => [
  c.addr(q),
  c.addr(k),
  c.addr(v),
  c.addr(kc),
  c.addr(vc),
  c.addr(y),
  dim(c.shape(q)[0]),
  scalar(c, pos),
  n(attrs, "heads"),
  n(attrs, "kvHeads"),
  n(attrs, "headDim"),
];

/** Every op has a wasm kernel: a missing, misspelled or removed key is a type error. */
export const BINDINGS = {
  ...SEE_BINDINGS,
  ...TENSOR_BINDINGS,
  // From a table stored as written, or "n4" as a tied classifier's Linear reads it.
  Gather: lookup("gather", "n4", "gatherN4"),
  // An int8 table with a scale per row (passes/quantize.ts): the rows looked up, dequantized.
  // From a table stored as written, or "n4k16" as a tied classifier's QLinear reads it.
  QGather: lookup("qgather", "n4k16", "qgatherN4"),
  LastRow: kernelCall("indexing", "lastRow", ({ inputs: [x], outputs: [y] }, c) => [
    c.addr(x),
    c.addr(y),
    dim(c.shape(x)[0]),
    dim(c.shape(x)[1]),
  ]),
  RMSNorm: kernelCall("norm", "rmsnorm", ({ inputs: [x, w], outputs: [y], attrs }, c) => [
    c.addr(x),
    c.addr(w),
    c.addr(y),
    dim(c.shape(x)[0]),
    dim(c.shape(x)[1]),
    float(n(attrs, "epsilon")),
  ]),
  // A kernel per weight layout (passes/weight-layout.ts): [N, K] linear.ts, [K, N] linear-kn.ts, interleaved rows linear-n4.ts.
  Linear: matmulCall(
    (node) => LINEAR_KERNELS[linearOperands(node.op, node.inputs, node.attrs).layout as keyof typeof LINEAR_KERNELS],
    (K) => 4 * K,
  ),
  // Per text (packed texts), the texts' means go to the kernel scratch, then one matmul over them.
  MeanLinear: perText(
    3,
    kernelCall("mean-linear", "meanLinear", ({ inputs: [x, w, b], outputs: [y] }, c) => [
      c.addr(x),
      c.addr(w),
      b ? c.addr(b) : 0,
      c.addr(y),
      dim(c.shape(x)[0]),
      dim(c.shape(x)[1]),
      dim(c.shape(w)[0]),
    ]),
    {
      ...kernelCall("per-text", "meanLinearPerText", ({ inputs: [x, w, b, lengths], outputs: [y] }, c) => [
        c.addr(x),
        c.addr(w),
        c.addr(b),
        c.addr(y),
        c.addr(lengths),
        dim(c.shape(lengths)[0]),
        dim(c.shape(x)[1]),
        dim(c.shape(w)[0]),
        c.scratch,
      ]),
      scratchBytes: ({ inputs: [x, , , lengths] }, size) => meansBytes(size(lengths)[0], size(x)[1]),
    },
  ),
  MeanQLinear: perText(
    4,
    kernelCall("mean-linear", "meanQLinear", ({ inputs: [x, w, scale, b], outputs: [y] }, c) => [
      c.addr(x),
      c.addr(w),
      c.addr(scale),
      b ? c.addr(b) : 0,
      c.addr(y),
      dim(c.shape(x)[0]),
      dim(c.shape(x)[1]),
      dim(c.shape(w)[0]),
    ]),
    {
      ...kernelCall("per-text", "meanQLinearPerText", ({ inputs: [x, w, scale, b, lengths], outputs: [y] }, c) => [
        c.addr(x),
        c.addr(w),
        c.addr(scale),
        c.addr(b),
        c.addr(y),
        c.addr(lengths),
        dim(c.shape(lengths)[0]),
        dim(c.shape(x)[1]),
        dim(c.shape(w)[0]),
        c.scratch,
      ]),
      scratchBytes: ({ inputs: [x, , , , lengths] }, size) => {
        const [B] = size(lengths),
          K = size(x)[1];
        return meansBytes(B, K) + q8ScratchBytes(B, K);
      },
    },
  ),
  // With its rows' sums (passes/row-sums.ts, wasm-relaxed), the relaxed kernel's 7-bit activations.
  QLinear: {
    ...matmulCall(
      (node) => {
        const n4 = linearOperands(node.op, node.inputs, node.attrs).layout === "n4k16" ? "N4" : "";
        return node.attrs.sums === 1 ? ["linear-q8s", `qlinearSums${n4}`] : ["linear-q8", `qlinear${n4}`];
      },
      (K) => K,
      true,
    ),
    scratchBytes: ({ inputs: [x] }, size) => q8ScratchBytes(...(size(x) as [number, number])),
  },
  // 4-bit weights in Q4_0 blocks (compiler/ir/ops/linear-q4.ts), as written or four rows interleaved.
  Q4Linear: {
    ...matmulCall(
      (node) => ["linear-q4", q4Layout(node.attrs) === "n4" ? "q4linearN4" : "q4linear"],
      (K) => 18 * Math.ceil(K / 32),
      true,
    ),
    // x's rows as int16 in whole groups of 32, then a scale per row and a 16-byte correction per group (kernels/linear-q4.ts).
    scratchBytes: ({ inputs: [x] }, size) => {
      const [T, K] = size(x);
      return T * (80 * Math.ceil(K / 32) + 4) + 32;
    },
  },
  LayerNorm: kernelCall("norm", "layerNorm", ({ inputs: [x, w, b], outputs: [y], attrs }, c) => [
    c.addr(x),
    c.addr(w),
    c.addr(b),
    c.addr(y),
    dim(c.shape(x)[0]),
    dim(c.shape(x)[1]),
    float(n(attrs, "epsilon")),
  ]),
  L2Normalize: kernelCall("norm", "l2normalize", ({ inputs: [x], outputs: [y], attrs }, c) => [
    c.addr(x),
    c.addr(y),
    dim(c.shape(x)[0]),
    dim(c.shape(x)[1]),
    float(n(attrs, "epsilon")),
  ]),
  SelfAttention: perText(
    3,
    kernelCall("attention", "selfAttention", ({ inputs: [q, k, v], outputs: [y], attrs }, c) => [
      c.addr(q),
      c.addr(k),
      c.addr(v),
      c.addr(y),
      dim(c.shape(q)[0]),
      n(attrs, "heads"),
      n(attrs, "headDim"),
      float(n(attrs, "scale")),
    ]),
    kernelCall("per-text", "selfAttentionPerText", ({ inputs: [q, k, v, lengths], outputs: [y], attrs }, c) => [
      c.addr(q),
      c.addr(k),
      c.addr(v),
      c.addr(y),
      c.addr(lengths),
      dim(c.shape(lengths)[0]),
      n(attrs, "heads"),
      n(attrs, "headDim"),
      float(n(attrs, "scale")),
    ]),
  ),
  Relu: kernelCall("elementwise", "relu", ({ inputs: [x], outputs: [y] }, c) => [c.addr(x), c.addr(y), count(c.shape(y))]),
  Tanh: kernelCall("elementwise", "tanh", ({ inputs: [x], outputs: [y] }, c) => [c.addr(x), c.addr(y), count(c.shape(y))]),
  AddRows: perText(
    2,
    kernelCall("elementwise", "addRows", ({ inputs: [x, t], outputs: [y] }, c) => [
      c.addr(x),
      c.addr(t),
      c.addr(y),
      dim(c.shape(x)[0]),
      dim(c.shape(x)[1]),
    ]),
    kernelCall("per-text", "addRowsPerText", ({ inputs: [x, t, lengths], outputs: [y] }, c) => [
      c.addr(x),
      c.addr(t),
      c.addr(y),
      c.addr(lengths),
      dim(c.shape(lengths)[0]),
      dim(c.shape(x)[1]),
    ]),
  ),
  MeanRows: perText(
    1,
    kernelCall("elementwise", "meanRows", ({ inputs: [x], outputs: [y] }, c) => [
      c.addr(x),
      c.addr(y),
      dim(c.shape(x)[0]),
      dim(c.shape(x)[1]),
    ]),
    kernelCall("per-text", "meanRowsPerText", ({ inputs: [x, lengths], outputs: [y] }, c) => [
      c.addr(x),
      c.addr(y),
      c.addr(lengths),
      dim(c.shape(lengths)[0]),
      dim(c.shape(x)[1]),
    ]),
  ),
  RoPE: kernelCall("rope", "rope", ({ inputs: [x, pos, cos, sin], outputs: [y], attrs }, c) => [
    c.addr(x),
    c.addr(cos),
    c.addr(sin),
    c.addr(y),
    dim(c.shape(x)[0]),
    scalar(c, pos),
    dim(c.shape(x)[1]),
    n(attrs, "headDim"),
  ]),
  // Split across threads by kv heads (each part its heads' cache columns and queries: attentionHeads).
  Attention: {
    ...kernelCall("attention", "attention", (node, c) => attentionArgs(node, c)),
    share: {
      axes: () => ["heads"],
      unit: () => 1,
      // Multiply-adds a token at the last position (q·k and the weighted sum of v over the cache's rows),
      // counted at an eighth: a token's attention grows with its position, and at the early ones it is
      // too short to pay for waking the workers (stories260K: 65,536 at the last; stories110M: 1.6M).
      work: ({ inputs: [, , , , kc], attrs }, size) => (2 * n(attrs, "heads") * n(attrs, "headDim") * size(kc)[0]) / 8,
      count: ({ attrs }) => n(attrs, "kvHeads"),
      kernels: () => [["attention", "attentionHeads"]],
      call: (node, c, part) => `attentionHeads(${[...attentionArgs(node, c), part.start, `${part.start} + ${part.count}`].join(", ")})`,
    },
  },
  Add: kernelCall("elementwise", "add", ({ inputs: [a, b], outputs: [y] }, c) => [c.addr(a), c.addr(b), c.addr(y), count(c.shape(y))]),
  SwiGLU: kernelCall("elementwise", "swiglu", ({ inputs: [g, u], outputs: [y] }, c) => [
    c.addr(g),
    c.addr(u),
    c.addr(y),
    count(c.shape(y)),
  ]),
} satisfies Readonly<Record<OpName, Binding>>;

/** The ops the wasm target claims: all of them (BINDINGS satisfies Record<OpName, Binding>). */
export const WASM_OPS: readonly OpName[] = OP_NAMES.filter((op) => op in BINDINGS);

/** The node's binding; unsupported.op for an op name outside the set (a node built unchecked). */
export function binding(node: Omit<Node, "op"> & { op: string }): Binding {
  const b = isOpName(node.op) ? BINDINGS[node.op] : undefined;
  if (!b) throw new SeecError("unsupported.op", `the wasm backend has no kernel for op ${node.op}`, { at: `node ${node.name}` });
  return b;
}

/**
 * The scratch a SIMD module's kernels need: the most any one node asks for (nodes run one at a
 * time), in whole 64-byte lines. The scalar kernels need none.
 */
export function kernelScratchBytes({ graph, init, forward }: PlannedGraph): number {
  const dims = maxDims(graph);
  const size = (tensor: string) => bindShape(graph.values.get(tensor)!.shape, dims);
  const most = Math.max(0, ...[...init, ...forward].map((node) => binding(node).scratchBytes?.(node, size) ?? 0));
  return Math.ceil(most / 64) * 64;
}
