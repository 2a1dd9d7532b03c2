/**
 * TF.js graph model -> IR, for the Kona transformer encoder that TF Hub's Universal Sentence
 * Encoder Lite is: token embedding + timing signal, pre-norm transformer layers (the first
 * projects its residual to the model width), mean pooling, a tanh layer, L2 normalization.
 *
 * The graph takes a batch as a sparse tensor and spends most of its nodes on plumbing: clipping
 * to the maximum length, SparseToDense, gathering the valid positions (Where/GatherNd) and
 * scattering them back (ScatterNd). seec compiles one text per call, T tokens with T up to that
 * maximum, so every position is valid and the plumbing folds away: what is left are dense
 * kernels with static widths. Weights and hyper-parameters are read from the nodes that use them.
 */
import { SeecError } from "../../runtime/errors.js";
import { GraphBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import type { TfGraph, TfNode, TfTensor } from "./tfjs.js";

/** The TF ops of such graphs; anything else is refused up front, with every offending node named. */
export const TFJS_OPS = new Set(
  ("Const Placeholder StridedSlice Reshape Shape Add AddV2 Mul ConcatV2 ExpandDims Pack GatherV2 GatherNd BiasAdd Mean Transpose " +
    "Prod Cast MatMul BatchMatMul BatchMatMulV2 Squeeze ScatterNd SparseToDense Square Rsqrt Sub Conv2D Maximum Sum Less Greater " +
    "Where SplitV Slice Softmax Relu Max LogicalNot Sin Cos Range RealDiv Tanh Identity").split(" "),
);

export function checkTfjsOps(g: TfGraph): void {
  const bad = g.nodes.filter((n) => !TFJS_OPS.has(n.op));
  if (bad.length)
    throw new SeecError("unsupported.op", `unsupported TF ops: ${bad.map((n) => `${n.op} (node ${n.name})`).join(", ")}`, { file: g.file });
}

class TfView {
  private readonly byName = new Map<string, TfNode>();
  private readonly consumers = new Map<string, TfNode[]>();

  constructor(readonly g: TfGraph) {
    for (const n of g.nodes) {
      this.byName.set(n.name, n);
      for (const i of n.inputs) {
        const src = i.replace(/:\d+$/, "").replace(/^\^/, "");
        if (!this.consumers.has(src)) this.consumers.set(src, []);
        this.consumers.get(src)!.push(n);
      }
    }
  }

  fail(message: string, at?: string): never {
    throw new SeecError("unsupported.tfjs_graph", message, { file: this.g.file, at, hint: "seec's TF.js frontend compiles Kona transformer encoders such as the Universal Sentence Encoder Lite" });
  }

  /** The single node whose name ends with `suffix` under `scope`. */
  node(scope: string, suffix: string): TfNode {
    const found = this.g.nodes.filter((n) => n.name.startsWith(scope) && n.name.endsWith(suffix));
    if (found.length !== 1) this.fail(`expected one node ${scope}…${suffix}, found ${found.length}`);
    return found[0];
  }

  has(scope: string, suffix: string): boolean {
    return this.g.nodes.some((n) => n.name.startsWith(scope) && n.name.endsWith(suffix));
  }

  /** The node's value if it is a constant, else the constant that feeds it (its first constant input). */
  constant(node: TfNode): TfTensor {
    const own = this.g.weights.get(node.name);
    if (own) return own;
    for (const i of node.inputs) {
      const w = this.g.weights.get(i.replace(/:\d+$/, ""));
      if (w) return w;
    }
    return this.fail(`node ${node.name} has no constant input`, `node ${node.name}`);
  }

  scalar(node: TfNode): number {
    const t = this.constant(node);
    if (t.data.length !== 1) this.fail(`node ${node.name}: expected a scalar constant`, `node ${node.name}`);
    return t.data[0];
  }

  /** The bias of the BiasAdd that consumes `node`. */
  bias(node: TfNode): Float32Array {
    const add = this.consumers.get(node.name)?.find((c) => c.op === "BiasAdd") ?? this.consumers.get(node.name)?.flatMap((c) => this.consumers.get(c.name) ?? []).find((c) => c.op === "BiasAdd");
    if (!add) this.fail(`no BiasAdd follows ${node.name}`, `node ${node.name}`);
    return this.constant(add).data as Float32Array;
  }
}

/** A TF [in, out] matrix (MatMul weight, or a 1×1 Conv2D kernel) as seec's [out, in], optionally columns from..to. */
function outIn(t: TfTensor, from = 0, to?: number): { data: Float32Array; shape: [number, number] } {
  const rows = t.shape[t.shape.length - 2], cols = t.shape[t.shape.length - 1];
  const end = to ?? cols, n = end - from;
  const data = new Float32Array(n * rows);
  for (let o = 0; o < n; o++) for (let i = 0; i < rows; i++) data[o * rows + i] = t.data[i * cols + from + o];
  return { data, shape: [n, rows] };
}

export function tfjsEncoderGraph(name: string, g: TfGraph): Graph {
  checkTfjsOps(g);
  try {
    return buildEncoder(name, g);
  } catch (e) {
    // Shapes come from the file: a graph whose weights do not fit together is bad input, not a seec bug.
    if (e instanceof SeecError && e.code === "internal.ir")
      throw new SeecError("input.tfjs_graph", `the model's weights do not fit together: ${e.message}`, { file: g.file, at: e.at });
    throw e;
  }
}

function buildEncoder(name: string, g: TfGraph): Graph {
  const v = new TfView(g);
  const lookup = g.nodes.find((n) => n.op === "GatherV2" && g.weights.get(n.inputs[0])?.shape.length === 2 && g.weights.get(n.inputs[0])?.dtype === "float32");
  if (!lookup) return v.fail("no token embedding (a GatherV2 from a 2-D float constant)");
  const table = g.weights.get(lookup.inputs[0])!;
  const [vocab, width] = table.shape;
  const maxLength = v.scalar(v.node("", "ClipToMaxLength/Less"));
  const layers = [...new Set(g.nodes.map((n) => /TransformerStack\/Layer_(\d+)\/TransformerLayer\//.exec(n.name)?.[1]).filter(Boolean))].map(Number).sort((a, b) => a - b);
  if (layers.length === 0) v.fail("no TransformerStack/Layer_N/TransformerLayer nodes");

  const b = new GraphBuilder(name, { family: "encoder", config: { vocabSize: vocab, embeddingDim: width, layers: layers.length, maxLength } });
  const T = b.dim("T", maxLength);
  const emb = b.constant(lookup.inputs[0], table.data as Float32Array, [vocab, width]);
  let x = b.node("Gather", "embedding_lookup", [emb, b.input("tokens", "i32", [T])]);

  // The timing signal: [sin(p · inv), cos(p · inv)] for positions p, as a table the first T rows of which are added.
  const inv = v.constant(v.node("", "AddTimingSignal/TimingSignal/mul_2")).data;
  const timing = new Float32Array(maxLength * 2 * inv.length);
  for (let p = 0; p < maxLength; p++)
    for (let i = 0; i < inv.length; i++) {
      const angle = Math.fround(p * inv[i]);
      timing[p * 2 * inv.length + i] = Math.sin(angle);
      timing[p * 2 * inv.length + inv.length + i] = Math.cos(angle);
    }
  if (2 * inv.length !== width) v.fail(`the timing signal has ${2 * inv.length} features, the embedding ${width}`);
  const signal = b.node("AddRows", "timing_signal", [x, b.constant("timing_signal.table", timing, [maxLength, width])]);
  // AddTimingSignal returns x + signal, and the stack's first Add adds x to that again: 2x + signal.
  const first = v.node("", "TransformerStack/Layer_0/add");
  if (!first.inputs.some((i) => i.includes("AddTimingSignal")) || !first.inputs.some((i) => /Encode\/Scatter\/ScatterNd$/.test(i)))
    v.fail("the first layer's input is not embedding + (embedding + timing signal)", `node ${first.name}`);
  x = b.node("Add", "layer_0_input", [x, signal]);

  const linear = (label: string, input: string, w: { data: Float32Array; shape: [number, number] }, bias: Float32Array) =>
    b.node("Linear", label, [input, b.constant(`${label}.weight`, w.data, w.shape), b.constant(`${label}.bias`, bias, [bias.length])]);
  const layerNorm = (label: string, scope: string, input: string) => {
    const scale = v.constant(v.node(scope, "layer_norm/mul")).data as Float32Array;
    const shift = v.constant(v.node(scope, "layer_norm/add_1")).data as Float32Array;
    const eps = v.scalar(v.node(scope, "layer_norm/add"));
    return b.node("LayerNorm", label, [input, b.constant(`${label}.weight`, scale, [scale.length]), b.constant(`${label}.bias`, shift, [shift.length])], { epsilon: eps });
  };

  for (const l of layers) {
    const marker = `TransformerStack/Layer_${l}/TransformerLayer/`;
    const any = g.nodes.find((n) => n.name.includes(marker))!.name;
    const s = any.slice(0, any.indexOf(marker) + marker.length);
    const p = `layers.${l}`;
    const attn = `${s}MultiheadAttention/`;
    const h = layerNorm(`${p}.attention_norm`, `${s}layer_prepostprocess/`, x);
    const qkvConv = v.node(attn, "qkv_transform_single/Conv2D");
    const qkv = v.constant(qkvConv), qkvBias = v.bias(qkvConv);
    const [dq, dk, dv] = Array.from(v.constant(v.node(attn, "MultiheadAttention/split")).data);
    const headDim = v.scalar(v.node(attn, "split_heads/split_last_dimension/Reshape/shape/3"));
    const q = linear(`${p}.attention.q`, h, outIn(qkv, 0, dq), qkvBias.slice(0, dq));
    const k = linear(`${p}.attention.k`, h, outIn(qkv, dq, dq + dk), qkvBias.slice(dq, dq + dk));
    const val = linear(`${p}.attention.v`, h, outIn(qkv, dq + dk, dq + dk + dv), qkvBias.slice(dq + dk));
    const att = b.node("SelfAttention", `${p}.attention`, [q, k, val], { heads: dq / headDim, headDim, scale: v.scalar(v.node(attn, "MultiheadAttention/mul")) });
    const outConv = v.node(attn, "output_transform_single/Conv2D");
    const o = linear(`${p}.attention.output`, att, outIn(v.constant(outConv)), v.bias(outConv));
    let residual = x;
    if (v.has(s, "AdjustResidualInput/dense/MatMul")) {
      const dense = v.node(s, "AdjustResidualInput/dense/MatMul");
      residual = linear(`${p}.residual_projection`, x, outIn(v.constant(dense)), v.bias(dense));
    }
    x = b.node("Add", `${p}.attention.residual`, [o, residual]);

    const f = layerNorm(`${p}.ffn_norm`, `${s}FFN/layer_prepostprocess/`, x);
    const conv1 = v.node(s, "FFN/conv1/Tensordot/MatMul"), conv2 = v.node(s, "FFN/conv2/Tensordot/MatMul");
    const hidden = b.node("Relu", `${p}.ffn.relu`, [linear(`${p}.ffn.conv1`, f, outIn(v.constant(conv1)), v.bias(conv1))]);
    x = b.node("Add", `${p}.ffn.residual`, [linear(`${p}.ffn.conv2`, hidden, outIn(v.constant(conv2)), v.bias(conv2)), x]);
  }
  const pooled = b.node("MeanRows", "mean_pool", [x]);
  const tanhLayer = v.node("", "tanh_layer_0/MatMul");
  const t = b.node("Tanh", "tanh_layer", [linear("tanh_layer.dense", pooled, outIn(v.constant(tanhLayer)), v.bias(tanhLayer))]);
  b.output(b.node("L2Normalize", "embedding", [t], { epsilon: v.scalar(v.node("", "l2_normalize/Maximum")) }));
  return b.finish();
}
