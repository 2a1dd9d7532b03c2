/**
 * seec IR → a standard ONNX graph (default domain, opset 17), so ONNX Runtime can run exactly what
 * seec runs. Each IR op is written out in standard ops. State the graph updates (the KV cache)
 * becomes an input and an output: `<name>` in, `<name>.next` out, fed back by the caller; the token
 * count T stays a symbolic dimension. Nodes that run at load time (and SEE's factor tables) are
 * folded into initializers with the reference ops.
 *
 * The two ops that read the position `pos` at run time, a decoder's cached Attention and its RoPE,
 * are written as calls to model-local functions in seec's domain (ai.seec:Attention,
 * ai.seec:RoPE), each function's body the same standard ops: ONNX Runtime inlines them, and seec's
 * ONNX frontend maps the calls back onto its own ops (frontends/onnx/seec-export.ts), so that seec
 * builds what it exported (slice bounds known only at run time could not be read back otherwise).
 */
import onnxProto from "onnx-proto";
import type { Graph, Node, TensorData } from "../../compiler/ir/graph.js";
import { allocate, bindShape, maxDims } from "../../compiler/ir/graph.js";
import { isOpName, OP_NAMES, type OpName } from "../../compiler/ir/op-names.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import { num } from "../../compiler/ir/ops/op.js";
import { linearOperands, weightIndex, type LinearOperands, type WeightLayout } from "../../compiler/ir/ops/linear.js";
import { SEEC_DOMAIN } from "../../compiler/frontends/onnx/seec-domain.js";
import { SeecError } from "../../runtime/errors.js";

const { onnx } = onnxProto;
const OPSET = 17;
const FLOAT = 1,
  INT32 = 6,
  INT64 = 7;

export function exportOnnx(graph: Graph, producer: string): Uint8Array {
  const state = writtenState(graph);
  refuseUnwritable(graph, state);
  const w = new OnnxWriter(graph, state);
  for (const node of graph.nodes) w.lower(node);
  // Graph outputs under their IR names, updated state as <name>.next; an Identity names each.
  const outputs: [name: string, ir: string][] = [
    ...graph.outputs.map((o): [string, string] => [o, o]),
    ...state.map((s): [string, string] => [`${s}.next`, s]),
  ];
  for (const [name, ir] of outputs) w.raw("Identity", [w.in(ir)], [name]);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "seec",
    producerVersion: producer,
    opsetImport: [{ domain: "", version: OPSET }, ...(w.functions.length ? [{ domain: SEEC_DOMAIN, version: 1 }] : [])],
    functions: w.functions,
    graph: {
      name: graph.name,
      node: w.nodes,
      initializer: w.initializers,
      input: [...graph.inputs, ...state].map((name) => w.valueInfo(name, name)),
      output: outputs.map(([name, ir]) => w.valueInfo(name, ir)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The exported model's inputs and outputs by name: the graph's, and each state it writes as `<name>` in, `<name>.next` out. */
export function onnxInterface(graph: Graph): { inputs: string[]; outputs: string[] } {
  const state = writtenState(graph);
  return { inputs: [...graph.inputs, ...state], outputs: [...graph.outputs, ...state.map((s) => `${s}.next`)] };
}

/** The state tensors (KV caches) some node of the graph writes. */
function writtenState(graph: Graph): string[] {
  return [...new Set(graph.nodes.flatMap((n) => (opDef(n.op).writes ?? []).map((i) => n.inputs[i])))];
}

/**
 * unsupported.export, naming every op the graph needs written that export-onnx cannot write, before
 * any work. A node all of whose inputs are known at build time (constants, state nothing writes,
 * what such nodes compute) folds into an initializer with the reference op, so needs no writer
 * (the same rule as OnnxWriter.lower).
 */
function refuseUnwritable(graph: Graph, state: readonly string[]): void {
  const known = new Set(
    [...graph.values.values()].filter((v) => v.kind === "const" || (v.kind === "state" && !state.includes(v.name))).map((v) => v.name),
  );
  const refused: Node[] = [];
  for (const node of graph.nodes) {
    if (node.inputs.every((i) => known.has(i))) known.add(node.outputs[0]);
    else if (!supports(node.op)) refused.push(node);
  }
  if (refused.length === 0) return;
  const ops = [...new Set(refused.map((n) => n.op))];
  throw new SeecError("unsupported.export", `export-onnx cannot write the IR op${ops.length > 1 ? "s" : ""} ${ops.join(", ")} yet`, {
    at: `node ${refused[0].name}`,
    hint: `it writes ${ONNX_OPS.join(", ")}`,
  });
}

type Lower = (w: OnnxWriter, node: Node) => string;

type NodeProto = import("onnx-proto").onnx.INodeProto;
type Attrs = Record<string, number | number[]>;

/** Where nodes are written, the graph's body or a function's; constants go where each allows. */
abstract class NodeSink {
  readonly nodes: NodeProto[] = [];
  protected count = 0;

  /** A constant tensor's name: an initializer in the graph, a Constant node in a function. */
  abstract tensor(name: string, data: TensorData | BigInt64Array, dims: number[]): string;

  f32(values: number[], dims: number[] = [values.length]): string {
    return this.tensor(`const/${++this.count}`, Float32Array.from(values), dims);
  }

  i64(values: number[]): string {
    return this.tensor(`const/${++this.count}`, BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  i64scalar(x: number): string {
    return this.tensor(`const/${++this.count}`, BigInt64Array.of(BigInt(x)), []);
  }

  /** One node; returns its first output. */
  op(op: string, inputs: string[], attrs: Attrs = {}, outputs = 1): string {
    return this.ops(op, inputs, attrs, outputs)[0];
  }

  ops(op: string, inputs: string[], attrs: Attrs, outputs: number): string[] {
    const names = Array.from({ length: outputs }, () => `${op}/${++this.count}`);
    this.raw(op, inputs, names, attrs);
    return names;
  }

  raw(op: string, inputs: string[], outputs: string[], attrs: Attrs = {}, domain = ""): void {
    this.nodes.push({
      name: `${op}_${this.nodes.length}`,
      opType: op,
      domain,
      input: inputs,
      output: outputs,
      attribute: attributes(attrs),
    });
  }

  /** T, the token count of this call, as int64 [1] (from the first dimension of an input). */
  rows(x: string): string {
    return this.op("Shape", [x], { start: 0, end: 1 });
  }
}

function attributes(attrs: Attrs): import("onnx-proto").onnx.IAttributeProto[] {
  const T = onnx.AttributeProto.AttributeType;
  return Object.entries(attrs).map(([name, v]) =>
    Array.isArray(v)
      ? { name, type: T.INTS, ints: v }
      : Number.isInteger(v) && !["epsilon", "alpha", "beta"].includes(name)
        ? { name, type: T.INT, i: v }
        : { name, type: T.FLOAT, f: v },
  );
}

function tensorProto(name: string, data: TensorData | BigInt64Array, dims: number[]): import("onnx-proto").onnx.ITensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const dataType = data instanceof Float32Array ? FLOAT : data instanceof BigInt64Array ? INT64 : INT32;
  return { name, dataType, dims, rawData: bytes };
}

/** A model-local function's body: its inputs and outputs by their formal names, constants as Constant nodes. */
class FunctionBody extends NodeSink {
  tensor(name: string, data: TensorData | BigInt64Array, dims: number[]): string {
    this.nodes.push({
      name: `Constant_${this.nodes.length}`,
      opType: "Constant",
      input: [],
      output: [name],
      attribute: [{ name: "value", type: onnx.AttributeProto.AttributeType.TENSOR, t: tensorProto("", data, dims) }],
    });
    return name;
  }
}

/** A call of a model-local function: its name, formal inputs and outputs, and the attributes the call carries. */
interface FunctionCall {
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
  /** Writes the body, over the formal names; returns the outputs' names in it, in order. */
  body: (b: FunctionBody) => string[];
}

class OnnxWriter extends NodeSink {
  readonly initializers: import("onnx-proto").onnx.ITensorProto[] = [];
  readonly functions: import("onnx-proto").onnx.IFunctionProto[] = [];
  /** Each function written, by its body's key (calls whose bodies are alike share one). */
  private readonly bodies = new Map<string, string>();
  /** The ONNX tensor holding each IR tensor now (state moves to its updated value). */
  private readonly names = new Map<string, string>();
  private readonly constants = new Map<string, string>();
  private readonly folded = new Map<string, { shape: number[]; data: TensorData }>();
  constructor(
    readonly graph: Graph,
    state: readonly string[],
  ) {
    super();
    const dims = maxDims(graph);
    for (const v of graph.values.values()) {
      if (v.kind === "const") this.folded.set(v.name, { shape: bindShape(v.shape, {}), data: v.data! });
      // State nothing writes (scratch space) starts and stays zero.
      if (v.kind === "state" && !state.includes(v.name)) {
        const shape = bindShape(v.shape, dims);
        this.folded.set(v.name, {
          shape,
          data: allocate(
            v.dtype,
            shape.reduce((a, b) => a * b, 1),
          ),
        });
      }
    }
  }

  /** A graph input or output named `name`, typed as the IR tensor `ir`. */
  valueInfo(name: string, ir: string): import("onnx-proto").onnx.IValueInfoProto {
    const v = this.graph.values.get(ir)!;
    const dims = v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
    return { name, type: { tensorType: { elemType: v.dtype === "f32" ? FLOAT : INT32, shape: { dim: dims } } } };
  }

  /** An IR node: folded into an initializer when all it reads is known, else written out. */
  lower(node: Node): void {
    if (node.inputs.every((i) => this.folded.has(i))) {
      const [out] = opDef(node.op).run(
        node.inputs.map((i) => this.folded.get(i)!),
        node.attrs,
      );
      this.folded.set(node.outputs[0], out);
      return;
    }
    const writers: Partial<Record<OpName, Lower>> = WRITERS;
    const write = writers[node.op];
    if (!write) throw new SeecError("unsupported.export", `export-onnx cannot write the IR op ${node.op} yet`, { at: `node ${node.name}` });
    this.names.set(node.outputs[0], write(this, node));
  }

  /** The ONNX name of an IR tensor now, writing an initializer for a folded one the first time. */
  in(name: string): string {
    const f = this.folded.get(name);
    if (f && !this.names.has(name)) {
      let c = this.constants.get(name);
      if (!c) this.constants.set(name, (c = this.tensor(name, f.data, f.shape)));
      return c;
    }
    return this.names.get(name) ?? name;
  }

  /** State an op updated: later readers (and the <name>.next output) see `onnxName`. */
  moveState(ir: string, onnxName: string): void {
    this.names.set(ir, onnxName);
  }

  shapeOf(name: string): number[] {
    return bindShape(this.graph.values.get(name)!.shape, maxDims(this.graph));
  }

  /** A tensor's value when it is known at build time (weights, folded load-time results). */
  known(name: string): { shape: number[]; data: TensorData } | undefined {
    return this.folded.get(name);
  }

  tensor(name: string, data: TensorData | BigInt64Array, dims: number[]): string {
    this.initializers.push(tensorProto(name, data, dims));
    return name;
  }

  /**
   * A call of a function in seec's domain; the first call of each body writes the function
   * (named `name`, or `name_2`, … where calls need other bodies). Returns the call's outputs.
   */
  call(f: FunctionCall, args: string[]): string[] {
    const body = new FunctionBody();
    const results = f.body(body);
    // Alike bodies are one function: the key is the body's nodes with the results.
    const key = JSON.stringify([body.nodes, results]);
    let name = this.bodies.get(key);
    if (!name) {
      const same = [...this.bodies.values()].filter((n) => n === f.name || n.startsWith(`${f.name}_`)).length;
      name = same === 0 ? f.name : `${f.name}_${same + 1}`;
      this.bodies.set(key, name);
      // The formal outputs are Identity's of the results (a function's outputs are named by its nodes).
      for (let i = 0; i < f.outputs.length; i++) body.raw("Identity", [results[i]], [f.outputs[i]]);
      this.functions.push({
        name,
        domain: SEEC_DOMAIN,
        input: f.inputs,
        output: f.outputs,
        attribute: Object.keys(f.attrs),
        node: body.nodes,
        opsetImport: [{ domain: "", version: OPSET }],
      });
    }
    const outputs = f.outputs.map((o) => `${name}/${o}/${++this.count}`);
    this.raw(name, args, outputs, f.attrs, SEEC_DOMAIN);
    return outputs;
  }
}

const INT64_MAX = 2 ** 62;
/** A number attribute of the node (checked: internal.ir when absent). */
const attr = (n: Node, key: string) => num(n.attrs, key);

/** x [T, D] → [T, heads, D / heads] → [heads, T, D / heads]. */
function heads(w: NodeSink, x: string, count: number, headDim: number): string {
  return w.op("Transpose", [w.op("Reshape", [x, w.i64([0, count, headDim])])], { perm: [1, 0, 2] });
}

/** Grouped-query attention reads kv head h / group for query head h: repeat each kv head `group` times. */
function repeatHeads(w: NodeSink, x: string, kvHeads: number, group: number, rows: number, headDim: number): string {
  if (group === 1) return x;
  const expanded = w.op("Expand", [w.op("Unsqueeze", [x, w.i64([1])]), w.i64([kvHeads, group, rows, headDim])]);
  return w.op("Reshape", [expanded, w.i64([kvHeads * group, rows, headDim])]);
}

/** softmax(q·kᵀ · scale + mask)·v over heads; q [H, T, hd], k and v [H, rows, hd]; back to [T, H·hd]. */
function attend(w: NodeSink, q: string, k: string, v: string, scale: number, mask?: string): string {
  let scores = w.op("Mul", [w.op("MatMul", [q, w.op("Transpose", [k], { perm: [0, 2, 1] })]), w.f32([scale], [])]);
  if (mask) scores = w.op("Add", [scores, mask]);
  const y = w.op("MatMul", [w.op("Softmax", [scores], { axis: -1 }), v]);
  return w.op("Reshape", [w.op("Transpose", [y], { perm: [1, 0, 2] }), w.i64([0, -1])]);
}

/** A matmul's epilogue (bias, activation, residual) as the ONNX ops that follow it. */
function matmulEpilogue(w: OnnxWriter, { bias, activation, residual }: LinearOperands<string>, y: string): string {
  if (bias) y = w.op("Add", [y, w.in(bias)]);
  if (activation === "relu") y = w.op("Relu", [y]);
  return residual ? w.op("Add", [y, w.in(residual)]) : y;
}

/** A [V, D] table stored in `layout`, as rows (each row times its scale, where the table has them). */
function tableRows(data: TensorData, [V, D]: number[], layout: WeightLayout, scale?: TensorData): Float32Array {
  const at = weightIndex(layout, V, D),
    rows = new Float32Array(V * D);
  for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) rows[v * D + d] = Number(data[at(v, d)]) * (scale ? Number(scale[v]) : 1);
  return rows;
}

/** SEE's dense table, rebuilt from the factors with the reference op: [vocab, dim]. */
function seeTable(w: OnnxWriter, n: Node): { data: Float32Array; shape: number[] } {
  const operands = n.inputs.slice(1).map((i) => w.known(i)!);
  const [table] = opDef("EntangledTable").run(operands, n.attrs);
  return { data: table.data as Float32Array, shape: table.shape };
}

/** RoPE's body: x [T, D] rotated pairwise by the cos and sin rows at positions pos..pos+T-1. */
function rope(w: NodeSink, x: string, pos: string, cos: string, sin: string, half: number): string {
  const start = w.op("Cast", [pos], { to: INT64 });
  const end = w.op("Add", [start, w.rows(x)]);
  // cos and sin rows for positions pos..pos+T-1, as [T, 1, half, 1] against x as [T, heads, half, 2].
  const table = (t: string) => w.op("Unsqueeze", [w.op("Slice", [t, start, end, w.i64([0])]), w.i64([1, 3])]);
  const c = table(cos),
    s = table(sin);
  const [x0, x1] = w.ops("Split", [w.op("Reshape", [x, w.i64([0, -1, half, 2])]), w.i64([1, 1])], { axis: 3 }, 2);
  const y0 = w.op("Sub", [w.op("Mul", [x0, c]), w.op("Mul", [x1, s])]);
  const y1 = w.op("Add", [w.op("Mul", [x0, s]), w.op("Mul", [x1, c])]);
  return w.op("Reshape", [w.op("Concat", [y0, y1], { axis: 3 }), w.i64([0, -1])]);
}

/**
 * Attention's body over the function's formal inputs q, k, v, pos, k_cache, v_cache: the caches
 * with this call's rows written at pos..pos+T-1, then token t (at position pos + t) attending over
 * cache rows 0..pos+t. Returns y and the two caches.
 */
function cachedAttention(
  w: NodeSink,
  { heads: H, kvHeads: kvH, headDim: hd, context }: { heads: number; kvHeads: number; headDim: number; context: number },
): string[] {
  const start = w.op("Cast", ["pos"], { to: INT64 });
  const T = w.rows("q");
  const end = w.op("Add", [start, T]);
  const update = (cache: string, rows: string) =>
    w.op(
      "Concat",
      [w.op("Slice", [cache, w.i64([0]), start, w.i64([0])]), rows, w.op("Slice", [cache, end, w.i64([INT64_MAX]), w.i64([0])])],
      { axis: 0 },
    );
  const kNext = update("k_cache", "k"),
    vNext = update("v_cache", "v");
  const key = w.op("Range", [w.i64scalar(0), w.i64scalar(context), w.i64scalar(1)]);
  const query = w.op("Unsqueeze", [
    w.op("Add", [w.op("Range", [w.i64scalar(0), w.op("Squeeze", [T, w.i64([0])]), w.i64scalar(1)]), start]),
    w.i64([1]),
  ]);
  const mask = w.op("Where", [w.op("Greater", [key, query]), w.f32([-Infinity], []), w.f32([0], [])]);
  const keys = repeatHeads(w, heads(w, kNext, kvH, hd), kvH, H / kvH, context, hd);
  const values = repeatHeads(w, heads(w, vNext, kvH, hd), kvH, H / kvH, context, hd);
  return [attend(w, heads(w, "q", H, hd), keys, values, 1 / Math.sqrt(hd), mask), kNext, vNext];
}

/**
 * The IR ops export-onnx writes out in standard ops (a misspelled or removed key is a type error).
 * Others are refused by name before any work, unless they fold away at build time (refuseUnwritable).
 */
export const WRITERS = {
  EntangledEmbedding: (w, n) => {
    const t = seeTable(w, n);
    return w.op("Gather", [w.tensor(`${n.name}.table`, t.data, t.shape), w.in(n.inputs[0])], { axis: 0 });
  },
  EntangledLogits: (w, n) => {
    const {
      data,
      shape: [V, D],
    } = seeTable(w, n);
    const wt = new Float32Array(D * V);
    for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) wt[d * V + v] = data[v * D + d];
    return w.op("MatMul", [w.in(n.inputs[0]), w.tensor(`${n.name}.table`, wt, [D, V])]);
  },
  Gather: (w, n) => {
    if (n.attrs.layout === undefined) return w.op("Gather", [w.in(n.inputs[0]), w.in(n.inputs[1])], { axis: 0 });
    // A table stored "n4" (as its tied classifier reads it), written as rows.
    const t = w.known(n.inputs[0])!;
    return w.op("Gather", [w.tensor(`${n.name}.table`, tableRows(t.data, t.shape, "n4"), t.shape), w.in(n.inputs[1])], { axis: 0 });
  },
  // An int8 table with a scale per row (as written or "n4k16"), written dequantized (as QLinear's weights are).
  QGather: (w, n) => {
    const q = w.known(n.inputs[0])!,
      scale = w.known(n.inputs[1])!;
    const table = tableRows(q.data, q.shape, n.attrs.layout === "n4k16" ? "n4k16" : "nk", scale.data);
    return w.op("Gather", [w.tensor(`${n.name}.table`, table, q.shape), w.in(n.inputs[2])], { axis: 0 });
  },
  Add: (w, n) => w.op("Add", [w.in(n.inputs[0]), w.in(n.inputs[1])]),
  Relu: (w, n) => w.op("Relu", [w.in(n.inputs[0])]),
  Tanh: (w, n) => w.op("Tanh", [w.in(n.inputs[0])]),
  SwiGLU: (w, n) => {
    const g = w.in(n.inputs[0]);
    return w.op("Mul", [w.op("Mul", [g, w.op("Sigmoid", [g])]), w.in(n.inputs[1])]);
  },
  Linear: (w, n) => {
    const ops = linearOperands(n.op, n.inputs, n.attrs);
    const f = w.known(ops.w);
    if (!f) throw new SeecError("unsupported.export", "export-onnx needs Linear weights known at build time", { at: `node ${n.name}` });
    // A weight another node reads too (a head tied to the embedding): the one initializer, transposed where it is multiplied.
    if (ops.layout === "nk" && w.graph.nodes.some((m) => m !== n && m.inputs.includes(ops.w)))
      return matmulEpilogue(w, ops, w.op("MatMul", [w.in(ops.x), w.op("Transpose", [w.in(ops.w)], { perm: [1, 0] })]));
    // ONNX's MatMul takes [K, N].
    const [N, K] = ops.layout === "kn" ? [f.shape[1], f.shape[0]] : f.shape;
    const stored = f.data as Float32Array,
      at = weightIndex(ops.layout, N, K),
      wt = new Float32Array(K * N);
    for (let i = 0; i < N; i++) for (let k = 0; k < K; k++) wt[k * N + i] = stored[at(i, k)];
    return matmulEpilogue(w, ops, w.op("MatMul", [w.in(ops.x), w.tensor(`${n.name}.weight`, wt, [K, N])]));
  },
  QLinear: (w, n) => {
    const ops = linearOperands(n.op, n.inputs, n.attrs);
    const q = w.known(ops.w)!,
      scale = w.known(ops.scale!)!;
    const [N, K] = q.shape;
    const at = weightIndex(ops.layout, N, K),
      wt = new Float32Array(K * N);
    for (let i = 0; i < N; i++) for (let k = 0; k < K; k++) wt[k * N + i] = q.data[at(i, k)] * scale.data[i];
    return matmulEpilogue(w, ops, w.op("MatMul", [w.in(ops.x), w.tensor(`${n.name}.weight`, wt, [K, N])]));
  },
  RMSNorm: (w, n) => {
    const x = w.in(n.inputs[0]);
    const meanSquare = w.op("ReduceMean", [w.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const inv = w.op("Reciprocal", [w.op("Sqrt", [w.op("Add", [meanSquare, w.f32([attr(n, "epsilon")], [])])])]);
    return w.op("Mul", [w.op("Mul", [x, inv]), w.in(n.inputs[1])]);
  },
  LayerNorm: (w, n) =>
    w.op("LayerNormalization", [w.in(n.inputs[0]), w.in(n.inputs[1]), w.in(n.inputs[2])], { axis: -1, epsilon: attr(n, "epsilon") }),
  L2Normalize: (w, n) => {
    const x = w.in(n.inputs[0]);
    const sum = w.op("ReduceSum", [w.op("Mul", [x, x]), w.i64([-1])], { keepdims: 1 });
    return w.op("Div", [x, w.op("Sqrt", [w.op("Max", [sum, w.f32([attr(n, "epsilon")], [])])])]);
  },
  LastRow: (w, n) => w.op("Slice", [w.in(n.inputs[0]), w.i64([-1]), w.i64([INT64_MAX]), w.i64([0])]),
  AddRows: (w, n) => {
    const x = w.in(n.inputs[0]);
    return w.op("Add", [x, w.op("Slice", [w.in(n.inputs[1]), w.i64([0]), w.rows(x), w.i64([0])])]);
  },
  MeanRows: (w, n) => {
    // sum / max(T, 1): zeros for no rows, as seec defines it (and ReduceMean over none is not safe in every runtime).
    const x = w.in(n.inputs[0]);
    const rows = w.op("Max", [w.op("Cast", [w.rows(x)], { to: FLOAT }), w.f32([1])]);
    return w.op("Div", [w.op("ReduceSum", [x, w.i64([0])], { keepdims: 1 }), rows]);
  },
  RoPE: (w, n) => {
    const [x, pos, cos, sin] = n.inputs;
    const headDim = attr(n, "headDim");
    const call: FunctionCall = {
      name: "RoPE",
      inputs: ["x", "pos", "cos", "sin"],
      outputs: ["y"],
      attrs: { headDim },
      body: (b) => [rope(b, "x", "pos", "cos", "sin", headDim / 2)],
    };
    return w.call(call, [w.in(x), w.in(pos), w.in(cos), w.in(sin)])[0];
  },
  Attention: (w, n) => {
    const [q, k, v, pos, kCache, vCache] = n.inputs;
    const [heads, kvHeads, headDim] = [attr(n, "heads"), attr(n, "kvHeads"), attr(n, "headDim")];
    const context = w.shapeOf(kCache)[0];
    const call: FunctionCall = {
      name: "Attention",
      inputs: ["q", "k", "v", "pos", "k_cache", "v_cache"],
      outputs: ["y", "k_cache_next", "v_cache_next"],
      attrs: { heads, kvHeads, headDim },
      body: (b) => cachedAttention(b, { heads, kvHeads, headDim, context }),
    };
    const [y, kNext, vNext] = w.call(
      call,
      [q, k, v, pos, kCache, vCache].map((i) => w.in(i)),
    );
    w.moveState(kCache, kNext);
    w.moveState(vCache, vNext);
    return y;
  },
  SelfAttention: (w, n) => {
    const [q, k, v] = n.inputs;
    const H = attr(n, "heads"),
      hd = attr(n, "headDim");
    const split = (x: string) => heads(w, w.in(x), H, hd);
    const keys = split(k),
      values = split(v);
    return attend(w, split(q), keys, values, attr(n, "scale"));
  },
} satisfies Partial<Record<OpName, Lower>>;

/** The ops export-onnx claims: those WRITERS has a writer for. */
export const ONNX_OPS: readonly OpName[] = OP_NAMES.filter((op) => op in WRITERS);

export function supports(op: string): boolean {
  return isOpName(op) && op in WRITERS;
}
