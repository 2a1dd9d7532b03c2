/**
 * TF.js graph model -> IR, for the Kona transformer encoder that TF Hub's Universal Sentence
 * Encoder Lite is: token embedding + timing signal, pre-norm transformer layers (the first
 * projects its residual to the model width), mean pooling, a tanh layer, L2 normalization.
 *
 * The graph takes a batch as a sparse tensor and spends most of its nodes on plumbing: clipping
 * to the maximum length, SparseToDense, gathering the valid positions (Where/GatherNd) and
 * scattering them back (ScatterNd). seec compiles one text per call, T tokens with T up to that
 * maximum, so every position is valid and the plumbing folds away: what is left are dense
 * kernels with static widths. That holds only for the graph the lowering assumes, so the whole graph
 * is first matched against it, edge by edge (see the pattern below); weights and hyper-parameters are
 * then read from the constants the match found.
 */
import { SeecError } from "../../runtime/errors.js";
import { GraphBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import { checkTfjsGraph, parseInput, type TfGraph, type TfNode, type TfTensor } from "./tfjs.js";

/** The TF ops of such graphs; anything else is refused up front, with every offending node named. */
export const TFJS_OPS = new Set(
  (
    "Const Placeholder StridedSlice Reshape Shape Add AddV2 Mul ConcatV2 ExpandDims Pack GatherV2 GatherNd BiasAdd Mean Transpose " +
    "Prod Cast MatMul BatchMatMul BatchMatMulV2 Squeeze ScatterNd SparseToDense Square Rsqrt Sub Conv2D Maximum Sum Less Greater " +
    "Where SplitV Slice Softmax Relu Max LogicalNot Sin Cos Range RealDiv Tanh Identity"
  ).split(" "),
);

export function checkTfjsOps(g: TfGraph): void {
  const bad = g.nodes.filter((n) => !TFJS_OPS.has(n.op));
  if (bad.length)
    throw new SeecError("unsupported.op", `unsupported TF ops: ${bad.map((n) => `${n.op} (node ${n.name})`).join(", ")}`, { file: g.file });
}

/*
 * The encoder as a pattern: every node of the graph, plumbing included, each with its op and the
 * nodes it reads, from the one output back to the two placeholders. The graph is matched against
 * it along the edges it actually has (names mean nothing), so a node removed, rewired or left over
 * is found, and named, rather than compiled as if the graph were the stock one. Weights and
 * hyper-parameters are the constants the pattern marks as parameters; every other constant must
 * hold the value the encoder's plumbing has.
 */
type Pattern = OpPattern | ConstPattern | AltPattern;
interface Edge {
  pattern: Pattern;
  index: number;
}
interface OpPattern {
  kind: "op";
  ops: readonly string[];
  inputs: readonly Edge[];
  /** Boolean or integer attributes the op must have (a boolean absent reads as false). */
  attrs?: Readonly<Record<string, boolean | number>>;
  /** A placeholder: one node, and no other placeholder pattern may take it. */
  unique?: boolean;
}
interface ConstPattern {
  kind: "const";
  what: string;
  dtype: TfTensor["dtype"];
  rank?: number;
  /** Plumbing: the value it must hold (its shape [] for one value given as a number). */
  value?: { shape: number[]; data: readonly number[] };
}
/** One of several forms, told apart by the op of the node where it starts. */
interface AltPattern {
  kind: "alt";
  options: readonly OpPattern[];
}

const ADD = ["Add", "AddV2"],
  BATCH_MATMUL = ["BatchMatMul", "BatchMatMulV2"];

const out = (pattern: Pattern, index: number): Edge => ({ pattern, index });
function op(ops: string | readonly string[], inputs: readonly (Pattern | Edge)[], attrs?: OpPattern["attrs"]): OpPattern {
  return { kind: "op", ops: typeof ops === "string" ? [ops] : ops, inputs: inputs.map((i) => ("pattern" in i ? i : out(i, 0))), attrs };
}
const placeholder = (): OpPattern => ({ kind: "op", ops: ["Placeholder"], inputs: [], unique: true });
const param = (what: string, dtype: TfTensor["dtype"], rank?: number): ConstPattern => ({ kind: "const", what, dtype, rank });
/** An int32 plumbing constant: a number is a scalar, an array a vector. */
const int = (value: number | number[]): ConstPattern => ({
  kind: "const",
  what: "a constant of the plumbing",
  dtype: "int32",
  value: typeof value === "number" ? { shape: [], data: [value] } : { shape: [value.length], data: value },
});
const NO_TRANSPOSE = { transpose_a: false, transpose_b: false };

interface LayerNormPattern {
  out: Pattern;
  scale: ConstPattern;
  shift: ConstPattern;
  epsilon: ConstPattern;
}

interface LayerPattern {
  out: Pattern;
  attentionNorm: LayerNormPattern;
  qkv: { kernel: ConstPattern; bias: ConstPattern; sizes: ConstPattern };
  heads: ConstPattern;
  headDim: ConstPattern;
  scale: ConstPattern;
  width: ConstPattern;
  output: { kernel: ConstPattern; bias: ConstPattern };
  projection: { kernel: ConstPattern; bias: ConstPattern };
  ffnNorm: LayerNormPattern;
  conv1: { kernel: ConstPattern; bias: ConstPattern };
  conv2: { kernel: ConstPattern; bias: ConstPattern };
}

/** The Kona encoder of `layers` layers, as USE-Lite's graph spells it. */
function encoderPattern(layers: number) {
  const indices = placeholder(),
    values = placeholder();
  // ClipToMaxLength: the ids whose position is below the maximum length.
  const maxLength = param("maximum length", "int32", 0);
  const kept = op("Reshape", [
    op("Where", [op("Less", [op("StridedSlice", [indices, int([0, 1]), int([0, 2]), int([1, 1])]), maxLength])]),
    int([-1]),
  ]);
  const keptIndices = op("GatherV2", [indices, kept, int(0)]);
  const ids = op("GatherV2", [values, kept, int(0)]);
  const sparse = op("SparseToDense", [
    keptIndices,
    op("Maximum", [int(0), op(ADD, [op("Max", [keptIndices, int(0)]), int([1, 1])])]),
    ids,
    int(-1),
  ]);
  // The valid positions, their count, where they are, and the attention bias that hides the others.
  const valid = op("Greater", [sparse, int(-1)]);
  const validShape = op("Shape", [valid]);
  const validWhere = op("Where", [valid]);
  const validIndices = op("Cast", [validWhere]);
  const validCount = op("Sum", [op("Cast", [valid]), int(1)]);
  const paddingBias = op("ExpandDims", [
    op("ExpandDims", [op("Mul", [op("Cast", [op("LogicalNot", [valid])]), param("padding bias", "float32", 0)]), int(1)]),
    int(1),
  ]);
  /** Rows back into the padded batch: ScatterNd at the valid positions. */
  const scatter = (rows: Pattern) =>
    op("ScatterNd", [
      validIndices,
      rows,
      op("ConcatV2", [validShape, op("StridedSlice", [op("Shape", [rows]), int([1]), int([0]), int([1])]), int(0)]),
    ]);

  const table = param("token embedding", "float32", 2);
  const embedded = scatter(op("GatherV2", [table, ids, int(0)]));
  const inverse = param("timing signal frequencies", "float32");
  const angles = op("Mul", [
    op("ExpandDims", [op("Cast", [op("StridedSlice", [validWhere, int([0, 1]), int([0, 2]), int([1, 1])])]), int(1)]),
    inverse,
  ]);
  const signal = op("ConcatV2", [op("Sin", [angles]), op("Cos", [angles]), int(1)]);
  let x: OpPattern = op(ADD, [embedded, scatter(op(ADD, [op("GatherNd", [embedded, validIndices]), signal]))]);

  const layerNorm = (input: Pattern): LayerNormPattern => {
    const mean = op("Mean", [input, int([-1])], { keep_dims: true });
    const centered = op("Sub", [input, mean]);
    const variance = op("Mean", [op("Square", [centered]), int([-1])], { keep_dims: true });
    const scale = param("layer norm scale", "float32", 1),
      shift = param("layer norm shift", "float32", 1),
      epsilon = param("layer norm epsilon", "float32", 0);
    const normalized = op("Mul", [op("Mul", [scale, op("Rsqrt", [op(ADD, [variance, epsilon])])]), centered]);
    return { out: op(ADD, [normalized, shift]), scale, shift, epsilon };
  };
  const weights = (what: string, rank: number) => ({
    kernel: param(`${what} kernel`, "float32", rank),
    bias: param(`${what} bias`, "float32", 1),
  });
  /** TF's tensordot of a [B, T, D] tensor and a [D, N] weight: reshape, MatMul, reshape back. */
  const tensordot = (input: Pattern, kernel: ConstPattern) => {
    const shape = op("Shape", [input]);
    const free = op("GatherV2", [shape, int([0, 1]), int(0)]);
    const flat = op("Reshape", [
      input,
      op("Pack", [op("Prod", [free, int([0])]), op("Prod", [op("GatherV2", [shape, int([2]), int(0)]), int([0])])]),
    ]);
    return op("Reshape", [
      op("MatMul", [flat, kernel], NO_TRANSPOSE),
      op("ConcatV2", [free, param("tensordot output width", "int32", 1), int(0)]),
    ]);
  };
  /** [B, T, D] -> [B, T, heads, headDim] -> [B, heads, T, headDim], and back. */
  const splitHeads = (part: Edge, heads: ConstPattern, headDim: ConstPattern) => {
    const shape = op("Shape", [part]);
    const dims = op("Pack", [
      op("StridedSlice", [shape, int([0]), int([1]), int([1])]),
      op("StridedSlice", [shape, int([1]), int([2]), int([1])]),
      heads,
      headDim,
    ]);
    return op("Transpose", [op("Reshape", [part, dims]), int([0, 2, 1, 3])]);
  };
  const combineHeads = (input: Pattern, width: ConstPattern) => {
    const t = op("Transpose", [input, int([0, 2, 1, 3])]);
    const shape = op("Shape", [t]);
    return op("Reshape", [
      t,
      op("Pack", [
        op("StridedSlice", [shape, int([0]), int([1]), int([1])]),
        op("StridedSlice", [shape, int([1]), int([2]), int([1])]),
        width,
      ]),
    ]);
  };

  const stack: LayerPattern[] = [];
  for (let l = 0; l < layers; l++) {
    const attentionNorm = layerNorm(x);
    const qkv = { ...weights("qkv", 4), sizes: param("q, k, v widths", "int32", 1) };
    const split = op(
      "SplitV",
      [
        op("Squeeze", [op("BiasAdd", [op("Conv2D", [op("ExpandDims", [attentionNorm.out, int(2)]), qkv.kernel]), qkv.bias])]),
        qkv.sizes,
        int(2),
      ],
      { num_split: 3 },
    );
    const heads = param("attention heads", "int32", 0),
      headDim = param("attention head width", "int32", 0),
      scale = param("attention scale", "float32", 0);
    const [q, k, v] = [0, 1, 2].map((i) => splitHeads(out(split, i), heads, headDim));
    const logits = op(ADD, [op(BATCH_MATMUL, [op("Mul", [q, scale]), k], { adj_x: false, adj_y: true }), paddingBias]);
    const logitsShape = op("Shape", [logits]);
    const flat = op("Reshape", [logits, op("ConcatV2", [int([-1]), op("Slice", [logitsShape, int([3]), int([1])]), int(0)])]);
    const probabilities = op("Reshape", [op("Softmax", [flat]), logitsShape]);
    const width = param("attention output width", "int32", 0);
    const context = combineHeads(op(BATCH_MATMUL, [probabilities, v], { adj_x: false, adj_y: false }), width);
    const output = weights("attention output", 4);
    const attention = op("Squeeze", [op("BiasAdd", [op("Conv2D", [op("ExpandDims", [context, int(2)]), output.kernel]), output.bias])]);
    // The residual is the layer's input, or (AdjustResidualInput) that input projected to the new width.
    const projection = weights("residual projection", 2);
    const projected = scatter(
      op("BiasAdd", [op("MatMul", [op("GatherNd", [x, validIndices]), projection.kernel], NO_TRANSPOSE), projection.bias]),
    );
    const mid = op(ADD, [attention, { kind: "alt", options: [x, projected] }]);

    const ffnNorm = layerNorm(mid);
    const conv1 = weights("FFN conv1", 2),
      conv2 = weights("FFN conv2", 2);
    const rows = op("ExpandDims", [op("GatherNd", [ffnNorm.out, validIndices]), int(0)]);
    const hidden = op("Relu", [op("BiasAdd", [tensordot(rows, conv1.kernel), conv1.bias])]);
    const ffn = op("Squeeze", [op("BiasAdd", [tensordot(hidden, conv2.kernel), conv2.bias])]);
    x = op(ADD, [scatter(ffn), mid]);
    stack.push({ out: x, attentionNorm, qkv, heads, headDim, scale, width, output, projection, ffnNorm, conv1, conv2 });
  }

  // Mean pooling over the valid positions, a tanh layer, L2 normalization.
  const positions = op("Range", [int(0), op("StridedSlice", [op("Shape", [x]), int([1]), int([2]), int([1])]), int(1)]);
  const mask = op("ExpandDims", [op("Cast", [op("Less", [positions, op("ExpandDims", [validCount, int(-1)])])]), int(2)]);
  const count = op("ExpandDims", [op("Cast", [op("Maximum", [validCount, int(1)])]), int(1)]);
  const pooled = op("RealDiv", [op("Sum", [op("Mul", [x, mask]), int(1)]), count]);
  const dense = weights("tanh layer", 2);
  const tanh = op("Tanh", [op("BiasAdd", [op("MatMul", [pooled, dense.kernel], NO_TRANSPOSE), dense.bias])]);
  const epsilon = param("L2 normalization epsilon", "float32", 0);
  const root = op("Mul", [tanh, op("Rsqrt", [op("Maximum", [op("Sum", [op("Square", [tanh]), int(1)]), epsilon])])]);
  return { root, maxLength, table, inverse, stack, dense, epsilon };
}

class Matcher {
  private readonly byName: Map<string, TfNode>;
  /** The nodes each pattern has matched (a pattern may match equal copies of one computation). */
  private readonly matched = new Map<Pattern, Set<TfNode>>();
  /** The node each constant pattern first matched, and the placeholder pattern each placeholder did. */
  private readonly constants = new Map<ConstPattern, TfNode>();
  private readonly placeholders = new Map<TfNode, Pattern>();
  private readonly choices = new Map<AltPattern, OpPattern>();
  private readonly undo: (() => void)[] = [];
  /** Nodes visited so far, matched or not: how far an attempt got before it failed. */
  private visits = 0;

  constructor(private readonly g: TfGraph) {
    this.byName = new Map(g.nodes.map((n) => [n.name, n]));
  }

  /** Matches the graph's output against `root`; then every node must have been matched. */
  matchGraph(root: Pattern): void {
    const read = new Set(this.g.nodes.flatMap((n) => n.inputs.map((i) => parseInput(i).node)));
    // Never empty: the graph has nodes (a Softmax at least) and no cycles (checkTfjsGraph).
    const sinks = this.g.nodes.filter((n) => !read.has(n.name));
    // With several outputs, the one that is the encoder's (the others are reported as left over);
    // if none is, the error of the attempt that matched the most.
    let best: { error: SeecError; progress: number } | undefined;
    const output = sinks.find((s) => {
      const mark = this.undo.length,
        start = this.visits;
      try {
        this.match(root, s, "the graph's output");
        return true;
      } catch (e) {
        if (!(e instanceof SeecError)) throw e;
        const progress = this.visits - start;
        if (!best || progress > best.progress) best = { error: e, progress };
        this.rollback(mark);
        return false;
      }
    });
    if (!output) throw best!.error;
    // A node left over is read only by nodes left over (a matched node's inputs are matched), so one is a sink.
    const covered = new Set([...this.matched.values()].flatMap((s) => [...s]));
    const extra = sinks.find((s) => !covered.has(s));
    if (extra)
      this.fail(`${extra.op} node ${extra.name} is not part of the encoder seec compiles (a second output: nothing reads it)`, extra);
  }

  /** The node a parameter matched, and its value. */
  param(p: ConstPattern): { node: TfNode; t: TfTensor } | undefined {
    const node = this.constants.get(p);
    return node && { node, t: this.g.weights.get(node.name)! };
  }

  fail(message: string, node?: TfNode): never {
    throw new SeecError("unsupported.tfjs_graph", message, {
      file: this.g.file,
      at: node && `node ${node.name}`,
      hint: "seec's TF.js frontend compiles Kona transformer encoders such as the Universal Sentence Encoder Lite",
    });
  }

  /**
   * Matches `pattern` against node `n` and, depth first, their inputs against each other: with a
   * stack of its own rather than recursion (a graph is as deep as its layers are many), visiting
   * inputs in order, so the first node that differs is the one a recursive walk would meet first.
   */
  private match(pattern: Pattern, n: TfNode, from: string): void {
    const work: { p: Pattern; n: TfNode; from: string; consumer?: TfNode; k?: number; index?: number }[] = [{ p: pattern, n, from }];
    while (work.length) {
      const item = work.pop()!;
      const { n, from, consumer, k } = item;
      if (consumer && k !== undefined) {
        const { index, control } = parseInput(consumer.inputs[k]);
        if (control || index !== item.index)
          this.fail(
            `input ${k} of node ${consumer.name} is ${consumer.inputs[k]}; the encoder reads output ${item.index} of a node there`,
            consumer,
          );
      }
      const p = item.p.kind === "alt" ? this.choose(item.p, n, from) : item.p;
      if (this.matched.get(p)?.has(n)) continue;
      this.visits++;
      if (p.kind === "const") this.constant(p, n, from);
      else {
        if (!p.ops.includes(n.op)) this.fail(`${from} is ${n.op} node ${n.name}; the encoder has ${article(p.ops[0])} there`, n);
        if (p.unique) {
          const other = this.matched.get(p)?.values().next().value;
          if (other && other !== n) this.fail(`${from} is placeholder ${n.name}; the encoder reads ${other.name} there`, n);
          const role = this.placeholders.get(n);
          if (role && role !== p) this.fail(`placeholder ${n.name} is read where the encoder reads another input`, n);
          this.placeholders.set(n, p);
          this.undo.push(() => this.placeholders.delete(n));
        }
        if (n.inputs.length !== p.inputs.length)
          this.fail(`${n.op} node ${n.name} has ${n.inputs.length} inputs; the encoder's has ${p.inputs.length}`, n);
        for (const [key, want] of Object.entries(p.attrs ?? {})) {
          const a = n.attr[key];
          const have = typeof want === "boolean" ? a?.b === true : Number(a?.i);
          if (have !== want)
            this.fail(
              `${n.op} node ${n.name} has ${key} = ${typeof want === "boolean" ? have : (a?.i ?? "nothing")}; the encoder's has ${want}`,
              n,
            );
        }
        for (let k = p.inputs.length - 1; k >= 0; k--) {
          const edge = p.inputs[k];
          work.push({
            p: edge.pattern,
            n: this.byName.get(parseInput(n.inputs[k]).node)!,
            from: `input ${k} of node ${n.name}`,
            consumer: n,
            k,
            index: edge.index,
          });
        }
      }
      // Matched before its inputs are: the graph has no cycles, and any mismatch below fails the whole match.
      if (!this.matched.has(p)) this.matched.set(p, new Set());
      this.matched.get(p)!.add(n);
      this.undo.push(() => this.matched.get(p)!.delete(n));
    }
  }

  private constant(p: ConstPattern, n: TfNode, from: string): void {
    if (n.op !== "Const") this.fail(`${from} is ${n.op} node ${n.name}; the encoder has a constant (${p.what}) there`, n);
    const t = this.g.weights.get(n.name)!;
    if (t.dtype !== p.dtype)
      throw new SeecError("unsupported.tfjs_dtype", `${p.what} ${n.name} is ${t.dtype}; seec compiles it as ${p.dtype}`, {
        file: this.g.file,
        at: `node ${n.name}`,
      });
    if (p.value) {
      if (!sameValue(t, p.value)) this.fail(`constant ${n.name} holds ${show(t)}; the encoder has ${show(p.value)} there`, n);
    } else if (p.rank !== undefined && t.shape.length !== p.rank)
      throw new SeecError(
        "input.tfjs_graph",
        `${p.what} ${n.name} has shape [${t.shape.join(", ")}]; it must have ${p.rank} dimension(s)`,
        { file: this.g.file, at: `node ${n.name}` },
      );
    const first = this.constants.get(p);
    if (!first) {
      this.constants.set(p, n);
      this.undo.push(() => this.constants.delete(p));
    } else if (first !== n && !sameValue(t, this.g.weights.get(first.name)!))
      this.fail(`constants ${first.name} and ${n.name} must hold the same ${p.what}`, n);
  }

  /** The option whose op the node has; the same option wherever the pattern recurs (one computation, one form). */
  private choose(p: AltPattern, n: TfNode, from: string): OpPattern {
    const option = p.options.find((o) => o.ops.includes(n.op));
    if (!option)
      return this.fail(
        `${from} is ${n.op} node ${n.name}; the encoder has ${p.options.map((o) => article(o.ops[0])).join(" or ")} there`,
        n,
      );
    const chosen = this.choices.get(p);
    if (chosen && chosen !== option)
      this.fail(
        `${from} is ${n.op} node ${n.name}; where the encoder computes the same value elsewhere, the graph has ${article(chosen.ops[0])}`,
        n,
      );
    if (!chosen) {
      this.choices.set(p, option);
      this.undo.push(() => this.choices.delete(p));
    }
    return option;
  }

  private rollback(mark: number): void {
    while (this.undo.length > mark) this.undo.pop()!();
  }
}

function sameValue(
  t: { shape: readonly number[]; data: ArrayLike<number> },
  v: { shape: readonly number[]; data: ArrayLike<number> },
): boolean {
  return (
    t.shape.length === v.shape.length &&
    t.shape.every((d, i) => d === v.shape[i]) &&
    t.data.length === v.data.length &&
    Array.prototype.every.call(t.data, (x: number, i: number) => x === v.data[i] || (x !== x && v.data[i] !== v.data[i]))
  );
}

const article = (word: string) => `${/^[AEIOU]/.test(word) ? "an" : "a"} ${word}`;

function show(t: { shape: readonly number[]; data: ArrayLike<number> }): string {
  const values = Array.from(t.data).slice(0, 4).join(", ") + (t.data.length > 4 ? `, ... (${t.data.length} values)` : "");
  return t.shape.length === 0 ? values : `[${values}]`;
}

/** The most tokens a compiled encoder may take: its timing table and T×T attention grow with it. */
export const MAX_TFJS_LENGTH = 8192;

/** A TF [in, out] matrix (MatMul weight, or a 1×1 Conv2D kernel) as seec's [out, in], optionally columns from..to. */
function outIn(t: TfTensor, from = 0, to?: number): { data: Float32Array; shape: [number, number] } {
  const rows = t.shape[t.shape.length - 2],
    cols = t.shape[t.shape.length - 1];
  const end = to ?? cols,
    n = end - from;
  const data = new Float32Array(n * rows);
  for (let o = 0; o < n; o++) for (let i = 0; i < rows; i++) data[o * rows + i] = t.data[i * cols + from + o];
  return { data, shape: [n, rows] };
}

export function tfjsEncoderGraph(name: string, g: TfGraph): Graph {
  checkTfjsGraph(g);
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
  // One Softmax per layer: the pattern is built for that many and must then match all of the graph.
  const layers = g.nodes.filter((n) => n.op === "Softmax").length;
  const m = new Matcher(g);
  if (layers === 0) m.fail("no attention layer (Softmax) in the graph");
  // Each layer takes dozens of nodes: a graph of many Softmaxes and little else is no such stack (and
  // its pattern would be built for nothing).
  const ops = g.nodes.filter((n) => n.op !== "Const").length;
  if (layers * 40 > ops) m.fail(`the graph has ${layers} Softmax nodes among ${ops} ops: too few for that many encoder layers`);
  const p = encoderPattern(layers);
  m.matchGraph(p.root);

  /** A matched parameter's value; `shape` entries that are numbers must match (input.tfjs_graph otherwise). */
  const misfit = (message: string, node: TfNode): never => {
    throw new SeecError("input.tfjs_graph", `the model's weights do not fit together: ${message}`, {
      file: g.file,
      at: `node ${node.name}`,
    });
  };
  const value = (c: ConstPattern, shape?: (number | undefined)[]) => {
    const { node, t } = m.param(c)!;
    if (shape && (t.shape.length !== shape.length || shape.some((d, i) => d !== undefined && t.shape[i] !== d)))
      misfit(`${c.what} ${node.name} has shape [${t.shape.join(", ")}], expected [${shape.map((d) => d ?? "any").join(", ")}]`, node);
    return { node, t, data: t.data as Float32Array };
  };
  const scalar = (c: ConstPattern) => value(c).data[0];
  /** A finite number (scales), not negative where `positive` (epsilons). */
  const finite = (c: ConstPattern, positive = false) => {
    const { node, data } = value(c);
    if (!Number.isFinite(data[0]) || (positive && data[0] < 0)) misfit(`${c.what} ${node.name} is ${data[0]}`, node);
    return data[0];
  };
  /** A positive whole number, at most `max`. */
  const count = (c: ConstPattern, max = 2 ** 31 - 1) => {
    const { node, data } = value(c);
    if (!(data[0] >= 1 && data[0] <= max)) misfit(`${c.what} ${node.name} is ${data[0]}`, node);
    return data[0];
  };

  const table = value(p.table);
  const [vocab, width] = table.t.shape;
  if (vocab < 1 || width < 1) misfit(`the token embedding ${table.node.name} has shape [${table.t.shape.join(", ")}]`, table.node);
  const maxLength = scalar(p.maxLength);
  if (maxLength > MAX_TFJS_LENGTH)
    m.fail(`the maximum length is ${maxLength} tokens; seec compiles encoders of up to ${MAX_TFJS_LENGTH}`, value(p.maxLength).node);
  count(p.maxLength);

  const b = new GraphBuilder(name, { family: "encoder", config: { vocabSize: vocab, embeddingDim: width, layers, maxLength } });
  const T = b.dim("T", maxLength);
  const emb = b.constant(table.node.name, table.data, [vocab, width]);
  let x = b.node("Gather", "embedding_lookup", [emb, b.input("tokens", "i32", [T])]);

  // The timing signal: [sin(p · inv), cos(p · inv)] for positions p, as a table the first T rows of which are added.
  const inverse = value(p.inverse);
  const inv = inverse.data;
  if (2 * inv.length !== width) misfit(`the timing signal has ${2 * inv.length} features, the embedding ${width}`, inverse.node);
  const timing = new Float32Array(maxLength * 2 * inv.length);
  for (let pos = 0; pos < maxLength; pos++)
    for (let i = 0; i < inv.length; i++) {
      const angle = Math.fround(pos * inv[i]);
      timing[pos * 2 * inv.length + i] = Math.sin(angle);
      timing[pos * 2 * inv.length + inv.length + i] = Math.cos(angle);
    }
  const signal = b.node("AddRows", "timing_signal", [x, b.constant("timing_signal.table", timing, [maxLength, width])]);
  // AddTimingSignal returns x + signal, and the stack's first Add adds x to that again: 2x + signal.
  x = b.node("Add", "layer_0_input", [x, signal]);

  let features = width;
  /** A [rows, cols] MatMul weight, or a [1, 1, rows, cols] Conv2D kernel, with its [cols] bias. */
  const dense = (w: { kernel: ConstPattern; bias: ConstPattern }, rows: number) => {
    const kernel = value(w.kernel, w.kernel.rank === 4 ? [1, 1, rows, undefined] : [rows, undefined]);
    const cols = kernel.t.shape[kernel.t.shape.length - 1];
    return { kernel: kernel.t, bias: value(w.bias, [cols]).data, cols };
  };
  const linear = (label: string, input: string, w: { data: Float32Array; shape: [number, number] }, bias: Float32Array) =>
    b.node("Linear", label, [input, b.constant(`${label}.weight`, w.data, w.shape), b.constant(`${label}.bias`, bias, [bias.length])]);
  const layerNorm = (label: string, n: LayerNormPattern, input: string) => {
    const scale = value(n.scale, [features]).data,
      shift = value(n.shift, [features]).data;
    const eps = finite(n.epsilon, true);
    return b.node(
      "LayerNorm",
      label,
      [input, b.constant(`${label}.weight`, scale, [scale.length]), b.constant(`${label}.bias`, shift, [shift.length])],
      { epsilon: eps },
    );
  };

  p.stack.forEach((layer, l) => {
    const pre = `layers.${l}`;
    const h = layerNorm(`${pre}.attention_norm`, layer.attentionNorm, x);
    const qkv = dense(layer.qkv, features);
    const sizes = value(layer.qkv.sizes, [3]);
    const [dq, dk, dv] = Array.from(sizes.data);
    const headDim = count(layer.headDim),
      heads = count(layer.heads);
    // The split must cover the kernel's columns, and each part reshape to [heads, headDim].
    if (dq + dk + dv !== qkv.cols || ![dq, dk, dv, scalar(layer.width)].every((d) => d === heads * headDim))
      misfit(`the q, k, v widths ${dq}, ${dk}, ${dv} do not split ${qkv.cols} columns into ${heads} heads of ${headDim}`, sizes.node);
    const q = linear(`${pre}.attention.q`, h, outIn(qkv.kernel, 0, dq), qkv.bias.slice(0, dq));
    const k = linear(`${pre}.attention.k`, h, outIn(qkv.kernel, dq, dq + dk), qkv.bias.slice(dq, dq + dk));
    const val = linear(`${pre}.attention.v`, h, outIn(qkv.kernel, dq + dk, dq + dk + dv), qkv.bias.slice(dq + dk));
    const att = b.node("SelfAttention", `${pre}.attention`, [q, k, val], { heads: dq / headDim, headDim, scale: finite(layer.scale) });
    const output = dense(layer.output, dv);
    const o = linear(`${pre}.attention.output`, att, outIn(output.kernel), output.bias);
    let residual = x;
    if (m.param(layer.projection.kernel)) {
      const projection = dense(layer.projection, features);
      residual = linear(`${pre}.residual_projection`, x, outIn(projection.kernel), projection.bias);
    }
    x = b.node("Add", `${pre}.attention.residual`, [o, residual]);
    features = output.cols;

    const f = layerNorm(`${pre}.ffn_norm`, layer.ffnNorm, x);
    const conv1 = dense(layer.conv1, features);
    const conv2 = dense(layer.conv2, conv1.cols);
    const hidden = b.node("Relu", `${pre}.ffn.relu`, [linear(`${pre}.ffn.conv1`, f, outIn(conv1.kernel), conv1.bias)]);
    x = b.node("Add", `${pre}.ffn.residual`, [linear(`${pre}.ffn.conv2`, hidden, outIn(conv2.kernel), conv2.bias), x]);
  });
  const pooled = b.node("MeanRows", "mean_pool", [x]);
  const tanhLayer = dense(p.dense, features);
  const t = b.node("Tanh", "tanh_layer", [linear("tanh_layer.dense", pooled, outIn(tanhLayer.kernel), tanhLayer.bias)]);
  b.output(b.node("L2Normalize", "embedding", [t], { epsilon: finite(p.epsilon, true) }));
  return b.finish();
}
