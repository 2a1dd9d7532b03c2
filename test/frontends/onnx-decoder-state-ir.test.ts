// decoder-state.ts (seec build --decoder's rewrite of an ONNX decoder with past/present into a
// stateful one) on one-layer decoders written here as OnnxModels, lowered with lowerOnnxDecoder and
// run by the IR's interpreter one token a call, against causal attention over every token so far
// written out in the test (embedding row, projections, softmax(q·k · scale) · v, output head): each
// attention form with its scales, masks that drop out, position ids and positions computed from the
// past's length, the context the position tables give; and every refusal with its code, message and
// `at`. No wasm, no files: fast enough for mutation testing (docs/MUTATION.md).
import { describe, expect, it } from "vitest";
import { DEFAULT_DECODER_CONTEXT, statefulDecoder } from "../../compiler/frontends/onnx/decoder-state.js";
import { lowerOnnxDecoder } from "../../compiler/frontends/onnx/index.js";
import type { OnnxAttr, OnnxModel, OnnxNode, OnnxValueInfo } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxDType, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { catchSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";

const FILE = "/models/decoder.onnx";
/** Embedding rows, model width, logits (wider than the vocabulary: a head over more classes). */
const V = 5,
  D = 8,
  OUT = 7;
const TOKENS = [3, 1, 4, 1, 0, 2];

const node = (
  name: string,
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, OnnxAttr> = {},
  domain = "",
): OnnxNode => ({ name, op, domain, inputs, outputs, attrs });
const ms = (name: string, op: string, inputs: string[], outputs: string[], attrs: Record<string, OnnxAttr> = {}) =>
  node(name, op, inputs, outputs, attrs, "com.microsoft");
const info = (name: string, dtype: OnnxDType, dims: (number | string)[]): OnnxValueInfo => ({
  name,
  elementType: dtype === "float32" ? "float" : dtype,
  dtype,
  dims,
});
const i64 = (data: number[], shape = [data.length]) => tensor("int64", shape, data);
const f32 = (data: ArrayLike<number>, shape: number[]) => tensor("float32", shape, data);

const W = {
  emb: randomF32(V * D, 1, 1),
  wq: randomF32(D * D, 2, 0.7),
  wk: randomF32(D * D, 3, 0.7),
  wv: randomF32(D * D, 4, 1),
  wo: randomF32(D * OUT, 5, 1),
  wqkv: randomF32(D * 3 * D, 6, 0.7),
  bqkv: randomF32(3 * D, 7, 0.3),
  positions: randomF32(12 * D, 8, 0.5),
};

interface Spec {
  /** Nodes computing `att` [1, 1, D] from q, k, v (and the presents). */
  core: OnnxNode[];
  pasts: OnnxValueInfo[];
  presents?: string[];
  inits?: Record<string, OnnxTensor>;
  inputs?: OnnxValueInfo[];
  /** k and v widths (grouped heads). */
  kv?: number;
  /** Nodes between the embedding row `x0` and `x` (position embeddings); x = x0 without. */
  front?: OnnxNode[];
  /** Nodes from input_ids to `ids`, the embedding's index; ids = input_ids without. */
  ids?: OnnxNode[];
  outputs?: OnnxValueInfo[];
  logits?: string;
}

/** A one-layer decoder: x = emb[input_ids], q/k/v = x·w, `core`, logits = att·wo. */
function decoder(s: Spec): OnnxModel {
  const kv = s.kv ?? D;
  const logits = s.logits ?? "logits";
  return {
    file: FILE,
    opsets: new Map([
      ["", 23],
      ["com.microsoft", 1],
    ]),
    producer: "",
    nodes: [
      ...(s.ids ?? []),
      node("embed", "Gather", [s.ids ? "ids" : "input_ids", "emb"].reverse(), [s.front ? "x0" : "x"], { axis: 0 }),
      ...(s.front ?? []),
      node("q_proj", "MatMul", ["x", "wq"], ["q"]),
      node("k_proj", "MatMul", ["x", "wk"], ["k"]),
      node("v_proj", "MatMul", ["x", "wv"], ["v"]),
      ...s.core,
      node("head", "MatMul", ["att", "wo"], [logits]),
    ],
    inputs: [info("input_ids", "int64", [1, "seq"]), ...s.pasts, ...(s.inputs ?? [])],
    outputs: s.outputs ?? [info(logits, "float32", [1, "seq", OUT]), ...(s.presents ?? []).map((p) => info(p, "float32", []))],
    initializers: new Map(
      Object.entries({
        emb: f32(W.emb, [V, D]),
        wq: f32(W.wq, [D, D]),
        wk: f32(W.wk.slice(0, D * kv), [D, kv]),
        wv: f32(W.wv.slice(0, D * kv), [D, kv]),
        wo: f32(W.wo, [D, OUT]),
        ...s.inits,
      }),
    ),
  };
}

const matVec = (x: ArrayLike<number>, w: ArrayLike<number>, cols: number, from = 0, width = cols) =>
  Array.from({ length: width }, (_, j) => {
    let acc = 0;
    for (let i = 0; i < x.length; i++) acc += x[i] * w[i * cols + from + j];
    return acc;
  });

interface Ref {
  heads: number;
  kvHeads: number;
  scale?: number;
  /** q, k, v of the row x (default: x·wq, x·wk, x·wv). */
  project?: (x: number[]) => [number[], number[], number[]];
  /** Added to the embedding row at position p. */
  position?: (p: number) => ArrayLike<number>;
}

/** The logits of each token fed one a call: causal attention over every token so far, written out. */
function reference(r: Ref, tokens = TOKENS): number[][] {
  const H = D / r.heads;
  const scale = r.scale ?? 1 / Math.sqrt(H);
  const group = r.heads / r.kvHeads;
  const keys: number[][] = [],
    values: number[][] = [];
  return tokens.map((t, p) => {
    const x = Array.from(W.emb.subarray(t * D, t * D + D), (e, i) => e + (r.position ? r.position(p)[i] : 0));
    const kvw = r.kvHeads * H;
    const [q, k, v] = r.project?.(x) ?? [matVec(x, W.wq, D), matVec(x, W.wk, kvw), matVec(x, W.wv, kvw)];
    keys.push(k);
    values.push(v);
    const att = new Array<number>(D).fill(0);
    for (let h = 0; h < r.heads; h++) {
      const g = Math.floor(h / group);
      const scores = keys.map((kk) => scale * q.slice(h * H, h * H + H).reduce((a, qi, i) => a + qi * kk[g * H + i], 0));
      const top = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - top));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < H; i++) att[h * H + i] = e.reduce((a, ej, j) => a + (ej / sum) * values[j][g * H + i], 0);
    }
    return matVec(att, W.wo, OUT);
  });
}

/** Lowers `m` as a stateful decoder and runs `tokens` through it one a call. */
function run(m: OnnxModel, tokens = TOKENS, opts: { context?: number } = { context: 16 }) {
  const load = lowerOnnxDecoder(m, "decoder", {}, opts);
  const interpreter = new Interpreter(load.graph);
  const logits = tokens.map((t, pos) => Array.from(interpreter.run({ tokens: Int32Array.of(t), pos: Int32Array.of(pos) }).logits.data));
  return { load, logits };
}

/** Largest |got − want| / (1 + |want|). */
/** Measured: at most 3.8e-7 over every graph here. */
const TOLERANCE = 4e-6;

function worst(got: number[][], want: number[][]): number {
  expect(got.map((r) => r.length)).toEqual(want.map((r) => r.length));
  let w = 0;
  got.forEach((row, s) =>
    row.forEach((x, i) => (w = Math.max(w, Math.abs(x - want[s][i]) / (1 + Math.abs(want[s][i])), Number.isNaN(x) ? 1 : 0))),
  );
  return w;
}

function expectMatches(m: OnnxModel, ref: Ref, opts?: { context?: number }) {
  const { load, logits } = run(m, TOKENS, opts);
  expect(worst(logits, reference(ref))).toBeLessThan(TOLERANCE);
  return load;
}

const past4 = (name: string, N: number, H: number) => info(name, "float32", [1, N, "past", H]);

/** com.microsoft MultiHeadAttention over past_key/past_value [1, 2, P, 4]. */
function mha(
  attrs: Record<string, OnnxAttr> = { num_heads: 2 },
  inputs: string[] = ["q", "k", "v", "", "", "", "past_key", "past_value"],
  more: Partial<Spec> = {},
) {
  return decoder({
    core: [ms("mha", "MultiHeadAttention", inputs, ["att", "present_key", "present_value"], attrs)],
    pasts: [past4("past_key", 2, 4), past4("past_value", 2, 4)],
    presents: ["present_key", "present_value"],
    ...more,
  });
}

/** com.microsoft GroupQueryAttention: 2 query heads over 1 kv head of 4. */
function gqa(attrs: Record<string, OnnxAttr> = {}, extra: string[] = [], more: Partial<Spec> = {}) {
  const inputs = ["q", "k", "v", "past_key", "past_value", "", "", "", "", ...extra];
  return decoder({
    core: [ms("gqa", "GroupQueryAttention", inputs, ["att", "present_key", "present_value"], { num_heads: 2, kv_num_heads: 1, ...attrs })],
    pasts: [past4("past_key", 1, 4), past4("past_value", 1, 4)],
    presents: ["present_key", "present_value"],
    kv: 4,
    ...more,
  });
}

/** ONNX Attention (opset 23): 2 query heads over 1 kv head of 4, q/k/v [1, S, N·H]. */
function attention23(
  attrs: Record<string, OnnxAttr> = {},
  mask = "",
  more: Partial<Spec> = {},
  outputs = ["att", "present_key", "present_value"],
) {
  return decoder({
    core: [
      node("attention", "Attention", ["q", "k", "v", mask, "past_key", "past_value"], outputs, {
        q_num_heads: 2,
        kv_num_heads: 1,
        ...attrs,
      }),
    ],
    pasts: [past4("past_key", 1, 4), past4("past_value", 1, 4)],
    presents: ["present_key", "present_value"],
    kv: 4,
    ...more,
  });
}

/** com.microsoft Attention (ORT's fused GPT-2): one projection into q|k|v, the past stacked [2, 1, 2, P, 4]. */
function contrib(attrs: Record<string, OnnxAttr> = { num_heads: 2 }, bias = true, maskIndex = "", more: Partial<Spec> = {}) {
  return decoder({
    core: [ms("attention", "Attention", ["x", "wqkv", bias ? "bqkv" : "", maskIndex, "past"], ["att", "present"], attrs)],
    pasts: [info("past", "float32", [2, 1, 2, "past", 4])],
    presents: ["present"],
    inits: { wqkv: f32(W.wqkv, [D, 3 * D]), bqkv: f32(W.bqkv, [3 * D]) },
    ...more,
  });
}
const contribRef = (bias: boolean, scale?: number): Ref => ({
  heads: 2,
  kvHeads: 2,
  scale,
  project: (x) => {
    const y = matVec(x, W.wqkv, 3 * D).map((v, j) => v + (bias ? W.bqkv[j] : 0));
    return [y.slice(0, D), y.slice(D, 2 * D), y.slice(2 * D)];
  },
});

/**
 * Attention written out over Concat(past, new) as PyTorch's exports do, one head of 8: keys kept
 * [1, 1, P, 8] and turned (or kept turned, [1, 1, 8, P], on axis 3), scores scaled, masked, softmaxed.
 */
function writtenOut(o: {
  keys?: "rows" | "columns";
  keyAxis?: number;
  valueAxis?: number;
  scale?: OnnxNode[];
  scaled?: string;
  masking?: OnnxNode[];
  scores?: string;
  inits?: Record<string, OnnxTensor>;
  inputs?: OnnxValueInfo[];
}) {
  const columns = o.keys === "columns";
  const keys: OnnxNode[] = columns
    ? [
        node("k_turn", "Transpose", ["k4"], ["kT"], { perm: [0, 1, 3, 2] }),
        node("keys", "Concat", ["past_key", "kT"], ["present_key"], { axis: o.keyAxis ?? 3 }),
        node("qk", "MatMul", ["q4", "present_key"], ["scores"]),
      ]
    : [
        node("keys", "Concat", ["past_key", "k4"], ["present_key"], { axis: o.keyAxis ?? 2 }),
        node("turn", "Transpose", ["present_key"], ["keysT"], { perm: [0, 1, 3, 2] }),
        node("qk", "MatMul", ["q4", "keysT"], ["scores"]),
      ];
  return decoder({
    core: [
      node("uq", "Unsqueeze", ["q", "axis1"], ["q4"]),
      node("uk", "Unsqueeze", ["k", "axis1"], ["k4"]),
      node("uv", "Unsqueeze", ["v", "axis1"], ["v4"]),
      node("values", "Concat", ["past_value", "v4"], ["present_value"], { axis: o.valueAxis ?? 2 }),
      ...keys,
      ...(o.scale ?? [node("scale", "Div", ["scores", "four"], ["scaled"])]),
      ...(o.masking ?? []),
      node("softmax", "Softmax", [o.scores ?? o.scaled ?? "scaled"], ["probs"], { axis: -1 }),
      node("pv", "MatMul", ["probs", "present_value"], ["att4"]),
      node("squeeze", "Squeeze", ["att4", "axis1"], ["att"]),
    ],
    pasts: [info("past_key", "float32", columns ? [1, 1, D, "past"] : [1, 1, "past", D]), info("past_value", "float32", [1, 1, "past", D])],
    presents: ["present_key", "present_value"],
    inits: { axis1: i64([1]), four: f32([4], []), ...o.inits },
    inputs: o.inputs,
  });
}

describe("each attention form, run one token a call, against causal attention written out", () => {
  it("com.microsoft MultiHeadAttention: 1/√H, a scale attribute, and the model the build is told", () => {
    const load = expectMatches(mha(), { heads: 2, kvHeads: 2 });
    expect(load.graph.model).toEqual({ family: "decoder", config: { vocabSize: V, contextLength: 16, maxChunk: 1, nLayers: 1 } });
    expect(load.graph.inputs).toEqual(["tokens", "pos"]);
    expect(load.graph.outputs).toEqual(["logits"]);
    expect(load.notes).toEqual([]);
    const state = [...load.graph.values.values()].filter((v) => v.kind === "state");
    expect(state.map((v) => [v.name, v.shape])).toEqual([
      ["kv_cache.0.key", [16, 8]],
      ["kv_cache.0.value", [16, 8]],
    ]);
    expectMatches(mha({ num_heads: 2, scale: 0.3 }), { heads: 2, kvHeads: 2, scale: 0.3 });
  });

  it("MultiHeadAttention with a causal attention_bias (zeros for the one new token) drops it", () => {
    // The bias [1, 1, 1, P + 1]: zeros of the past's length plus one, from Shape(past_key).
    const m = mha({ num_heads: 2 }, ["q", "k", "v", "", "", "ab", "past_key", "past_value"], {
      inits: { two: i64([2]), one: i64([1]), zeros4: i64([1, 1, 1]), zf: f32([0], []) },
    });
    m.nodes.splice(
      4,
      0,
      node("pshape", "Shape", ["past_key"], ["ps"]),
      node("plen", "Gather", ["ps", "two"], ["pl"], { axis: 0 }),
      node("tlen", "Add", ["pl", "one"], ["tl"]),
      node("dims", "Concat", ["zeros4", "tl"], ["bias_shape"], { axis: 0 }),
      node("bias", "Expand", ["zf", "bias_shape"], ["ab"]),
    );
    expectMatches(m, { heads: 2, kvHeads: 2 });
  });

  it("com.microsoft GroupQueryAttention: grouped heads, a scale", () => {
    expectMatches(gqa(), { heads: 2, kvHeads: 1 });
    expectMatches(gqa({ scale: 0.25 }), { heads: 2, kvHeads: 1, scale: 0.25 });
  });

  it("ONNX Attention (opset 23): grouped heads, a scale, and masks of each element type that keep every score", () => {
    expectMatches(attention23(), { heads: 2, kvHeads: 1 });
    expectMatches(attention23({ scale: 0.4 }), { heads: 2, kvHeads: 1, scale: 0.4 });
    const masked = (nodes: OnnxNode[], inits: Record<string, OnnxTensor>) => {
      const m = attention23({}, "mask", { inits });
      m.nodes.splice(4, 0, ...nodes);
      return m;
    };
    const yes = tensor("bool", [1], [1]),
      no = tensor("bool", [1], [0]);
    const zeros = f32([0], [1]),
      neg = f32([-1e4], [1]);
    // Boolean masks (all true): through Identity, a comparison, Not, a Cast to bool.
    for (const m of [
      masked([node("m", "Identity", ["yes"], ["mask"])], { yes }),
      masked([node("m", "Equal", ["zeros", "zeros"], ["mask"])], { zeros }),
      masked([node("m", "Not", ["no"], ["mask"])], { no }),
      masked([node("m", "Cast", ["ones"], ["mask"], { to: 9 })], { ones: f32([1], [1]) }),
      // Float masks (all zeros): through Add, Neg, a Cast to float, a Where's second input or (not typed) its third.
      masked([node("m", "Add", ["zeros", "zeros"], ["mask"])], { zeros }),
      masked([node("m", "Neg", ["zeros"], ["mask"])], { zeros }),
      masked([node("m", "Cast", ["no"], ["mask"], { to: 1 })], { no }),
      masked([node("m", "Where", ["yes", "zeros", "neg"], ["mask"])], { yes, zeros, neg }),
      masked([node("r", "Relu", ["zeros"], ["z"]), node("m", "Where", ["yes", "z", "zeros"], ["mask"])], { yes, zeros }),
      masked([node("m", "Unsqueeze", ["zeros", "axes"], ["mask"])], { zeros, axes: i64([0]) }),
    ])
      expectMatches(m, { heads: 2, kvHeads: 1 });
    // The same tensors read as the other kind hide every key: refused.
    const e = catchSeec(() => run(masked([node("m", "Cast", ["yes"], ["mask"], { to: 1 })], { yes })));
    expect(e).toMatchObject({
      code: "unsupported.onnx_decoder",
      message:
        "node attention adds a bias (mask) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
      at: "node attention",
      file: FILE,
    });
    expect(catchSeec(() => run(masked([node("m", "Identity", ["no"], ["mask"])], { no }))).message).toBe(
      "node attention applies a mask (mask) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
    );
  });

  it("com.microsoft Attention: the stacked past, with and without its bias, a scale, 1-D mask_index of [end] and [end, start]", () => {
    expectMatches(contrib(), contribRef(true));
    expectMatches(contrib({ num_heads: 2 }, false), contribRef(false));
    expectMatches(contrib({ num_heads: 2, scale: 0.2 }), contribRef(true, 0.2));
    // The sequence's end (exclusive) from attention_mask, then its start.
    const withIndex = (start: number | undefined) => {
      const m = contrib({ num_heads: 2 }, true, "mi", {
        inputs: [info("attention_mask", "int64", [1, "total"])],
        inits: { wqkv: f32(W.wqkv, [D, 3 * D]), bqkv: f32(W.bqkv, [3 * D]), axis1: i64([1]), start: i64([start ?? 0]) },
      });
      m.nodes.splice(
        4,
        0,
        node("len", "ReduceSum", ["attention_mask", "axis1"], ["end"], { keepdims: 0 }),
        ...(start === undefined
          ? [node("cast", "Cast", ["end"], ["mi"], { to: 6 })]
          : [node("both", "Concat", ["end", "start"], ["se"], { axis: 0 }), node("cast", "Cast", ["se"], ["mi"], { to: 6 })]),
      );
      return m;
    };
    expectMatches(withIndex(undefined), contribRef(true));
    expectMatches(withIndex(0), contribRef(true));
    expect(catchSeec(() => run(withIndex(1)))).toMatchObject({
      message:
        "node attention applies a mask (mi) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
      at: "node attention",
    });
    // [3B + 2] (query and key starts and ends) is not read: refused, not dropped.
    const five = contrib({ num_heads: 2 }, true, "mi", {
      inits: { wqkv: f32(W.wqkv, [D, 3 * D]), bqkv: f32(W.bqkv, [3 * D]), mi: tensor("int32", [5], [9, 0, 0, 9, 0]) },
    });
    expect(catchSeec(() => run(five)).message).toMatch(/^node attention applies a mask \(mi\) that is not causal/);
  });

  it("attention written out: Div or Mul by a constant (an initializer or a Constant node), keys on axis 2 or −2, turned keys on axis 3 or −1", () => {
    const one = { heads: 1, kvHeads: 1 };
    expectMatches(writtenOut({}), { ...one, scale: 0.25 });
    expectMatches(writtenOut({ keyAxis: -2, valueAxis: -2 }), { ...one, scale: 0.25 });
    expectMatches(writtenOut({ keys: "columns" }), { ...one, scale: 0.25 });
    expectMatches(writtenOut({ keys: "columns", keyAxis: -1 }), { ...one, scale: 0.25 });
    expectMatches(writtenOut({ scale: [node("scale", "Mul", ["scores", "four"], ["scaled"])] }), { ...one, scale: 4 });
    // c · scores and a scale from a Constant node; two factors multiply.
    const c = tensor("float32", [], [0.2]);
    expectMatches(
      writtenOut({
        scale: [
          node("c", "Constant", [], ["cval"], { value: c }),
          node("s1", "Mul", ["cval", "scores"], ["s1"]),
          node("s2", "Div", ["s1", "four"], ["scaled"]),
        ],
      }),
      { ...one, scale: 0.05 },
    );
    // A Cast on the way and no scale at all.
    expectMatches(writtenOut({ scale: [node("scale", "Cast", ["scores"], ["scaled"], { to: 1 })] }), { ...one, scale: 1 });
  });

  it("written-out masks: a Where keeping the scores where its condition is true, or where it is false; an added zero", () => {
    const one = { heads: 1, kvHeads: 1, scale: 0.25 };
    const inits = { yes: tensor("bool", [1], [1]), no: tensor("bool", [1], [0]), neg: f32([-1e4], []), zero: f32([0], [1]) };
    expectMatches(writtenOut({ masking: [node("w", "Where", ["yes", "scaled", "neg"], ["masked"])], scores: "masked", inits }), one);
    expectMatches(writtenOut({ masking: [node("w", "Where", ["no", "neg", "scaled"], ["masked"])], scores: "masked", inits }), one);
    expectMatches(writtenOut({ masking: [node("a", "Add", ["zero", "scaled"], ["masked"])], scores: "masked", inits }), one);
    const hides = (w: OnnxNode) => catchSeec(() => run(writtenOut({ masking: [w], scores: "masked", inits })));
    expect(hides(node("w", "Where", ["no", "scaled", "neg"], ["masked"]))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message:
        "node w applies a mask (no) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
      at: "node w",
    });
    expect(hides(node("w", "Where", ["yes", "neg", "scaled"], ["masked"])).message).toMatch(
      /^node w applies a mask \(yes\) that is not causal/,
    );
    expect(hides(node("a", "Add", ["scaled", "neg"], ["masked"])).message).toMatch(/^node a adds a bias \(neg\) that is not causal/);
  });

  it("written-out forms it does not take are not attention: refused as no attention reading a past", () => {
    const none = "no attention in the graph reads a past seec recognizes (a past input concatenated with the new keys or values)";
    const refuse = (m: OnnxModel) => {
      const e = catchSeec(() => run(m));
      expect(e).toMatchObject({ code: "unsupported.onnx_decoder", message: none, file: FILE });
      expect(e.at).toBeUndefined();
      expect(e.hint).toMatch(/^supported: ONNX Attention \(opset 23\) with past_key\/past_value/);
    };
    // c / scores, a scale that is not a scalar constant, a product of the scores with themselves.
    refuse(writtenOut({ scale: [node("scale", "Div", ["four", "scores"], ["scaled"])] }));
    refuse(writtenOut({ scale: [node("scale", "Div", ["scores", "pair"], ["scaled"])], inits: { pair: f32([4, 4], [2]) } }));
    refuse(writtenOut({ scale: [node("scale", "Mul", ["scores", "scores"], ["scaled"])] }));
    // A Relu on the scores, a Where whose condition is the scores.
    refuse(writtenOut({ scale: [node("scale", "Relu", ["scores"], ["scaled"])] }));
    refuse(
      writtenOut({
        masking: [node("w", "Where", ["scaled", "scaled", "neg"], ["masked"])],
        scores: "masked",
        inits: { neg: f32([-1e4], []) },
      }),
    );
    // Values or keys concatenated on another axis; keys turned another way.
    refuse(writtenOut({ valueAxis: 3 }));
    refuse(writtenOut({ keyAxis: 3 }));
    refuse(writtenOut({ keys: "columns", keyAxis: 2 }));
    const perm = writtenOut({});
    perm.nodes.find((n) => n.name === "turn")!.attrs.perm = [0, 1, 2, 3];
    refuse(perm);
    // The softmax read twice, or read as the second operand.
    const twice = writtenOut({});
    twice.nodes.push(node("extra", "Neg", ["probs"], ["unused"]));
    refuse(twice);
    const swapped = writtenOut({});
    swapped.nodes.find((n) => n.name === "pv")!.inputs = ["present_value", "probs"];
    refuse(swapped);
  });
});

describe("positions and the context", () => {
  const table = (rows: number) => ({ pe: f32(W.positions.slice(0, rows * D), [rows, D]) });
  const rowAt = (p: number) => W.positions.subarray(p * D, p * D + D);

  it("position_ids: pos itself; the context is the rows of the position table, --context below it, a note above it", () => {
    const m = (rows: number) =>
      mha({ num_heads: 2 }, undefined, {
        inputs: [info("position_ids", "int64", [1, "seq"])],
        inits: table(rows),
        front: [node("pos_embed", "Gather", ["pe", "position_ids"], ["pv"], { axis: 0 }), node("add_pos", "Add", ["x0", "pv"], ["x"])],
      });
    const ref = { heads: 2, kvHeads: 2, position: rowAt };
    const load = expectMatches(m(12), ref, {});
    expect(load.graph.model.config.contextLength).toBe(12);
    expect(load.notes).toEqual([]);
    expect(load.graph.values.get("kv_cache.0.key")!.shape).toEqual([12, 8]);
    const over = expectMatches(m(12), ref, { context: 20 });
    expect(over.notes).toEqual(["--context 20 is past the 12 positions the model's tables hold; the context is 12"]);
    expect(over.graph.values.get("kv_cache.0.value")!.shape).toEqual([12, 8]);
    const under = expectMatches(m(12), ref, { context: 7 });
    expect([under.graph.model.config.contextLength, under.notes]).toEqual([7, []]);
    const at = expectMatches(m(12), ref, { context: 12 });
    expect([at.graph.model.config.contextLength, at.notes]).toEqual([12, []]);
  });

  it("positions from the past's length (Shape(past_key)[2]): computed from pos at run time", () => {
    const m = mha({ num_heads: 2 }, undefined, {
      inits: { ...table(12), two: i64([2]), two_s: i64([2], []) },
      front: [
        node("pshape", "Shape", ["past_key"], ["ps"]),
        node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
        node("pos_embed", "Gather", ["pe", "pl"], ["pv"], { axis: 0 }),
        node("add_pos", "Add", ["x0", "pv"], ["x"]),
      ],
    });
    const load = expectMatches(m, { heads: 2, kvHeads: 2, position: rowAt }, {});
    expect(load.graph.model.config.contextLength).toBe(12);
    // And a float computed from it (pos / 2 + 0.5, added to every feature): fractions kept.
    const f = mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), half: f32([0.5], []) },
      front: [
        node("pshape", "Shape", ["past_key"], ["ps"]),
        node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
        node("cast", "Cast", ["pl"], ["plf"], { to: 1 }),
        node("mul", "Mul", ["plf", "half"], ["ph"]),
        node("add1", "Add", ["ph", "half"], ["off"]),
        node("add_pos", "Add", ["x0", "off"], ["x"]),
      ],
    });
    expectMatches(f, { heads: 2, kvHeads: 2, position: (p) => new Array(D).fill(p / 2 + 0.5) }, {});
    // Squared (0.1 · pos²), it is not affine but computed at run time from one that is, in floats:
    // the float pos the value is computed from must not make the Mul after it an integer one.
    const sq = mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), tenth: f32([0.1], []) },
      front: [
        node("pshape", "Shape", ["past_key"], ["ps"]),
        node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
        node("cast", "Cast", ["pl"], ["plf"], { to: 1 }),
        node("sq", "Mul", ["plf", "plf"], ["p2"]),
        node("scaled", "Mul", ["p2", "tenth"], ["off"]),
        node("add_pos", "Add", ["x0", "off"], ["x"]),
      ],
    });
    expectMatches(sq, { heads: 2, kvHeads: 2, position: (p) => new Array(D).fill(Math.fround(p * p * Math.fround(0.1))) }, {});
  });

  it("a tensor whose shape follows the past's length, read at run time: refused by name", () => {
    const m = mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), zero: i64([0], []), one: i64([1], []) },
      front: [
        node("pshape", "Shape", ["past_key"], ["ps"]),
        node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
        node("range", "Range", ["zero", "pl", "one"], ["cols"]),
        node("cast", "Cast", ["cols"], ["colsf"], { to: 1 }),
        node("sum", "ReduceSum", ["colsf"], ["total"], { keepdims: 0 }),
        node("add_pos", "Add", ["x0", "total"], ["x"]),
      ],
    });
    // The sum 0 + 1 + … + P − 1 is not pos · a + b; the Range it is computed from changes shape.
    expect(catchSeec(() => run(m))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message: "node sum (ReduceSum) reads colsf, whose shape follows the past's length",
      at: "node sum",
      file: FILE,
    });
  });

  it("rotary caches: the context is the cos cache's rows (GroupQueryAttention and com.microsoft RotaryEmbedding)", () => {
    const cs = { cos: f32(randomF32(10 * 2, 9, 1).map(Math.cos), [10, 2]), sin: f32(randomF32(10 * 2, 9, 1).map(Math.sin), [10, 2]) };
    const g = gqa({ do_rotary: 1 }, [], { inits: cs });
    g.nodes.find((n) => n.op === "GroupQueryAttention")!.inputs.splice(7, 2, "cos", "sin");
    const load = lowerOnnxDecoder(g, "d", {}, {});
    expect(load.graph.model.config.contextLength).toBe(10);
    expect(lowerOnnxDecoder(g, "d", {}, { context: 40 }).notes).toEqual([
      "--context 40 is past the 10 positions the model's tables hold; the context is 10",
    ]);
    const r = mha({ num_heads: 2 }, undefined, {
      inputs: [info("position_ids", "int64", [1, "seq"])],
      inits: { cos: f32(new Float32Array(9 * 2).fill(1), [9, 2]), sin: f32(new Float32Array(9 * 2), [9, 2]) },
      front: [ms("rope", "RotaryEmbedding", ["x0", "position_ids", "cos", "sin"], ["x"], { num_heads: 2 })],
    });
    // cos 1, sin 0: the rotation is the identity, and the context 9.
    const rl = expectMatches(r, { heads: 2, kvHeads: 2 }, {});
    expect(rl.graph.model.config.contextLength).toBe(9);
    // Without tables, --context or the default.
    expect(lowerOnnxDecoder(mha(), "d", {}, {}).graph.model.config.contextLength).toBe(DEFAULT_DECODER_CONTEXT);
    expect(DEFAULT_DECODER_CONTEXT).toBe(512);
    expect(lowerOnnxDecoder(mha(), "d", {}, { context: 33 }).graph.values.get("kv_cache.0.key")!.shape).toEqual([33, 8]);
  });
});

describe("what the build is told, and the graph's outputs", () => {
  it("the vocabulary is the embedding's rows, through a Cast, Reshape, Squeeze, Flatten or Identity of the ids", () => {
    const through = (op: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, inits: Record<string, OnnxTensor> = {}) => {
      const m = mha({ num_heads: 2 }, undefined, { ids: [node("ids", op, ["input_ids", ...inputs], ["ids"], attrs)], inits });
      return expectMatches(m, { heads: 2, kvHeads: 2 }).graph.model.config.vocabSize;
    };
    expect(through("Cast", [], { to: 6 })).toBe(V);
    expect(through("Identity", [])).toBe(V);
    expect(through("Reshape", ["shape"], {}, { shape: i64([1, 1]) })).toBe(V);
    expect(through("Slice", ["s0", "s1"], {}, { s0: i64([0]), s1: i64([1]) })).toBe(V);
    // An embedding read some other way: the logits' width.
    const other = mha({ num_heads: 2 }, undefined, { ids: [node("ids", "Neg", ["input_ids"], ["ids"])] });
    expect(lowerOnnxDecoder(other, "d", {}, {}).graph.model.config.vocabSize).toBe(OUT);
  });

  it("the first output that is not a present is the logits (its last row), whatever its name or place", () => {
    const m = mha({ num_heads: 2 }, undefined, { logits: "hidden" });
    m.outputs = [info("present_key", "float32", []), info("hidden", "float32", []), info("present_value", "float32", [])];
    const { load, logits } = run(m);
    expect(worst(logits, reference({ heads: 2, kvHeads: 2 }))).toBeLessThan(TOLERANCE);
    expect(load.graph.outputs).toEqual(["logits"]);
    // A written-out graph's presents are Concats.
    const w = writtenOut({});
    w.outputs = [w.outputs[1], w.outputs[2], w.outputs[0]];
    expect(worst(run(w).logits, reference({ heads: 1, kvHeads: 1, scale: 0.25 }))).toBeLessThan(TOLERANCE);
  });

  it("a graph that outputs only its presents is refused: there are no logits", () => {
    const m = mha();
    m.outputs = m.outputs.slice(1);
    expect(catchSeec(() => statefulDecoder(m, {}))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message: "the graph outputs only present key/value caches: there are no logits to sample from",
      file: FILE,
    });
  });
});

describe("refusals, each with its code, message and node", () => {
  const refusal = (m: OnnxModel, message: string, at?: string) => {
    const e = catchSeec(() => statefulDecoder(m, {}));
    expect({ code: e.code, message: e.message, at: e.at, file: e.file }).toEqual({
      code: "unsupported.onnx_decoder",
      message,
      at,
      file: FILE,
    });
  };

  it("inputs named tokens, pos or logits; no input_ids", () => {
    for (const reserved of ["tokens", "pos", "logits"]) {
      const m = mha();
      m.inputs.push(info(reserved, "int32", [1]));
      refusal(m, `the graph has an input named "${reserved}", which a stateful decoder takes itself`);
    }
    const m = mha();
    m.inputs[0] = { ...m.inputs[0], name: "ids" };
    refusal(m, "a stateful decoder needs an input_ids input; the graph's inputs are ids, past_key, past_value");
  });

  it("MultiHeadAttention", () => {
    const base = ["q", "k", "v", "", "", "", "past_key", "past_value"];
    const with_ = (i: number, name: string) => base.map((x, k) => (k === i ? name : x));
    refusal(mha({ num_heads: 2 }, with_(6, "k")), "node mha reads past_key/past_value that are not graph inputs", "node mha");
    refusal(mha({ num_heads: 2 }, with_(7, "v")), "node mha reads past_key/past_value that are not graph inputs", "node mha");
    refusal(
      mha({ num_heads: 2 }, with_(3, "b")),
      "node mha: MultiHeadAttention with a packed bias input is not supported in a stateful decoder",
    );
    refusal(
      mha({ num_heads: 2 }, [...base, "", "ci"]),
      "node mha: MultiHeadAttention with cache_indirection (beam search) is not supported in a stateful decoder",
    );
    refusal(mha({ num_heads: 2 }, with_(1, "")), "node mha: MultiHeadAttention with packed QKV is not supported in a stateful decoder");
    refusal(mha({ num_heads: 2 }, with_(2, "")), "node mha: MultiHeadAttention with packed QKV is not supported in a stateful decoder");
    refusal(mha({}), "node mha: MultiHeadAttention needs num_heads");
    // An attention_bias computed from the tokens: not known at build time.
    const m = mha({ num_heads: 2 }, with_(5, "ab"));
    m.nodes.splice(4, 0, node("bias", "Cast", ["input_ids"], ["ab"], { to: 1 }));
    refusal(
      m,
      "node mha masks the attention's scores with ab, which seec cannot compute at build time to check it is causal over every earlier token",
      "node mha",
    );
  });

  it("GroupQueryAttention", () => {
    const unsupported = (what: string) => `node gqa: GroupQueryAttention with ${what} is not supported in a stateful decoder`;
    refusal(gqa({ softcap: 30 }), unsupported("softcap"));
    refusal(gqa({ local_window_size: 0 }), unsupported("local_window_size"));
    refusal(gqa({ smooth_softmax: 1 }), unsupported("smooth_softmax"));
    refusal(gqa({}, ["", "", "sink"]), unsupported("head_sink"));
    refusal(gqa({}, ["", "bias"]), unsupported("attention_bias"));
    refusal(gqa({}, ["", "", "", "ks"]), unsupported("a quantized KV cache"));
    refusal(gqa({}, ["", "", "", "", "vs"]), unsupported("a quantized KV cache"));
    refusal(gqa({ kv_cache_bit_width: 4 }), unsupported("a quantized KV cache"));
    refusal(gqa({ softcap: 30, smooth_softmax: 1 }), unsupported("softcap, smooth_softmax"));
    // local_window_size −1 (none) and 0 for the others are what GQA means without them.
    expect(() => statefulDecoder(gqa({ local_window_size: -1, softcap: 0, smooth_softmax: 0, kv_cache_bit_width: 0 }), {})).not.toThrow();
    const heads = (n: number, kv: number) => `node gqa: GroupQueryAttention's num_heads ${n} must be a multiple of kv_num_heads ${kv}`;
    refusal(gqa({ num_heads: 3, kv_num_heads: 2 }), heads(3, 2));
    refusal(gqa({ num_heads: 0, kv_num_heads: 1 }), heads(0, 1));
    refusal(gqa({ num_heads: 2, kv_num_heads: 0 }), heads(2, 0));
    refusal(gqa({ do_rotary: 1 }), "node gqa: GroupQueryAttention with do_rotary needs cos_cache and sin_cache");
    const cosOnly = gqa({ do_rotary: 1 });
    cosOnly.nodes.find((n) => n.op === "GroupQueryAttention")!.inputs[7] = "cos";
    refusal(cosOnly, "node gqa: GroupQueryAttention with do_rotary needs cos_cache and sin_cache");
    const notInputs = gqa();
    notInputs.nodes.find((n) => n.op === "GroupQueryAttention")!.inputs[4] = "v";
    refusal(notInputs, "node gqa reads past_key/past_value that are not graph inputs", "node gqa");
  });

  it("com.microsoft Attention", () => {
    const unsupported = (what: string) => `node attention: Attention with ${what} is not supported in a stateful decoder`;
    refusal(contrib({ num_heads: 2, do_rotary: 1 }), unsupported("do_rotary"));
    refusal(contrib({ num_heads: 2, past_present_share_buffer: 1 }), unsupported("past_present_share_buffer"));
    const seqlen = contrib();
    seqlen.nodes.find((n) => n.name === "attention")!.inputs.push("", "psl");
    refusal(seqlen, unsupported("past_sequence_length"));
    refusal(contrib({ num_heads: 2, qkv_hidden_sizes: [8, 8, 4] }), unsupported("unequal qkv_hidden_sizes"));
    expect(() => statefulDecoder(contrib({ num_heads: 2, qkv_hidden_sizes: [8, 8, 8] }), {})).not.toThrow();
    refusal(contrib({}), "node attention: Attention needs num_heads");
    const notInput = contrib();
    notInput.nodes.find((n) => n.name === "attention")!.inputs[4] = "x";
    refusal(notInput, "node attention reads a past that is not a graph input", "node attention");
    // A past of int64 ids is no cache either.
    const ints = contrib();
    ints.inputs[1] = info("past", "int64", [2, 1, 2, "past", 4]);
    refusal(ints, "node attention reads a past that is not a graph input", "node attention");
  });

  it("ONNX Attention", () => {
    const unsupported = (what: string) => `node attention: Attention with ${what} is not supported in a stateful decoder`;
    refusal(attention23({ softcap: 20 }), unsupported("softcap"));
    const nonpad = attention23();
    nonpad.nodes.find((n) => n.name === "attention")!.inputs.push("lens");
    refusal(nonpad, unsupported("nonpad_kv_seqlen"));
    const outputs = ["att", "present_key", "present_value", "qk"];
    const read = attention23({}, "", {}, outputs);
    read.nodes.push(node("use", "Neg", ["qk"], ["unused"]));
    refusal(read, unsupported("its qk_matmul_output read"));
    const out = attention23({}, "", {}, outputs);
    out.outputs.push(info("qk", "float32", []));
    refusal(out, unsupported("its qk_matmul_output read"));
    // Written but not read: fine.
    expect(() => statefulDecoder(attention23({}, "", {}, outputs), {})).not.toThrow();
    const untyped = attention23({}, "mask", { inits: { z: f32([0], [1]) } });
    untyped.nodes.splice(4, 0, node("m", "Relu", ["z"], ["mask"]));
    refusal(untyped, "node attention: seec cannot tell whether attn_mask mask is boolean or additive", "node attention");
    const notInputs = attention23();
    notInputs.nodes.find((n) => n.name === "attention")!.inputs[5] = "v";
    refusal(notInputs, "node attention reads past_key/past_value that are not graph inputs", "node attention");
  });

  it("an attention reading a past in a layout seec does not map, or none at all", () => {
    // MultiHeadAttention fed the past as its keys, no past_key/past_value.
    refusal(
      mha({ num_heads: 2 }, ["q", "past_key", "past_value"]),
      "node mha (com.microsoft:MultiHeadAttention) reads a past, a layout seec does not map onto its KV cache",
      "node mha",
    );
    const onnxAttention = attention23();
    onnxAttention.nodes.find((n) => n.name === "attention")!.inputs = ["q", "past_key", "past_value"];
    refusal(
      onnxAttention,
      "node attention (ai.onnx:Attention) reads a past, a layout seec does not map onto its KV cache",
      "node attention",
    );
    const plain = decoder({ core: [node("att", "Identity", ["q"], ["att"])], pasts: [past4("past_key", 2, 4)] });
    refusal(plain, "no attention in the graph reads a past seec recognizes (a past input concatenated with the new keys or values)");
  });

  it("inputs read outside the attention", () => {
    // past_key also read by the embedding: outside the cache.
    const m = mha();
    m.nodes.push(node("peek", "ReduceMean", ["past_key"], ["pk"]), node("mix", "Add", ["logits", "pk"], ["mixed"]));
    m.outputs[0] = info("mixed", "float32", []);
    const e = catchSeec(() => run(m));
    expect(e).toMatchObject({
      code: "unsupported.onnx_decoder",
      message: "node peek (ReduceMean) reads past_key outside the attention seec maps onto the KV cache",
      at: "node peek",
    });
    // An input the decoder cannot feed.
    const t = mha({ num_heads: 2 }, undefined, {
      inputs: [info("token_type_ids", "int64", [1, "seq"])],
      inits: { types: f32(randomF32(2 * D, 11, 1), [2, D]) },
      front: [node("type_embed", "Gather", ["types", "token_type_ids"], ["tv"], { axis: 0 }), node("add_type", "Add", ["x0", "tv"], ["x"])],
    });
    const f = catchSeec(() => run(t));
    expect(f).toMatchObject({
      code: "unsupported.onnx_decoder",
      message: "node type_embed (Gather) reads input token_type_ids, which a stateful decoder (tokens and pos only) cannot feed",
      at: "node type_embed",
    });
  });
});
