/**
 * How each ONNX op becomes seec IR, given static shapes and the folded constants (lower.ts).
 * Shape plumbing (reshape, transpose, slice, expand) becomes strided copies; arithmetic becomes
 * elementwise maps; MatMul by a weight matrix becomes Linear, and normalizations the fused
 * LayerNorm and RMSNorm kernels; attention ops are written out as the products, masks and softmax
 * they are defined by.
 */
import { SeecError } from "../../../runtime/errors.js";
import type { GraphBuilder } from "../../ir/builder.js";
import { elementCount, type Attrs, type DType } from "../../ir/graph.js";
import { broadcastStrides, stridesOf, type ReduceFunction } from "../../ir/ops/tensor.js";
import { COMPOSITIONS, type Algebra, type Composition } from "./elementwise.js";
import { axis, ints, sliceParams, type OpContext } from "./layout-ops.js";
import { attr, type OnnxNode } from "./read.js";
import { DATA_TYPES, isFloat, type OnnxTensor } from "./tensor.js";

/** An axis of node `n` from 0 (refused, naming the node, outside [-rank, rank)). */
const axisOf = (n: OnnxNode, a: number, rank: number) => axis({ node: n.name }, a, rank);

/** Turns one ONNX node into IR; returns the IR tensor for each of the node's outputs (undefined: not produced). */
export type Lowering = (l: Lowerer, node: OnnxNode) => (string | undefined)[];

export class Lowerer {
  private readonly names = new Map<string, string>();
  private readonly constants = new Map<string, string>();
  private node?: OnnxNode;
  private count = 0;

  constructor(
    private readonly b: GraphBuilder,
    /** Every ONNX tensor's value from the folding run: exact for constants, shapes only for the rest. */
    private readonly values: ReadonlyMap<string, OnnxTensor>,
    private readonly constant: ReadonlySet<string>,
    /** Tensors some node reads or the graph outputs. */
    private readonly used: ReadonlySet<string>,
    readonly opset: number,
    /** The graph's outputs: a folded one's constant takes another name, the output's Copy takes its own. */
    private readonly outputs: ReadonlySet<string> = new Set(),
    /** Each constant a Transpose of a 2-D constant makes, by the constant it transposes (a weight shared with a lookup). */
    private readonly transposeOf: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** Whether anything reads the ONNX tensor (optional outputs nobody reads are not computed). */
  isUsed(name: string): boolean {
    return this.used.has(name);
  }

  bindInput(onnx: string, ir: string): void {
    this.names.set(onnx, ir);
  }

  /** Lowers the node; returns the IR tensor of each of its outputs (undefined: not computed). */
  lower(node: OnnxNode, lowering: Lowering): (string | undefined)[] {
    this.node = node;
    const outs = lowering(this, node);
    node.outputs.forEach((o, i) => {
      if (o && outs[i] !== undefined && !this.constant.has(o)) this.names.set(o, outs[i]!);
    });
    return outs;
  }

  /** The graph output `onnx`, copied into a tensor of that name (a name the caller reads results by). */
  output(onnx: string): string {
    this.node = undefined;
    const source = this.ir(onnx);
    return this.b.node("Copy", onnx, [source], { ...contiguous(this.shape(onnx)), shape: this.shape(onnx) });
  }

  // What the node reads.

  shape(name: string): number[] {
    return this.known(name).shape;
  }

  /** The folding run's value of a tensor the node reads (the model's error when it has none). */
  private known(name: string): OnnxTensor {
    const v = name ? this.values.get(name) : undefined;
    if (v) return v;
    const at = this.node ? `node ${this.node.name} (${this.node.op})` : undefined;
    if (!name) throw new SeecError("input.onnx", "a required input is missing", { at });
    this.fail(`tensor "${name}" is an output seec does not compute (an optional output of the op that makes it)`);
  }

  onnxDtype(name: string): OnnxTensor["dtype"] {
    return this.known(name).dtype;
  }

  isFloat(name: string): boolean {
    return isFloat(this.onnxDtype(name));
  }

  dtype(name: string): DType {
    return this.isFloat(name) ? "f32" : "i32";
  }

  isConstant(name: string | undefined): boolean {
    return !!name && this.constant.has(name);
  }

  /** A folded tensor's values (a constant input: axes, shapes, weights). */
  value(name: string): OnnxTensor {
    if (!this.constant.has(name)) this.fail(`input "${name}" must be known at build time (a constant or computed from shapes)`);
    return this.values.get(name)!;
  }

  /** The IR tensor holding an ONNX tensor: the lowered value, or an IR constant for a folded one. */
  ir(name: string): string {
    const known = this.names.get(name);
    if (known) return known;
    if (!name)
      throw new SeecError("input.onnx", "a required input is missing", {
        at: this.node ? `node ${this.node.name} (${this.node.op})` : undefined,
      });
    if (!this.constant.has(name))
      this.fail(`tensor "${name}" is an output seec does not compute (an optional output of the op that makes it)`);
    let c = this.constants.get(name);
    if (!c) {
      const v = this.values.get(name)!;
      c = this.b.constant(
        this.outputs.has(name) ? `${name}:value` : name,
        isFloat(v.dtype) ? Float32Array.from(v.data) : Int32Array.from(v.data),
        v.shape,
      );
      this.constants.set(name, c);
    }
    return c;
  }

  attrs(): OpContext {
    const n = this.node!;
    return { attrs: n.attrs, opset: this.opset, node: n.name, outputs: n.outputs.length };
  }

  fail(message: string): never {
    throw new SeecError("unsupported.onnx_op", message, { at: this.node ? `node ${this.node.name} (${this.node.op})` : undefined });
  }

  // IR nodes, named after the ONNX node they lower.

  /** One IR node of any op. */
  add(op: string, inputs: string[], attrs: Attrs = {}): string {
    return this.b.node(op, `${this.node?.name ?? "output"}#${++this.count}`, inputs, attrs);
  }

  /** An f32 tensor kept in the module's memory between calls (a stateful decoder's KV cache). */
  state(name: string, shape: number[]): string {
    return this.b.state(name, "f32", shape);
  }

  constantData(data: Float32Array | Int32Array, shape: number[]): string {
    return this.b.constant(`${this.node?.name ?? "const"}#${++this.count}`, data, shape);
  }

  /** An f32 scalar constant (shape []), shared by every node that uses the same value. */
  scalar(x: number): string {
    const key = `scalar:${Object.is(x, -0) ? "-0" : x}`;
    let c = this.constants.get(key);
    if (!c) this.constants.set(key, (c = this.b.constant(key, Float32Array.of(x), [])));
    return c;
  }

  /** y[i] = x[offset + Σ i_d · strides[d]] over `shape`, stored as `outShape` (default: shape). */
  copy(x: string, shape: number[], strides: number[], offset = 0, outShape?: number[]): string {
    return this.add("Copy", [x], { shape, strides, offset, ...(outShape ? { outShape } : {}) });
  }

  reshape(x: string, shape: number[]): string {
    const from = this.irShape(x);
    if (from.length === shape.length && from.every((d, i) => d === shape[i])) return x;
    return this.copy(x, shape, stridesOf(shape));
  }

  transpose(x: string, perm: number[]): string {
    const shape = this.irShape(x),
      s = stridesOf(shape);
    if (perm.every((p, i) => p === i)) return x;
    return this.copy(
      x,
      perm.map((p) => shape[p]),
      perm.map((p) => s[p]),
    );
  }

  expand(x: string, shape: number[]): string {
    return this.copy(x, shape, broadcastStrides(this.irShape(x), shape));
  }

  map(fn: string, inputs: string[], dtype: DType = "f32"): string {
    return this.add("Map", inputs, { fn, dtype });
  }

  concat(inputs: string[], axis: number): string {
    return inputs.length === 1 ? inputs[0] : this.add("Concat", inputs, { axis });
  }

  /** Elements [start, start + length) of `axis`. */
  slice(x: string, axis: number, start: number, length: number, step = 1): string {
    const shape = this.irShape(x),
      s = stridesOf(shape);
    const out = shape.slice();
    out[axis] = length;
    return this.copy(
      x,
      out,
      s.map((st, d) => (d === axis ? st * step : st)),
      start * s[axis],
    );
  }

  /** a [..., M, K] · b [..., K, N]: Linear when b is a 2-D weight, a batched MatMul otherwise. */
  matmul(a: string, bOnnx: string | undefined, bIr?: string): string {
    const A = this.irShape(a);
    // b = Transpose(w) of a 2-D constant w [N, K]: Linear reads w itself, the one constant a lookup of it reads too (a tied head).
    const w = bOnnx && this.transposeOf.get(bOnnx);
    if (w && this.isConstant(w) && A.length >= 2) return this.linear(a, this.ir(w));
    if (bOnnx && this.isConstant(bOnnx) && this.shape(bOnnx).length === 2 && A.length >= 2) {
      const [K, N] = this.shape(bOnnx);
      const w = this.value(bOnnx).data;
      const wt = new Float32Array(N * K);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) wt[n * K + k] = w[k * N + n];
      return this.linear(a, this.constantData(wt, [N, K]));
    }
    const b = bIr ?? this.ir(bOnnx!);
    return this.add("MatMul", [a, b]);
  }

  /** x [..., K] · wᵀ (w [N, K]) + bias, through the Linear kernel on rows. */
  linear(x: string, w: string, bias?: string): string {
    const X = this.irShape(x),
      N = this.irShape(w)[0];
    const rows = this.reshape(x, [elementCount(X.slice(0, -1)), X.at(-1)!]);
    const y = this.add("Linear", bias ? [rows, w, bias] : [rows, w]);
    return this.reshape(y, [...X.slice(0, -1), N]);
  }

  /** Layer or RMS norm over the axes from `from` (default: the last), through the fused kernels on rows. */
  norm(kind: "LayerNorm" | "RMSNorm", x: string, scale: string, bias: string | undefined, epsilon: number, from?: number): string {
    const X = this.irShape(x),
      start = from ?? X.length - 1,
      D = elementCount(X.slice(start));
    const rows = this.reshape(x, [elementCount(X.slice(0, start)), D]);
    const w = this.vector(scale, D);
    const inputs = kind === "LayerNorm" ? [rows, w, bias ? this.vector(bias, D) : this.constantData(new Float32Array(D), [D])] : [rows, w];
    return this.reshape(this.add(kind, inputs, { epsilon }), X);
  }

  softmax(x: string): string {
    return this.add("Softmax", [x]);
  }

  reduce(fn: ReduceFunction, x: string, axes: number[]): string {
    return this.add("Reduce", [x], { fn, axes });
  }

  /** rows of a 2-D table picked by integer ids of any shape: ids.shape + [D]. */
  gatherRows(table: string, ids: string): string {
    // Gather reads and writes f32 rows: an integer table's bits would come out as floats.
    if (this.b.dtypeOf(table) !== "f32") this.fail("gathering from an integer tensor at indices computed at run time is not supported");
    const I = this.irShape(ids),
      D = this.irShape(table)[1];
    const flat = this.reshape(ids, [elementCount(I)]);
    return this.reshape(this.add("Gather", [table, flat]), [...I, D]);
  }

  /** A [D] weight as an IR tensor, from any constant of D elements (e.g. [1, 1, D]). */
  private vector(onnx: string, D: number): string {
    if (this.isConstant(onnx)) {
      const v = this.value(onnx);
      if (v.data.length !== D) this.fail(`a norm's scale and bias must have ${D} elements`);
      return v.shape.length === 1 && isFloat(v.dtype) ? this.ir(onnx) : this.constantData(Float32Array.from(v.data), [D]);
    }
    return this.reshape(this.ir(onnx), [D]);
  }

  irShape(ir: string): number[] {
    return this.b.shapeOf(ir);
  }
}

function contiguous(shape: number[]): { strides: number[]; offset: number } {
  return { strides: stridesOf(shape), offset: 0 };
}

// The ops.

/** Same data, the output's shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
const view: Lowering = (l, n) => [l.reshape(l.ir(n.inputs[0]), l.shape(n.outputs[0]))];

const elementwise =
  (fn: string, out?: "bool" | "input"): Lowering =>
  (l, n) => {
    const inputs = n.inputs.filter(Boolean);
    const integer = !l.isFloat(inputs[0]);
    const name = fn === "div" && integer ? "divInt" : fn;
    return [
      l.map(
        name,
        inputs.map((i) => l.ir(i)),
        out === "bool" || integer ? "i32" : "f32",
      ),
    ];
  };

const unary =
  (fn: string): Lowering =>
  (l, n) => [l.map(fn, [l.ir(n.inputs[0])], l.dtype(n.inputs[0]))];

const cast: Lowering = (l, n) => {
  const to = n.op === "CastLike" ? l.onnxDtype(n.inputs[1]) : DATA_TYPES[attr(n, "to", 1)];
  const from = l.dtype(n.inputs[0]);
  const x = l.ir(n.inputs[0]);
  if (to === "bool") return [l.onnxDtype(n.inputs[0]) === "bool" ? x : l.map("bool", [x], "i32")];
  // Floats are all f32 and integers all i32 here: a cast within either family changes nothing but
  // bfloat16's precision (float16 keeps f32's: within ONNX's tolerances of half's).
  if (to === "bfloat16") return [l.map("bfloat16", [x], "f32")];
  if (isFloat(to)) return [from === "f32" ? x : l.map("copy", [x], "f32")];
  return [from === "i32" ? x : l.map("trunc", [x], "i32")];
};

/** BitShift: unsigned integers' bits moved LEFT or RIGHT (the direction attribute), zeros shifted in. */
const bitShift: Lowering = (l, n) => {
  const direction = n.attrs.direction;
  if (direction !== "LEFT" && direction !== "RIGHT") l.fail(`direction is ${JSON.stringify(direction)}, not "LEFT" or "RIGHT"`);
  return [l.map(direction === "LEFT" ? "shl" : "shr", [l.ir(n.inputs[0]), l.ir(n.inputs[1])], "i32")];
};

const transposeOp: Lowering = (l, n) => {
  const shape = l.shape(n.inputs[0]);
  const perm = ints(l.attrs(), "perm") ?? shape.map((_, i) => shape.length - 1 - i);
  return [l.transpose(l.ir(n.inputs[0]), perm)];
};

const sliceOp: Lowering = (l, n) => {
  const x = l.ir(n.inputs[0]);
  const dims = l.shape(n.inputs[0]);
  const consts = n.inputs.slice(1).map((i) => (i ? l.value(i) : undefined));
  const { begin, step, shape } = sliceParams(dims, consts, l.attrs());
  const s = stridesOf(dims);
  return [
    l.copy(
      x,
      shape,
      s.map((st, d) => st * step[d]),
      begin.reduce((a, bgn, d) => a + bgn * s[d], 0),
    ),
  ];
};

const splitOp: Lowering = (l, n) => {
  const x = l.ir(n.inputs[0]);
  const axis = axisOf(n, attr(n, "axis", 0), l.shape(n.inputs[0]).length);
  let start = 0;
  return n.outputs.map((o) => {
    if (!o) return undefined;
    const length = l.shape(o)[axis];
    const y = l.slice(x, axis, start, length);
    start += length;
    return y;
  });
};

const concatOp: Lowering = (l, n) => {
  const inputs = n.inputs.filter((i) => i && elementCount(l.shape(i)) > 0);
  if (inputs.length === 0) return l.fail("Concat of empty tensors only is not supported");
  const axis = axisOf(n, attr(n, "axis", 0), l.shape(n.outputs[0]).length);
  return [
    l.concat(
      inputs.map((i) => l.ir(i)),
      axis,
    ),
  ];
};

const expandOp: Lowering = (l, n) => [l.expand(l.ir(n.inputs[0]), l.shape(n.outputs[0]))];

const tileOp: Lowering = (l, n) => {
  const x = l.ir(n.inputs[0]),
    X = l.shape(n.inputs[0]);
  const reps = Array.from(l.value(n.inputs[1]).data);
  const s = stridesOf(X);
  // [r0, d0, r1, d1, ...] read with stride 0 over each repeat, then viewed as [r0·d0, r1·d1, ...].
  return [
    l.copy(
      x,
      X.flatMap((d, i) => [reps[i], d]),
      X.flatMap((_, i) => [0, s[i]]),
      0,
      l.shape(n.outputs[0]),
    ),
  ];
};

const gatherOp: Lowering = (l, n) => {
  const [data, indices] = n.inputs;
  const axis = axisOf(n, attr(n, "axis", 0), l.shape(data).length);
  const D = l.shape(data);
  if (l.isConstant(indices)) {
    // Fixed indices: slices of the data, joined.
    const ix = Array.from(l.value(indices).data, (k) => (k < 0 ? k + D[axis] : k));
    const x = l.ir(data);
    const parts = ix.map((k) => l.slice(x, axis, k, 1));
    return [l.reshape(l.concat(parts, axis), l.shape(n.outputs[0]))];
  }
  if (axis === 0 && D.length === 2) return [l.gatherRows(l.ir(data), l.ir(indices))];
  if (!l.isFloat(data)) return l.fail(`Gather of an integer tensor with indices computed at run time is not supported`);
  // Any axis: the data as a [K, rest] table (the axis moved first), its rows gathered, the axis moved back.
  const K = D[axis],
    I = l.shape(indices);
  const others = D.map((_, i) => i).filter((i) => i !== axis);
  const table = l.reshape(l.transpose(l.ir(data), [axis, ...others]), [K, elementCount(others.map((i) => D[i]))]);
  const rows = l.gatherRows(table, nonNegative(l, l.ir(indices), K));
  const gathered = l.reshape(rows, [elementCount(I), ...others.map((i) => D[i])]);
  const back = [...others.slice(0, axis).map((_, i) => i + 1), 0, ...others.slice(axis).map((_, i) => axis + i + 1)];
  return [l.reshape(l.transpose(gathered, back), l.shape(n.outputs[0]))];
};

/** Indices into an axis of size K with the negative ones counted from the end. */
export function nonNegative(l: Lowerer, indices: string, K: number): string {
  return l.map("where", [l.map("less", [indices, l.scalar(0)], "i32"), l.map("add", [indices, l.scalar(K)], "i32"), indices], "i32");
}

/**
 * GatherElements: y[i...] = data[i... with i_axis replaced by indices[i...]], as a one-hot of the
 * indices against the axis's positions: a sum over that axis of where(hit, data, 0).
 */
const gatherElementsOp: Lowering = (l, n) => {
  const [data, indices] = n.inputs;
  if (!l.isFloat(data)) return l.fail("GatherElements of an integer tensor is not supported");
  const D = l.shape(data);
  const axis = axisOf(n, attr(n, "axis", 0), D.length);
  return [pickAlong(l, l.ir(data), D, nonNegative(l, l.ir(indices), D[axis]), l.shape(indices), axis)];
};

/**
 * y[i...] = data[i... with i_axis replaced by ids[i...]] (ids [I], within the axis, computed at run
 * time), as a one-hot of the ids against the axis's positions: a sum over that axis of where(hit, data, 0).
 */
function pickAlong(l: Lowerer, data: string, D: number[], ids: string, I: number[], axis: number): string {
  const K = D[axis];
  // The data over the indices' extent off the axis, all of it along the axis; one-hot axis after `axis`.
  const box = I.map((d, i) => (i === axis ? K : d));
  const part = l.copy(data, box, stridesOf(D));
  const withK = (shape: number[], at: number, k: number) => [...shape.slice(0, at), k, ...shape.slice(at)];
  const values = l.reshape(part, withK(box, axis, 1));
  const hits = l.reshape(ids, withK(I, axis + 1, 1));
  const positions = l.constantData(
    Float32Array.from({ length: K }, (_, i) => i),
    withK(
      I.map(() => 1),
      axis + 1,
      K,
    ),
  );
  const picked = l.map("where", [l.map("equal", [hits, positions]), values, l.scalar(0)]);
  return l.reshape(l.reduce("sum", picked, [axis + 1]), I);
}

/**
 * ReverseSequence: along the time axis, each batch entry's first sequence_lens[b] elements reversed
 * (the rest as they are): the element at t comes from len − 1 − t where t < len, computed at run time.
 */
const reverseSequenceOp: Lowering = (l, n) => {
  const [x, lens] = n.inputs;
  if (!l.isFloat(x)) return l.fail("ReverseSequence of an integer tensor is not supported");
  const X = l.shape(x);
  const time = attr(n, "time_axis", 0),
    batch = attr(n, "batch_axis", 1);
  if (X.length < 2 || ![0, 1].includes(time) || ![0, 1].includes(batch) || time === batch)
    l.fail(`ReverseSequence's time_axis ${time} and batch_axis ${batch} must be 0 and 1 of an input of rank 2 or more`);
  return [reverseSequences(l, l.ir(x), X, l.ir(lens), time, batch)];
};

/**
 * x (IR, shape X) with each batch entry's first lens[b] elements along the time axis reversed and
 * the rest as they are: the element at t comes from len − 1 − t where t < len (lens i32 [X[batch]],
 * at run time). ReverseSequence, and the backward passes of the recurrent ops.
 */
export function reverseSequences(l: Lowerer, x: string, X: number[], lens: string, time = 0, batch = 1): string {
  // Positions along time and lengths along batch, shaped to broadcast over [X0, X1, 1, ...].
  const at = (axis: number, d: number) => X.map((_, i) => (i === axis ? d : 1));
  const t = l.constantData(
    Int32Array.from({ length: X[time] }, (_, i) => i),
    at(time, X[time]),
  );
  const len = l.reshape(lens, at(batch, X[batch]));
  const reversed = l.map("sub", [l.map("sub", [len, l.scalar(1)], "i32"), t], "i32");
  const source = l.map("where", [l.map("less", [t, len], "i32"), reversed, t], "i32");
  return pickAlong(l, x, X, l.expand(source, X), X, time);
}

const matmulOp: Lowering = (l, n) => {
  const [a, b] = n.inputs;
  const A = l.shape(a),
    B = l.shape(b);
  if (A.length < 2 || B.length < 2) {
    // 1-D operands: promote, multiply, drop the added axis.
    const a2 = l.reshape(l.ir(a), A.length === 1 ? [1, A[0]] : A);
    const b2 = l.reshape(l.ir(b), B.length === 1 ? [B[0], 1] : B);
    const y = l.matmul(a2, undefined, b2);
    const Y = l.irShape(y);
    return [l.reshape(y, [...Y.slice(0, -2), ...(A.length === 1 ? [] : [Y.at(-2)!]), ...(B.length === 1 ? [] : [Y.at(-1)!])])];
  }
  return [l.matmul(l.ir(a), b, l.isConstant(b) ? undefined : l.ir(b))];
};

const gemmOp: Lowering = (l, n) => {
  const [a, b, c] = n.inputs;
  const alpha = attr(n, "alpha", 1),
    beta = attr(n, "beta", 1);
  let x = l.ir(a);
  if (attr(n, "transA", 0)) x = l.transpose(x, [1, 0]);
  const transB = attr(n, "transB", 0) === 1;
  const hasBias = !!c && beta !== 0;
  if (l.isConstant(b) && (!hasBias || l.isConstant(c))) {
    // A weight: one Linear, alpha folded into it and beta into the bias.
    const B = l.value(b),
      [R, C] = B.shape;
    const [K, N] = transB ? [C, R] : [R, C];
    const w = new Float32Array(N * K);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) w[j * K + k] = alpha * B.data[transB ? j * C + k : k * C + j];
    let bias: string | undefined;
    if (hasBias) {
      const cv = l.value(c);
      if (elementCount(cv.shape) === N || elementCount(cv.shape) === 1)
        bias = l.constantData(
          Float32Array.from({ length: N }, (_, j) => beta * cv.data[cv.data.length === 1 ? 0 : j]),
          [N],
        );
      else return [l.map("add", [l.linear(x, l.constantData(w, [N, K])), l.map("mul", [l.ir(c), l.scalar(beta)])])];
    }
    return [l.linear(x, l.constantData(w, [N, K]), bias)];
  }
  // Weights fed at run time: a matrix product, then the scalings and the bias as maps.
  let y = l.add("MatMul", [x, transB ? l.transpose(l.ir(b), [1, 0]) : l.ir(b)]);
  if (alpha !== 1) y = l.map("mul", [y, l.scalar(alpha)]);
  if (hasBias) y = l.map("add", [y, beta === 1 ? l.ir(c) : l.map("mul", [l.ir(c), l.scalar(beta)])]);
  return [y];
};

const softmaxOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  const axis = axisOf(n, attr(n, "axis", l.opset >= 13 ? -1 : 1), X.length);
  const x = l.ir(n.inputs[0]);
  if (l.opset < 13 && axis !== X.length - 1) {
    // Softmax over the flattened axes from `axis` on.
    return [l.reshape(l.softmax(l.reshape(x, [elementCount(X.slice(0, axis)), elementCount(X.slice(axis))])), X)];
  }
  if (axis === X.length - 1) return [l.softmax(x)];
  const perm = X.map((_, i) => i)
    .filter((i) => i !== axis)
    .concat(axis);
  return [
    l.transpose(
      l.softmax(l.transpose(x, perm)),
      perm.map((_, i) => perm.indexOf(i)),
    ),
  ];
};

/** The ONNX reductions, as the IR's Reduce with maps before and after. */
const REDUCTIONS: Readonly<Record<string, (l: Lowerer, x: string, axes: number[]) => string>> = {
  sum: (l, x, axes) => l.reduce("sum", x, axes),
  mean: (l, x, axes) => l.reduce("mean", x, axes),
  max: (l, x, axes) => l.reduce("max", x, axes),
  min: (l, x, axes) => l.reduce("min", x, axes),
  prod: (l, x, axes) => l.reduce("prod", x, axes),
  sumsquare: (l, x, axes) => l.reduce("sum", l.map("mul", [x, x]), axes),
  l1: (l, x, axes) => l.reduce("sum", l.map("abs", [x]), axes),
  l2: (l, x, axes) => l.map("sqrt", [l.reduce("sum", l.map("mul", [x, x]), axes)]),
  logsum: (l, x, axes) => l.map("log", [l.reduce("sum", x, axes)]),
  // log Σ e^x as m + log Σ e^(x − m), m the maximum: no overflow.
  logsumexp: (l, x, axes) => {
    const m = l.reduce("max", x, axes);
    return l.map("add", [m, l.map("log", [l.reduce("sum", l.map("exp", [l.map("sub", [x, m])]), axes)])]);
  },
};

/** The reductions whose result on integers is an integer. */
const INTEGER_REDUCTIONS = new Set(["sum", "max", "min", "prod", "sumsquare", "l1"]);

const reduceOp =
  (kind: keyof typeof REDUCTIONS): Lowering =>
  (l, n) => {
    const X = l.shape(n.inputs[0]);
    // Integers (an attention mask summed into sequence lengths, as GenAI's exports do) reduce in f32,
    // exact while every partial result stays within ±2^24, and come back as integers.
    const integer = !l.isFloat(n.inputs[0]);
    if (integer && !INTEGER_REDUCTIONS.has(kind)) l.fail(`${n.op} of an integer tensor is not supported (its result is not an integer)`);
    const listed = n.inputs[1] ? Array.from(l.value(n.inputs[1]).data) : (ints(l.attrs(), "axes") ?? []);
    if (listed.length === 0 && attr(n, "noop_with_empty_axes", 0)) return [l.ir(n.inputs[0])];
    const axes = listed.length ? listed.map((a) => axisOf(n, a, X.length)) : X.map((_, i) => i);
    const x = integer ? l.map("copy", [l.ir(n.inputs[0])], "f32") : l.ir(n.inputs[0]);
    const y = l.reshape(REDUCTIONS[kind](l, x, axes), reducedShape(X, axes, attr(n, "keepdims", 1) === 1));
    return [integer ? l.map("trunc", [y], "i32") : y];
  };

/** `shape` reduced over `axes`: each kept as 1, or dropped. */
function reducedShape(shape: readonly number[], axes: readonly number[], keep: boolean): number[] {
  return keep ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** An elementwise composition (elementwise.ts) as Map nodes, in the output's element type. */
const composedOp =
  (c: Composition): Lowering =>
  (l, n) => {
    const dtype = c.bool ? "i32" : l.dtype(n.inputs[0]);
    const algebra: Algebra<string> = { map: (fn, ...x) => l.map(fn, x, dtype), scalar: (v) => l.scalar(v) };
    return [
      c.build(
        algebra,
        n.inputs.map((i) => (i ? l.ir(i) : undefined)),
        n.attrs,
        l.opset,
      ),
    ];
  };

/**
 * The index of the largest (or smallest) element along `axis`, as f32 with the axis kept: the
 * elements equal to the extreme keep their index, the rest a value that loses, and a min (or,
 * for the last index, a max) over the axis picks one.
 */
export function argExtreme(l: Lowerer, x: string, axis: number, kind: "max" | "min", last: boolean): string {
  const X = l.irShape(x),
    n = X[axis];
  const iota = l.constantData(
    Float32Array.from({ length: n }, (_, i) => i),
    X.map((d, i) => (i === axis ? d : 1)),
  );
  const hit = l.map("equal", [x, l.reduce(kind, x, [axis])]);
  return l.reduce(last ? "max" : "min", l.map("where", [hit, iota, l.scalar(last ? -1 : n)]), [axis]);
}

const argOp =
  (kind: "max" | "min"): Lowering =>
  (l, n) => {
    const X = l.shape(n.inputs[0]);
    if (!l.isFloat(n.inputs[0])) l.fail(`Arg${kind === "max" ? "Max" : "Min"} of an integer tensor is not supported`);
    const a = axisOf(n, attr(n, "axis", 0), X.length);
    const index = argExtreme(l, l.ir(n.inputs[0]), a, kind, attr(n, "select_last_index", 0) === 1);
    return [l.reshape(l.map("trunc", [index], "i32"), reducedShape(X, [a], attr(n, "keepdims", 1) === 1))];
  };

/** Hardmax: 1 at the first largest element along `axis` (opset < 13: the flattened axes from it), 0 elsewhere. */
const hardmaxOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  if (!l.isFloat(n.inputs[0])) l.fail("Hardmax of an integer tensor is not supported");
  const a = axisOf(n, attr(n, "axis", l.opset >= 13 ? -1 : 1), X.length);
  const x = l.opset >= 13 ? l.ir(n.inputs[0]) : l.reshape(l.ir(n.inputs[0]), [elementCount(X.slice(0, a)), elementCount(X.slice(a))]);
  const at = l.opset >= 13 ? a : 1;
  const shape = l.irShape(x);
  const iota = l.constantData(
    Float32Array.from({ length: shape[at] }, (_, i) => i),
    shape.map((d, i) => (i === at ? d : 1)),
  );
  return [l.reshape(l.map("equal", [iota, argExtreme(l, x, at, "max", false)]), X)];
};

/**
 * NegativeLogLikelihoodLoss of x [N, C, d...] at run-time targets [N, d...]: a one-hot of the
 * targets against the class index picks each x and weight (sums over C of where(hit, ·, 0)).
 */
function nllLoss(l: Lowerer, x: string, target: string, weight: string | undefined, n: OnnxNode): string {
  const X = l.irShape(x),
    C = X[1];
  const rank = X.length;
  const t = l.reshape(target, [X[0], 1, ...X.slice(2)]);
  const perClass = (v: Float32Array) =>
    l.constantData(
      v,
      X.map((d, i) => (i === 1 ? d : 1)),
    );
  const hit = l.map("equal", [t, perClass(Float32Array.from({ length: C }, (_, i) => i))]);
  const picked = l.reduce("sum", l.map("where", [hit, x, l.scalar(0)]), [1]);
  let w = l.reduce(
    "sum",
    l.map("where", [
      hit,
      weight
        ? l.reshape(
            weight,
            X.map((d, i) => (i === 1 ? d : 1)),
          )
        : l.scalar(1),
      l.scalar(0),
    ]),
    [1],
  );
  if (typeof n.attrs.ignore_index === "number") w = l.map("where", [l.map("equal", [t, l.scalar(n.attrs.ignore_index)]), l.scalar(0), w]);
  const loss = l.map("neg", [l.map("mul", [picked, w])]);
  const reduction = typeof n.attrs.reduction === "string" ? n.attrs.reduction : "mean";
  const all = X.map((_, i) => i).filter((i) => i !== 1);
  if (reduction === "none") return l.reshape(loss, [X[0], ...X.slice(2)]);
  const total = l.reduce("sum", loss, all);
  if (reduction === "sum") return l.reshape(total, []);
  if (reduction !== "mean" || rank < 2) return l.fail(`reduction "${reduction}" is not none, sum or mean`);
  return l.reshape(l.map("div", [total, l.reduce("sum", w, all)]), []);
}

const nllOp: Lowering = (l, n) => [nllLoss(l, l.ir(n.inputs[0]), l.ir(n.inputs[1]), n.inputs[2] ? l.ir(n.inputs[2]) : undefined, n)];

/** SoftmaxCrossEntropyLoss: NegativeLogLikelihoodLoss of the log softmax over the classes (axis 1), and that log softmax. */
const sceOp: Lowering = (l, n) => {
  const logProb = logSoftmax(l, l.ir(n.inputs[0]), [1]);
  return [nllLoss(l, logProb, l.ir(n.inputs[1]), n.inputs[2] ? l.ir(n.inputs[2]) : undefined, n), logProb];
};

function logSoftmax(l: Lowerer, x: string, axes: number[]): string {
  const shifted = l.map("sub", [x, l.reduce("max", x, axes)]);
  return l.map("sub", [shifted, l.map("log", [l.reduce("sum", l.map("exp", [shifted]), axes)])]);
}

/** log softmax over `axis` (opset < 13: over the axes from `axis` on), as x − m − log Σ e^(x − m). */
const logSoftmaxOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  const from = axisOf(n, attr(n, "axis", l.opset >= 13 ? -1 : 1), X.length);
  const axes = l.opset >= 13 ? [from] : X.map((_, i) => i).filter((i) => i >= from);
  return [logSoftmax(l, l.ir(n.inputs[0]), axes)];
};

/** InstanceNormalization of [N, C, ...]: normalized over the spatial axes, then scale[c] · y + bias[c]. */
const instanceNormOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  if (X.length < 3) return l.fail("InstanceNormalization needs an input of rank 3 or more");
  const axes = X.map((_, i) => i).filter((i) => i >= 2);
  const perChannel = (onnx: string) => l.reshape(l.ir(onnx), [X[1], ...axes.map(() => 1)]);
  const x = l.ir(n.inputs[0]);
  const centered = l.map("sub", [x, l.reduce("mean", x, axes)]);
  const variance = l.reduce("mean", l.map("mul", [centered, centered]), axes);
  const y = l.map("div", [centered, l.map("sqrt", [l.map("add", [variance, l.scalar(attr(n, "epsilon", 1e-5))])])]);
  return [l.map("add", [l.map("mul", [y, perChannel(n.inputs[1])]), perChannel(n.inputs[2])])];
};

/** Dropout at inference: the input, and a mask of ones. */
const dropoutOp: Lowering = (l, n) => {
  const training = n.inputs[2];
  if (training && (!l.isConstant(training) || l.value(training).data[0]))
    l.fail("Dropout in training mode (or with training_mode fed at run time) is not supported");
  const X = l.shape(n.inputs[0]);
  const mask = n.outputs[1] && l.isUsed(n.outputs[1]) ? l.constantData(new Int32Array(elementCount(X)).fill(1), X) : undefined;
  return [l.ir(n.inputs[0]), mask];
};

/** Trilu with k known at build time: a constant mask picks the kept triangle. */
const triluOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  const k = n.inputs[1] ? l.value(n.inputs[1]).data[0] : 0;
  const upper = attr(n, "upper", 1) === 1;
  const [R, C] = X.slice(-2);
  const mask = new Int32Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) mask[r * C + c] = +(upper ? c - r >= k : c - r <= k);
  return [l.map("where", [l.constantData(mask, [R, C]), l.ir(n.inputs[0]), l.scalar(0)], l.dtype(n.inputs[0]))];
};

/** Pow: the base's element type (an integer base with a float exponent truncates, as ONNX Runtime's does). */
const powOp: Lowering = (l, n) => {
  const [x, e] = n.inputs;
  const dtype = l.dtype(x);
  if (l.isConstant(e) && elementCount(l.shape(e)) === 1 && l.value(e).data[0] === 2) return [l.map("mul", [l.ir(x), l.ir(x)], dtype)];
  return [l.map("pow", [l.ir(x), l.ir(e)], dtype)];
};

/** Sum, Max, Min and Mean of any number of inputs: pairwise maps, broadcast (one input is itself). */
const variadic =
  (fn: "add" | "max" | "min", mean = false): Lowering =>
  (l, n) => {
    const inputs = n.inputs.filter(Boolean);
    const dtype = l.dtype(inputs[0]);
    const total = inputs.map((i) => l.ir(i)).reduce((acc, x) => l.map(fn, [acc, x], dtype));
    return [mean && inputs.length > 1 ? l.map("mul", [total, l.scalar(1 / inputs.length)]) : total];
  };

const layerNormOp =
  (rms: boolean): Lowering =>
  (l, n) => {
    const X = l.shape(n.inputs[0]);
    const from = axisOf(n, attr(n, "axis", -1), X.length);
    const epsilon = attr(n, "epsilon", 1e-5);
    const x = l.ir(n.inputs[0]);
    const y = l.norm(rms ? "RMSNorm" : "LayerNorm", x, n.inputs[1], rms ? undefined : n.inputs[2], epsilon, from);
    if (!n.outputs.slice(1).some((o) => o && l.isUsed(o))) return [y];
    // The statistics outputs, written out: mean and 1 / sqrt(variance + epsilon) over the axes from `from`.
    const last = X.map((_, i) => i).filter((i) => i >= from);
    const mean = rms ? undefined : l.reduce("mean", x, last);
    const centered = mean ? l.map("sub", [x, mean]) : x;
    const variance = l.reduce("mean", l.map("mul", [centered, centered]), last);
    const inv = l.map("reciprocal", [l.map("sqrt", [l.map("add", [variance, l.scalar(epsilon)])])]);
    return rms ? [y, inv] : [y, mean, inv];
  };

const geluOp: Lowering = (l, n) => [l.map(n.attrs.approximate === "tanh" ? "geluTanh" : "gelu", [l.ir(n.inputs[0])])];

export const LOWERINGS: Readonly<Record<string, Lowering>> = {
  Identity: view,
  Reshape: view,
  Flatten: view,
  Squeeze: view,
  Unsqueeze: view,
  Transpose: transposeOp,
  Slice: sliceOp,
  Split: splitOp,
  Concat: concatOp,
  Expand: expandOp,
  Tile: tileOp,
  Gather: gatherOp,
  GatherElements: gatherElementsOp,
  ReverseSequence: reverseSequenceOp,
  Cast: cast,
  BitShift: bitShift,
  CastLike: cast,
  Add: elementwise("add"),
  Sub: elementwise("sub"),
  Mul: elementwise("mul"),
  Div: elementwise("div"),
  Pow: powOp,
  Max: variadic("max"),
  Min: variadic("min"),
  Sum: variadic("add"),
  Mean: variadic("add", true),
  Where: (l, n) => [
    l.map(
      "where",
      n.inputs.map((i) => l.ir(i)),
      l.dtype(n.inputs[1]),
    ),
  ],
  Equal: elementwise("equal", "bool"),
  Less: elementwise("less", "bool"),
  LessOrEqual: elementwise("lessOrEqual", "bool"),
  Greater: elementwise("greater", "bool"),
  GreaterOrEqual: elementwise("greaterOrEqual", "bool"),
  And: elementwise("and", "bool"),
  Or: elementwise("or", "bool"),
  Not: unary("not"),
  Neg: unary("neg"),
  Abs: unary("abs"),
  Sqrt: unary("sqrt"),
  Reciprocal: unary("reciprocal"),
  Exp: unary("exp"),
  Log: unary("log"),
  Erf: unary("erf"),
  Tanh: unary("tanh"),
  Sigmoid: unary("sigmoid"),
  Relu: unary("relu"),
  Sin: unary("sin"),
  Cos: unary("cos"),
  Gelu: geluOp,
  MatMul: matmulOp,
  Gemm: gemmOp,
  Softmax: softmaxOp,
  ReduceMean: reduceOp("mean"),
  ReduceSum: reduceOp("sum"),
  ReduceMax: reduceOp("max"),
  ReduceMin: reduceOp("min"),
  ReduceProd: reduceOp("prod"),
  ReduceSumSquare: reduceOp("sumsquare"),
  ReduceL1: reduceOp("l1"),
  ReduceL2: reduceOp("l2"),
  ReduceLogSum: reduceOp("logsum"),
  ReduceLogSumExp: reduceOp("logsumexp"),
  LogSoftmax: logSoftmaxOp,
  NegativeLogLikelihoodLoss: nllOp,
  SoftmaxCrossEntropyLoss: sceOp,
  ArgMax: argOp("max"),
  ArgMin: argOp("min"),
  Hardmax: hardmaxOp,
  Dropout: dropoutOp,
  InstanceNormalization: instanceNormOp,
  Trilu: triluOp,
  ...Object.fromEntries(Object.entries(COMPOSITIONS).map(([op, c]) => [op, composedOp(c)])),
  LayerNormalization: layerNormOp(false),
  SimplifiedLayerNormalization: layerNormOp(true),
  RMSNormalization: layerNormOp(true),
};
