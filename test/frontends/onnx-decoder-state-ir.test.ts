// decoder-state.ts (seec build --decoder's rewrite of an ONNX decoder with past/present into a
// stateful one) on one-layer decoders written here as OnnxModels, lowered with lowerOnnxDecoder and
// run by the IR's interpreter one token a call, against causal attention over every token so far
// written out in the test (embedding row, projections, softmax(q·k · scale) · v, output head): each
// attention form with its scales, masks that drop out, position ids and positions computed from the
// past's length, the context the position tables give; and every refusal with its code, message and
// `at`. No wasm, no files: fast enough for mutation testing (docs/MUTATION.md).
import { describe, expect, it } from "vitest";
import { DEFAULT_DECODER_CONTEXT, kvPairs, statefulDecoder } from "../../compiler/frontends/onnx/decoder-state.js";
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

/** Lowers `m` as a stateful decoder of one token a call and runs `tokens` through it. */
function run(m: OnnxModel, tokens = TOKENS, opts: { context?: number } = { context: 16 }) {
  const load = lowerOnnxDecoder(m, "decoder", {}, { ...opts, maxChunk: 1 });
  const interpreter = new Interpreter(load.graph);
  const logits = tokens.map((t, pos) => Array.from(interpreter.run({ tokens: Int32Array.of(t), pos: Int32Array.of(pos) }).logits.data));
  return { load, logits };
}

/** One token a call: what most tests here check (chunks of several have their own describe). */
const ONE = { maxChunk: 1 };

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

describe("several tokens a call (--max-chunk): a prompt in chunks, against causal attention written out", () => {
  /** Lowers `m` for up to 5 tokens a call and runs TOKENS through it in chunks of `sizes`: each chunk's logits. */
  function runChunks(m: OnnxModel, sizes: number[]) {
    const load = lowerOnnxDecoder(m, "decoder", {}, { context: 16, maxChunk: 5 });
    const interpreter = new Interpreter(load.graph);
    let pos = 0;
    const rows = sizes.map((n) => {
      const feeds = { tokens: Int32Array.from(TOKENS.slice(pos, pos + n)), pos: Int32Array.of(pos) };
      pos += n;
      return Array.from(interpreter.run(feeds).logits.data);
    });
    return { load, rows };
  }
  /** The reference's rows at the last token of each chunk. */
  const lastOfEach = (all: number[][], sizes: number[]) => sizes.map((_, i) => all[sizes.slice(0, i + 1).reduce((a, b) => a + b, 0) - 1]);

  it.each([
    ["GroupQueryAttention (causal by definition)", () => gqa(), { heads: 2, kvHeads: 1 }],
    ["ONNX Attention with is_causal", () => attention23({ is_causal: 1 }), { heads: 2, kvHeads: 1 }],
  ] as const)("%s: chunks of 5 and 1, of 4 and 2, of 2, 3 and 1 give the logits of the causal reference", (_, make, ref) => {
    for (const sizes of [
      [5, 1],
      [4, 2],
      [2, 3, 1],
    ]) {
      const { load, rows } = runChunks(make(), sizes);
      expect(load.graph.model.config.maxChunk).toBe(5);
      expect(load.graph.dims).toEqual({ T: { max: 5 } });
      expect(load.notes).toEqual([]);
      expect(worst(rows, lastOfEach(reference(ref), sizes))).toBeLessThan(TOLERANCE);
    }
  });

  const positions = (front: OnnxNode[], more: Partial<Spec> = {}) =>
    gqa({}, [], { inits: { pe: f32(W.positions.slice(0, 12 * D), [12, D]), two_s: i64([2], []) }, front, ...more });
  const rowAt = (p: number) => W.positions.subarray(p * D, p * D + D);

  it("position_ids: each new token its own position (pos + t), in chunks as one a call", () => {
    const m = positions(
      [node("pos_embed", "Gather", ["pe", "position_ids"], ["pv"], { axis: 0 }), node("add_pos", "Add", ["x0", "pv"], ["x"])],
      {
        inputs: [info("position_ids", "int64", [1, "seq"])],
      },
    );
    const { load, rows } = runChunks(m, [4, 2]);
    expect([load.graph.model.config.maxChunk, load.notes]).toEqual([
      5,
      ["--context 16 is past the 12 positions the model's tables hold; the context is 12"],
    ]);
    expect(worst(rows, lastOfEach(reference({ heads: 2, kvHeads: 1, position: rowAt }), [4, 2]))).toBeLessThan(TOLERANCE);
  });

  it("a position from the past's length (one for the whole call): one token a call, the build saying why", () => {
    // Right for one token a call (pos), wrong for several: every new token would get the first one's position.
    const m = positions([
      node("pshape", "Shape", ["past_key"], ["ps"]),
      node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
      node("pos_embed", "Gather", ["pe", "pl"], ["pv"], { axis: 0 }),
      node("add_pos", "Add", ["x0", "pv"], ["x"]),
    ]);
    const load = lowerOnnxDecoder(m, "d", {}, { context: 12, maxChunk: 5 });
    expect(load.graph.model.config.maxChunk).toBe(1);
    expect(load.notes).toEqual([
      expect.stringMatching(
        /^prompts run one token a call: two tokens a call at position 0 give logits \S+ off those of one token a call \(largest \S+\): the graph computes positions or masks for one token a call$/,
      ),
    ]);
    expectMatches(m, { heads: 2, kvHeads: 1, position: rowAt }, { context: 12 });
  });

  it("a chunk no longer than the context, the model's tables' included", () => {
    const m = positions(
      [node("pos_embed", "Gather", ["pe", "position_ids"], ["pv"], { axis: 0 }), node("add_pos", "Add", ["x0", "pv"], ["x"])],
      {
        inputs: [info("position_ids", "int64", [1, "seq"])],
      },
    );
    // The table's 12 rows are the context: 32 tokens a call would be more than it holds.
    const load = lowerOnnxDecoder(m, "d", {}, {});
    expect([load.graph.model.config.contextLength, load.graph.model.config.maxChunk, load.graph.dims]).toEqual([
      12,
      12,
      { T: { max: 12 } },
    ]);
  });

  it("MultiHeadAttention with unidirectional is causal by itself", () => {
    const { load, rows } = runChunks(mha({ num_heads: 2, unidirectional: 1 }), [4, 2]);
    expect([load.graph.model.config.maxChunk, load.notes]).toEqual([5, []]);
    expect(worst(rows, lastOfEach(reference({ heads: 2, kvHeads: 2 }), [4, 2]))).toBeLessThan(TOLERANCE);
  });

  it("takes one token a call where nothing hides later new tokens (MultiHeadAttention without a mask), saying so", () => {
    const load = lowerOnnxDecoder(mha(), "d", {}, { context: 16 });
    expect(load.graph.model.config.maxChunk).toBe(1);
    expect(load.notes).toEqual([
      "prompts run one token a call: node mha: nothing hides the later of several new tokens from the earlier ones (no causal mask, is_causal or unidirectional), as the KV cache's attention does",
    ]);
    // A context below 5 rows takes one token a call without a word.
    expect(lowerOnnxDecoder(gqa(), "d", {}, { context: 4 })).toMatchObject({ notes: [], graph: { dims: {} } });
  });

  it("refuses --max-chunk from 2 to 4: a symbolic token count is checked at 5 lengths", () => {
    for (const maxChunk of [0, 2, 4])
      expect(catchSeec(() => lowerOnnxDecoder(gqa(), "d", {}, { maxChunk }))).toMatchObject({
        code: "usage.max_chunk",
        message: `a call takes 1 token or 5 and more; --max-chunk is ${maxChunk}`,
        at: "--max-chunk",
      });
  });
});

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
    const load = lowerOnnxDecoder(g, "d", {}, ONE);
    expect(load.graph.model.config.contextLength).toBe(10);
    expect(lowerOnnxDecoder(g, "d", {}, { ...ONE, context: 40 }).notes).toEqual([
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
    expect(lowerOnnxDecoder(mha(), "d", {}, ONE).graph.model.config.contextLength).toBe(DEFAULT_DECODER_CONTEXT);
    expect(DEFAULT_DECODER_CONTEXT).toBe(512);
    expect(lowerOnnxDecoder(mha(), "d", {}, { ...ONE, context: 33 }).graph.values.get("kv_cache.0.key")!.shape).toEqual([33, 8]);
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
    expect(lowerOnnxDecoder(other, "d", {}, ONE).graph.model.config.vocabSize).toBe(OUT);
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

// Round two (docs/MUTATION.md, "decoder-state.ts, second round"): what the first round's mutants showed
// untested — the element types a mask is read through, which inputs count as a past, partial pasts,
// more written-out shapes that are not attention, masks checked at the context's last row, and values
// computed from the past's length through its element count, the mask's length, clamps and vectors.
describe("an ONNX Attention mask's element type, read through each op seec follows", () => {
  const masked = (nodes: OnnxNode[], inits: Record<string, OnnxTensor>) => {
    const m = attention23({}, "mask", { inits });
    m.nodes.splice(4, 0, ...nodes);
    return m;
  };
  const yes = tensor("bool", [1], [1]),
    no = tensor("bool", [1], [0]);
  const zeros = f32([0], [1]),
    ones = f32([1], [1]),
    neg = f32([-1e4], [1]);
  const ref = { heads: 2, kvHeads: 1 };

  it("comparisons and logic give a boolean mask: all true keeps every score", () => {
    for (const [op, inputs] of [
      ["Equal", ["zeros", "zeros"]],
      ["Less", ["zeros", "ones"]],
      ["LessOrEqual", ["zeros", "zeros"]],
      ["Greater", ["ones", "zeros"]],
      ["GreaterOrEqual", ["zeros", "zeros"]],
      ["Not", ["no"]],
      ["And", ["yes", "yes"]],
      ["Or", ["no", "yes"]],
      ["Xor", ["no", "yes"]],
      ["IsNaN", ["nan"]],
      ["IsInf", ["inf"]],
    ] as const)
      expectMatches(
        masked([node("m", op, [...inputs], ["mask"])], { zeros, ones, yes, no, nan: f32([NaN], [1]), inf: f32([Infinity], [1]) }),
        ref,
      );
    // The same ops false everywhere hide every key: refused as a mask, not as a bias.
    expect(catchSeec(() => run(masked([node("m", "IsNaN", ["zeros"], ["mask"])], { zeros }))).message).toBe(
      "node attention applies a mask (mask) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
    );
  });

  it("arithmetic keeps its inputs' type (the first typed one); reshapes keep their data's; a Cast to float16 is additive", () => {
    const inits = { zeros, ones, neg, z2: f32([0, 0], [1, 2]), s0: i64([0]), s1: i64([1]), shape: i64([1, 1]), axes: i64([0]) };
    for (const nodes of [
      [node("m", "Sub", ["zeros", "zeros"], ["mask"])],
      [node("m", "Mul", ["zeros", "ones"], ["mask"])],
      [node("m", "Div", ["zeros", "ones"], ["mask"])],
      [node("m", "Min", ["zeros", "ones"], ["mask"])],
      [node("m", "Max", ["zeros", "neg"], ["mask"])],
      // The first input's type is not known (a Relu's): the second's is.
      [node("r", "Relu", ["zeros"], ["z"]), node("m", "Add", ["z", "zeros"], ["mask"])],
      [node("m", "Squeeze", ["z2", "axes"], ["mask"])],
      [node("m", "Reshape", ["zeros", "shape"], ["mask"])],
      [node("m", "Expand", ["zeros", "shape"], ["mask"])],
      [node("m", "Slice", ["z2", "s0", "s1"], ["mask"])],
      [node("m", "Transpose", ["z2"], ["mask"], { perm: [1, 0] })],
      [node("m", "Flatten", ["z2"], ["mask"])],
      [node("m", "Cast", ["no"], ["mask"], { to: 10 })],
    ])
      expectMatches(masked(nodes, { ...inits, no }), ref);
  });

  it("attention_mask itself as a boolean attn_mask: all ones, dropped", () => {
    const m = attention23({}, "attention_mask", { inputs: [info("attention_mask", "bool", [1, "total"])] });
    const load = expectMatches(m, ref);
    expect(load.graph.inputs).toEqual(["tokens", "pos"]);
  });

  it("an op of another domain named like an ONNX one is not taken for it: the mask's type is unknown", () => {
    for (const [op, inputs] of [
      ["Not", ["no"]],
      ["Add", ["zeros", "zeros"]],
      ["Where", ["yes", "zeros", "neg"]],
    ] as const) {
      const e = catchSeec(() => statefulDecoder(masked([ms("m", op, [...inputs], ["mask"])], { yes, no, zeros, neg }), {}));
      expect([e.code, e.message, e.at]).toEqual([
        "unsupported.onnx_decoder",
        "node attention: seec cannot tell whether attn_mask mask is boolean or additive",
        "node attention",
      ]);
    }
  });
});

describe("which inputs are pasts, and attentions reading part of one", () => {
  const refusal = (m: OnnxModel, message: string, at?: string) => {
    const e = catchSeec(() => statefulDecoder(m, {}));
    expect({ code: e.code, message: e.message, at: e.at, file: e.file }).toEqual({
      code: "unsupported.onnx_decoder",
      message,
      at,
      file: FILE,
    });
  };
  const none = "no attention in the graph reads a past seec recognizes (a past input concatenated with the new keys or values)";

  it("a float input named input_ids, position_ids, attention_mask or token_type_ids is no past, even read by an attention", () => {
    for (const name of ["input_ids", "position_ids", "attention_mask", "token_type_ids"]) {
      const m = attention23();
      m.nodes.find((n) => n.name === "attention")!.inputs = ["q", "k", "v", name];
      if (name === "input_ids") m.inputs[0] = info("input_ids", "float32", [1, "seq"]);
      else m.inputs.push(info(name, "float32", [1, "total"]));
      refusal(m, none);
    }
    // Named otherwise, the same float input is a past read in a layout seec does not map.
    const m = attention23();
    m.nodes.find((n) => n.name === "attention")!.inputs = ["q", "k", "v", "cache"];
    m.inputs.push(info("cache", "float32", [1, "total"]));
    refusal(m, "node attention (ai.onnx:Attention) reads a past, a layout seec does not map onto its KV cache", "node attention");
  });

  it("kvPairs: each float past (not a token input) a present output of a Concat or an attention is computed from", () => {
    expect(kvPairs(mha())).toEqual([
      { past: "past_key", present: "present_key" },
      { past: "past_value", present: "present_key" },
      { past: "past_key", present: "present_value" },
      { past: "past_value", present: "present_value" },
    ]);
    expect(kvPairs(writtenOut({}))).toEqual([
      { past: "past_key", present: "present_key" },
      { past: "past_value", present: "present_value" },
    ]);
    // An output concatenated from a float past, a float attention_mask and an int64 input: only the past pairs;
    // one computed by an op whose name only starts with Attention is no present.
    const m = mha();
    m.inputs.push(info("attention_mask", "float32", [1, "total"]), info("past_length", "int64", [1]));
    m.nodes.push(
      node("plf", "Cast", ["past_length"], ["plf"], { to: 1 }),
      node("flat", "Flatten", ["past_key"], ["pkf"], { axis: 0 }),
      node("extra", "Concat", ["plf", "attention_mask", "pkf"], ["extra"], { axis: -1 }),
      ms("attention_x", "AttentionStats", ["past_value"], ["stats"]),
    );
    m.outputs.push(info("extra", "float32", []), info("stats", "float32", []));
    expect(kvPairs(m)).toEqual([
      { past: "past_key", present: "present_key" },
      { past: "past_value", present: "present_key" },
      { past: "past_key", present: "present_value" },
      { past: "past_value", present: "present_value" },
      { past: "past_key", present: "extra" },
    ]);
  });

  it("an output concatenated from the tokens alone is no present: it is the first output, so it is the logits", () => {
    const m = mha();
    m.nodes.push(node("both", "Concat", ["x", "x"], ["hidden"], { axis: -1 }));
    m.outputs.unshift(info("hidden", "float32", [1, "seq", 2 * D]));
    const { logits } = run(m);
    expect(logits).toEqual(TOKENS.map((t) => Array.from({ length: 2 * D }, (_, i) => W.emb[t * D + (i % D)])));
  });

  it("MultiHeadAttention, GroupQueryAttention and ONNX Attention with only past_key or only past_value: refused", () => {
    const mhaInputs = (key: string, value: string) => ["q", "k", "v", "", "", "", key, value];
    refusal(mha({ num_heads: 2 }, mhaInputs("past_key", "")), "node mha reads past_key/past_value that are not graph inputs", "node mha");
    refusal(mha({ num_heads: 2 }, mhaInputs("", "past_value")), "node mha reads past_key/past_value that are not graph inputs", "node mha");
    for (const [i, keep] of [
      [4, 3],
      [3, 4],
    ]) {
      const g = gqa();
      const n = g.nodes.find((x) => x.op === "GroupQueryAttention")!;
      n.inputs[i] = "";
      expect(n.inputs[keep]).not.toBe("");
      refusal(g, "node gqa reads past_key/past_value that are not graph inputs", "node gqa");
      const a = attention23();
      a.nodes.find((x) => x.name === "attention")!.inputs[i + 1] = "";
      refusal(a, "node attention reads past_key/past_value that are not graph inputs", "node attention");
    }
  });

  it("attentions without a past are left alone: with no other, no attention reads one", () => {
    const g = gqa();
    g.nodes.find((x) => x.op === "GroupQueryAttention")!.inputs = ["q", "k", "v"];
    refusal(g, none);
    const c = contrib();
    c.nodes.find((x) => x.name === "attention")!.inputs = ["x", "wqkv", "bqkv"];
    refusal(c, none);
    const h = mha({ num_heads: 2 }, ["q", "k", "v"]);
    refusal(h, none);
  });

  it("MultiHeadAttention or GroupQueryAttention of another domain than com.microsoft is not read as one", () => {
    const h = mha();
    h.nodes.find((x) => x.op === "MultiHeadAttention")!.domain = "com.example";
    refusal(h, "node mha (com.example:MultiHeadAttention) reads a past, a layout seec does not map onto its KV cache", "node mha");
    const g = gqa();
    g.nodes.find((x) => x.op === "GroupQueryAttention")!.domain = "com.example";
    refusal(g, "node gqa (com.example:GroupQueryAttention) reads a past, a layout seec does not map onto its KV cache", "node gqa");
  });

  it("com.microsoft Attention and ONNX Attention name every feature they do not take", () => {
    refusal(
      contrib({ num_heads: 2, do_rotary: 1, past_present_share_buffer: 1 }),
      "node attention: Attention with do_rotary, past_present_share_buffer is not supported in a stateful decoder",
    );
    const a = attention23({ softcap: 20 });
    a.nodes.find((n) => n.name === "attention")!.inputs.push("lens");
    refusal(a, "node attention: Attention with softcap, nonpad_kv_seqlen is not supported in a stateful decoder");
  });
});

describe("written-out shapes that are not softmax attention over a past: refused as no attention reading one", () => {
  const none = "no attention in the graph reads a past seec recognizes (a past input concatenated with the new keys or values)";
  const refuse = (m: OnnxModel) => {
    const e = catchSeec(() => run(m));
    expect({ code: e.code, message: e.message, at: e.at }).toEqual({ code: "unsupported.onnx_decoder", message: none, at: undefined });
  };
  const swap = (m: OnnxModel, name: string, to: Partial<OnnxNode>) => {
    Object.assign(
      m.nodes.find((n) => n.name === name)!,
      to,
    );
    return m;
  };

  it("scales that are not a constant scalar: a Constant of two values, one computed by a node, a graph input", () => {
    refuse(
      writtenOut({
        scale: [node("c", "Constant", [], ["cval"], { value: f32([4, 4], [2]) }), node("scale", "Div", ["scores", "cval"], ["scaled"])],
      }),
    );
    refuse(
      writtenOut({
        scale: [node("root", "Sqrt", ["sixteen"], ["r"]), node("scale", "Div", ["scores", "r"], ["scaled"])],
        inits: { sixteen: f32([16], []) },
      }),
    );
    refuse(
      writtenOut({ scale: [node("scale", "Div", ["scores", "temperature"], ["scaled"])], inputs: [info("temperature", "float32", [])] }),
    );
  });

  it("scores added to themselves, a Where choosing by the scores, a softmax over the ids", () => {
    refuse(writtenOut({ masking: [node("a", "Add", ["scaled", "scaled"], ["masked"])], scores: "masked" }));
    refuse(
      writtenOut({
        masking: [node("c", "Cast", ["scaled"], ["cond"], { to: 9 }), node("w", "Where", ["cond", "zero", "neg"], ["masked"])],
        scores: "masked",
        inits: { zero: f32([0], []), neg: f32([-1e4], []) },
      }),
    );
    const ids = writtenOut({});
    ids.nodes.push(node("idsf", "Cast", ["input_ids"], ["idsf"], { to: 1 }));
    refuse(swap(ids, "softmax", { inputs: ["idsf"] }));
  });

  it("a Sigmoid in the softmax's place, the probabilities read by an Einsum", () => {
    refuse(swap(writtenOut({}), "softmax", { op: "Sigmoid", attrs: {} }));
    refuse(swap(writtenOut({}), "pv", { op: "Einsum", attrs: { equation: "bnqk,bnkd->bnqd" } }));
  });

  it("accepted: keys and values gathered from one stacked past_0 [2, 1, 1, P, 8] (PyTorch's GPT-2 exports)", () => {
    const m = writtenOut({ inits: { zero_s: i64([0], []), one_s: i64([1], []) } });
    m.inputs = [m.inputs[0], info("past_0", "float32", [2, 1, 1, "past", D])];
    m.nodes.unshift(
      node("pk", "Gather", ["past_0", "zero_s"], ["past_key"], { axis: 0 }),
      node("pv_", "Gather", ["past_0", "one_s"], ["past_value"], { axis: 0 }),
    );
    const load = expectMatches(m, { heads: 1, kvHeads: 1, scale: 0.25 });
    expect(load.graph.inputs).toEqual(["tokens", "pos"]);
  });

  it("values or keys that are not Concat(past, new): three inputs, the past alone, an Add, the new ones twice, a constant prefix", () => {
    refuse(swap(writtenOut({}), "values", { inputs: ["past_value", "v4", "v4"] }));
    refuse(swap(writtenOut({}), "pv", { inputs: ["probs", "past_value"] }));
    // An Add of the old opsets carries an axis attribute: still no Concat.
    refuse(swap(writtenOut({}), "values", { op: "Add", attrs: { axis: 2 } }));
    refuse(swap(writtenOut({}), "keys", { inputs: ["k4", "k4"] }));
    refuse(swap(writtenOut({ inits: { prefix: f32(new Float32Array(8), [1, 1, 1, 8]) } }), "keys", { inputs: ["prefix", "k4"] }));
    const constant = writtenOut({});
    constant.nodes.unshift(node("prefix", "Constant", [], ["prefix"], { value: f32(new Float32Array(8), [1, 1, 1, 8]) }));
    refuse(swap(constant, "keys", { inputs: ["prefix", "k4"] }));
    const mixed = writtenOut({});
    mixed.nodes.splice(
      mixed.nodes.findIndex((n) => n.name === "keys"),
      0,
      node("mix", "Add", ["past_key", "k4"], ["mixed"]),
    );
    refuse(swap(mixed, "keys", { inputs: ["mixed", "k4"] }));
    // Keys read straight from the past (kept turned), the new ones never added.
    const direct = writtenOut({ keys: "columns" });
    refuse(swap(direct, "qk", { inputs: ["q4", "past_key"] }));
  });
});

describe("written-out masks computed from the new tokens' shapes (Shape, Size, EyeLike read no values)", () => {
  it("a Where whose condition is computed from the shape of q is a mask, not a second operand from the tokens", () => {
    const one = { heads: 1, kvHeads: 1, scale: 0.25 };
    const inits = { zero: i64([0], []), three: i64([3], []), neg: f32([-1e4], []), flat: i64([1, 8]) };
    const where = node("w", "Where", ["cond", "scaled", "neg"], ["masked"]);
    for (const cond of [
      [
        node("sh", "Shape", ["q4"], ["qs"]),
        node("g", "Gather", ["qs", "three"], ["qw"], { axis: 0 }),
        node("c", "Greater", ["qw", "zero"], ["cond"]),
      ],
      [node("sz", "Size", ["q4"], ["qn"]), node("c", "Greater", ["qn", "zero"], ["cond"])],
      [
        node("r", "Reshape", ["q", "flat"], ["q2"]),
        node("eye", "EyeLike", ["q2"], ["e"]),
        node("mx", "ReduceMax", ["e"], ["em"], { keepdims: 0 }),
        node("c", "Cast", ["em"], ["cond"], { to: 9 }),
      ],
    ])
      expectMatches(writtenOut({ masking: [...cond, where], scores: "masked", inits }), one);
  });
});

describe("com.microsoft Attention's attention_bias", () => {
  it("a bias of zeros drops out; any other is refused by name", () => {
    const biased = (value: number) => {
      const m = contrib({ num_heads: 2 }, true, "", {
        inits: { wqkv: f32(W.wqkv, [D, 3 * D]), bqkv: f32(W.bqkv, [3 * D]), ab: f32([value], [1, 1, 1, 1]) },
      });
      m.nodes.find((n) => n.name === "attention")!.inputs.push("ab");
      return m;
    };
    expectMatches(biased(0), contribRef(true));
    expect(catchSeec(() => statefulDecoder(biased(-2), {}))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message:
        "node attention adds a bias (ab) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
      at: "node attention",
    });
  });

  it("an op whose name only begins with Attention, reading a past, is no attention", () => {
    const m = decoder({
      core: [ms("stats", "AttentionStats", ["q", "past_key"], ["att"])],
      pasts: [past4("past_key", 2, 4)],
    });
    expect(catchSeec(() => statefulDecoder(m, {})).message).toBe(
      "no attention in the graph reads a past seec recognizes (a past input concatenated with the new keys or values)",
    );
  });
});

describe("masks checked at each sample length, and the last row of the context", () => {
  const abInputs = ["q", "k", "v", "", "", "ab", "past_key", "past_value"];
  const withBias = (nodes: OnnxNode[], inits: Record<string, OnnxTensor>, pasts?: OnnxValueInfo[]) => {
    const m = mha({ num_heads: 2 }, abInputs, { inits, ...(pasts ? { pasts } : {}) });
    m.nodes.splice(4, 0, ...nodes);
    return m;
  };
  const pastLength = [node("pshape", "Shape", ["past_key"], ["ps"]), node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 })];

  it("a bias seec cannot compute at one of the lengths (a table of 5 rows indexed by the past's length): refused, not dropped", () => {
    const m = withBias([...pastLength, node("bias", "Gather", ["table", "pl"], ["ab"], { axis: 0 })], {
      two_s: i64([2], []),
      table: f32(new Float32Array(5), [5]),
    });
    expect(catchSeec(() => statefulDecoder(m, { context: 16 }))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message:
        "node mha masks the attention's scores with ab, which seec cannot compute at build time to check it is causal over every earlier token",
      at: "node mha",
    });
    // Six rows reach past 5 tokens: only the context's last row (15) is past the table, which is not checked.
    const six = withBias([...pastLength, node("bias", "Gather", ["table", "pl"], ["ab"], { axis: 0 })], {
      two_s: i64([2], []),
      table: f32(new Float32Array(6), [6]),
    });
    expect(() => statefulDecoder(six, { context: 16 })).not.toThrow();
  });

  it("a sliding window of 10 tokens: kept at 1, 2 and 5 past tokens, refused at the context's last row", () => {
    const m = attention23({}, "mask", { inits: { two_s: i64([2], []), ten: i64([10], []) } });
    m.nodes.splice(4, 0, ...pastLength, node("window", "Less", ["pl", "ten"], ["mask"]));
    expect(catchSeec(() => statefulDecoder(m, { context: 16 }))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message:
        "node attention applies a mask (mask) that is not causal over every earlier token with 15 past tokens; the KV cache's attention adds none",
      at: "node attention",
    });
    // A context of 10 ends with 9 past tokens, which the window keeps; 11 ends with 10.
    expect(() => statefulDecoder(m, { context: 10 })).not.toThrow();
    expect(catchSeec(() => statefulDecoder(m, { context: 11 })).message).toMatch(/ with 10 past tokens;/);
  });

  it("a window the context from the position table reaches (no --context): refused at that context's last row", () => {
    // mask = keep[P] from a table of 16 (true below 8): it folds only up to 15 past tokens, the position table's context.
    const keep = tensor(
      "bool",
      [16],
      Array.from({ length: 16 }, (_, p) => +(p < 8)),
    );
    const m = attention23({}, "mask", {
      inits: { two_s: i64([2], []), keep, pe: f32(new Float32Array(16 * D), [16, D]) },
      inputs: [info("position_ids", "int64", [1, "seq"])],
      front: [node("pos_embed", "Gather", ["pe", "position_ids"], ["pv"], { axis: 0 }), node("add_pos", "Add", ["x0", "pv"], ["x"])],
    });
    m.nodes.splice(
      6,
      0,
      ...pastLength,
      node("window", "Gather", ["keep", "pl"], ["kept"], { axis: 0 }),
      node("cast", "Cast", ["kept"], ["mask"], { to: 9 }),
    );
    expect(catchSeec(() => statefulDecoder(m, {}))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message:
        "node attention applies a mask (mask) that is not causal over every earlier token with 15 past tokens; the KV cache's attention adds none",
    });
  });

  it("a bias from the past's element count, zero only with the batch 1: the batch dimension (named batch, or the first of several names) is 1", () => {
    // Size(past_key) − N·H · P: zero when the past is [1, N, P, H].
    for (const [dims, per] of [
      [["batch_size", 2, "past", 4], 8],
      [["b", 2, "past", 4], 8],
      [[1, "n", "past", 4], 4],
    ] as const) {
      const m = withBias(
        [
          ...pastLength,
          node("size", "Size", ["past_key"], ["sz"]),
          node("per", "Mul", ["pl", "per"], ["expected"]),
          node("diff", "Sub", ["sz", "expected"], ["d"]),
          node("bias", "Cast", ["d"], ["ab"], { to: 1 }),
        ],
        { two_s: i64([2], []), per: i64([per], []) },
        [info("past_key", "float32", [...dims]), info("past_value", "float32", [...dims])],
      );
      expectMatches(m, { heads: 2, kvHeads: 2 });
    }
  });

  it("com.microsoft Attention's mask_index: [3B + 2] refused at the first length; [end, start] with an end that hides the newest key", () => {
    const five = contrib({ num_heads: 2 }, true, "mi", {
      inits: { wqkv: f32(W.wqkv, [D, 3 * D]), bqkv: f32(W.bqkv, [3 * D]), mi: tensor("int32", [5], [99, 0, 0, 99, 0]) },
    });
    expect(catchSeec(() => statefulDecoder(five, {})).message).toBe(
      "node attention applies a mask (mi) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
    );
    const short = contrib({ num_heads: 2 }, true, "mi", {
      inputs: [info("attention_mask", "int64", [1, "total"])],
      inits: { wqkv: f32(W.wqkv, [D, 3 * D]), bqkv: f32(W.bqkv, [3 * D]), axis1: i64([1]), one: i64([1]), start: i64([0]) },
    });
    short.nodes.splice(
      4,
      0,
      node("len", "ReduceSum", ["attention_mask", "axis1"], ["total"], { keepdims: 0 }),
      node("end", "Sub", ["total", "one"], ["end"]),
      node("both", "Concat", ["end", "start"], ["se"], { axis: 0 }),
      node("cast", "Cast", ["se"], ["mi"], { to: 6 }),
    );
    expect(catchSeec(() => statefulDecoder(short, {})).message).toBe(
      "node attention applies a mask (mi) that is not causal over every earlier token with 1 past tokens; the KV cache's attention adds none",
    );
  });

  it("attention_mask or a float past read at run time outside the attention: refused as a past read outside it", () => {
    const m = mha({ num_heads: 2 }, undefined, { inputs: [info("attention_mask", "int64", [1, "total"])] });
    m.nodes.push(
      node("maskf", "Cast", ["attention_mask"], ["mf"], { to: 1 }),
      node("count", "ReduceSum", ["mf"], ["n"], { keepdims: 0 }),
      node("mix", "Add", ["logits", "n"], ["mixed"]),
    );
    m.outputs[0] = info("mixed", "float32", []);
    expect(catchSeec(() => run(m))).toMatchObject({
      message: "node maskf (Cast) reads attention_mask outside the attention seec maps onto the KV cache",
      at: "node maskf",
    });
    const extra = mha({ num_heads: 2 }, undefined, { inputs: [info("past_key.1", "float32", [1, 2, "past", 4])] });
    extra.nodes.push(node("peek", "ReduceMean", ["past_key.1"], ["pk"], { keepdims: 0 }), node("mix", "Add", ["logits", "pk"], ["mixed"]));
    extra.outputs[0] = info("mixed", "float32", []);
    expect(catchSeec(() => run(extra))).toMatchObject({
      message: "node peek (ReduceMean) reads past_key.1 outside the attention seec maps onto the KV cache",
      at: "node peek",
    });
  });
});

describe("values computed from the past's length, round two", () => {
  const pastLength = [node("pshape", "Shape", ["past_key"], ["ps"]), node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 })];
  const offset = (nodes: OnnxNode[], inits: Record<string, OnnxTensor>, more: Partial<Spec> = {}) =>
    mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), ...inits },
      front: [...pastLength, ...nodes, node("add_pos", "Add", ["x0", "off"], ["x"])],
      ...more,
    });
  const fill = (f: (p: number) => number) => (p: number) => new Array<number>(D).fill(f(p));
  const ref = (position: (p: number) => ArrayLike<number>) => ({ heads: 2, kvHeads: 2, position });

  it("from the past's element count, P / 2 = Size(past) / 16, whatever the past's batch dimension is named", () => {
    for (const [dims, per] of [
      [[1, 2, "past", 4], 16],
      [["batch", 2, "past", 4], 16],
      [["b", 2, "past", 4], 16],
      [[1, "n", "past", 4], 8],
    ] as const) {
      const m = mha({ num_heads: 2 }, undefined, {
        pasts: [info("past_key", "float32", [...dims]), info("past_value", "float32", [...dims])],
        inits: { per: f32([per], []) },
        front: [
          node("size", "Size", ["past_key"], ["sz"]),
          node("cast", "Cast", ["sz"], ["szf"], { to: 1 }),
          node("div", "Div", ["szf", "per"], ["off"]),
          node("add_pos", "Add", ["x0", "off"], ["x"]),
        ],
      });
      expectMatches(m, ref(fill((p) => p / 2)), {});
    }
  });

  it("from attention_mask's length (P + 1): Shape(attention_mask)[1] − 1 is pos", () => {
    const m = mha({ num_heads: 2 }, undefined, {
      inputs: [info("attention_mask", "int64", [1, "total"])],
      inits: { one_s: i64([1], []) },
      front: [
        node("mshape", "Shape", ["attention_mask"], ["ms"]),
        node("mlen", "Gather", ["ms", "one_s"], ["ml"], { axis: 0 }),
        node("sub", "Sub", ["ml", "one_s"], ["p"]),
        node("cast", "Cast", ["p"], ["off"], { to: 1 }),
        node("add_pos", "Add", ["x0", "off"], ["x"]),
      ],
    });
    const load = expectMatches(m, ref(fill((p) => p)), {});
    expect(load.graph.inputs).toEqual(["tokens", "pos"]);
  });

  it("a vector affine in P with features that do not change (a zero slope)", () => {
    const w = [1, 0, 0.5, 0, -1, 0, 2, 0];
    const m = offset([node("cast", "Cast", ["pl"], ["plf"], { to: 1 }), node("mul", "Mul", ["plf", "w"], ["off"])], { w: f32(w, [D]) });
    expectMatches(
      m,
      ref((p) => w.map((x) => p * x)),
      {},
    );
  });

  it("a vector whose features are affine in P but for one (P²): computed at run time from pos", () => {
    const w = [1, 0.5, 0, -1, 0, 0.25, 2, 0],
      u = [0, 0.1, 0, 0, 0, 0, 0, 0];
    const m = offset(
      [
        node("cast", "Cast", ["pl"], ["plf"], { to: 1 }),
        node("lin", "Mul", ["plf", "w"], ["a"]),
        node("sq", "Mul", ["plf", "plf"], ["p2"]),
        node("quad", "Mul", ["p2", "u"], ["b"]),
        node("sum", "Add", ["a", "b"], ["off"]),
      ],
      { w: f32(w, [D]), u: f32(u, [D]) },
    );
    expectMatches(
      m,
      ref((p) => w.map((x, i) => Math.fround(p * x) + Math.fround(Math.fround(p * p) * Math.fround(u[i])))),
      {},
    );
  });

  it("clamped: max(P − 3, 0) (the same at 1 and 2 past tokens), min(P, 3) by a Clip without its min", () => {
    const late = offset(
      [
        node("sub", "Sub", ["pl", "three"], ["d"]),
        node("max", "Max", ["d", "zero"], ["m"]),
        node("cast", "Cast", ["m"], ["off"], { to: 1 }),
      ],
      { three: i64([3], []), zero: i64([0], []) },
    );
    expectMatches(late, ref(fill((p) => Math.max(p - 3, 0))), {});
    const capped = offset([node("clip", "Clip", ["pl", "", "three"], ["c"]), node("cast", "Cast", ["c"], ["off"], { to: 1 })], {
      three: i64([3], []),
    });
    expectMatches(capped, ref(fill((p) => Math.min(p, 3))), {});
    // The same with the Clip's empty input before the one that follows the length: min(3, P) as Clip(3, max = P).
    const bounded = offset([node("clip", "Clip", ["three", "", "pl"], ["c"]), node("cast", "Cast", ["c"], ["off"], { to: 1 })], {
      three: i64([3], []),
    });
    expectMatches(bounded, ref(fill((p) => Math.min(p, 3))), {});
  });

  it("an integer value and a float one in the same graph: a table row at P and P / 2 beside it", () => {
    const m = mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), half: f32([0.5], []), pe: f32(W.positions.slice(0, 12 * D), [12, D]) },
      front: [
        ...pastLength,
        node("row", "Gather", ["pe", "pl"], ["pv"], { axis: 0 }),
        node("add_row", "Add", ["x0", "pv"], ["x1"]),
        node("cast", "Cast", ["pl"], ["plf"], { to: 1 }),
        node("mul", "Mul", ["plf", "half"], ["off"]),
        node("add_pos", "Add", ["x1", "off"], ["x"]),
      ],
    });
    expectMatches(
      m,
      ref((p) => Array.from(W.positions.subarray(p * D, p * D + D), (x) => x + p / 2)),
      {},
    );
  });

  it("a shape that follows the length only between two of the sample lengths: refused by name", () => {
    const range = (limit: OnnxNode[]) =>
      offset(
        [
          ...limit,
          node("range", "Range", ["zero", "lim", "one"], ["cols"]),
          node("cast", "Cast", ["cols"], ["colsf"], { to: 1 }),
          node("sum", "ReduceSum", ["colsf"], ["off"], { keepdims: 0 }),
        ],
        { zero: i64([0], []), one: i64([1], []), two: i64([2], []), three: i64([3], []) },
      );
    const message = "node sum (ReduceSum) reads colsf, whose shape follows the past's length";
    // min(P, 2) columns: 1, 2, 2; max(P − 3, 0) + 1 columns: 1, 1, 3.
    expect(catchSeec(() => run(range([node("min", "Min", ["pl", "two"], ["lim"])])))).toMatchObject({ message, at: "node sum" });
    expect(
      catchSeec(() =>
        run(
          range([
            node("sub", "Sub", ["pl", "three"], ["d"]),
            node("max", "Max", ["d", "zero"], ["m"]),
            node("add", "Add", ["m", "one"], ["lim"]),
          ]),
        ),
      ),
    ).toMatchObject({ message, at: "node sum" });
  });

  it("P² as the element count of a [P, P] tensor: refused, Size reads only a shape", () => {
    const m = offset(
      [
        node("dims", "Concat", ["pl1", "pl1"], ["pp"], { axis: 0 }),
        node("square", "ConstantOfShape", ["pp"], ["sq"]),
        node("size", "Size", ["sq"], ["sz"]),
        node("cast", "Cast", ["sz"], ["off"], { to: 1 }),
      ],
      { axes0: i64([0]) },
    );
    m.nodes.splice(
      m.nodes.findIndex((n) => n.name === "dims"),
      0,
      node("unsq", "Unsqueeze", ["pl", "axes0"], ["pl1"]),
    );
    expect(catchSeec(() => run(m))).toMatchObject({
      code: "unsupported.onnx_decoder",
      message: "node cast (Cast) reads sz, which the graph computes from the past's length other than as pos · a + b",
      at: "node cast",
      file: FILE,
    });
  });
});

describe("the context and the vocabulary, round two", () => {
  const ref = { heads: 2, kvHeads: 2 };
  const identityCaches = (rows: number, half = 2) => ({
    cos: f32(new Float32Array(rows * half).fill(1), [rows, half]),
    sin: f32(new Float32Array(rows * half), [rows, half]),
  });

  it("ONNX RotaryEmbedding (opset 23) with position_ids: the context is its cos cache's rows", () => {
    // cos 1, sin 0: the rotation is the identity. Before, the 9 rows were not counted: the context was
    // 512 and the 10th token failed in the runtime ("token id 9 is outside the vocabulary [0, 9)").
    const m = mha({ num_heads: 2 }, undefined, {
      inputs: [info("position_ids", "int64", [1, "seq"])],
      inits: identityCaches(9),
      front: [node("rope", "RotaryEmbedding", ["x0", "cos", "sin", "position_ids"], ["x"], { num_heads: 2 })],
    });
    const load = expectMatches(m, ref, {});
    expect([load.graph.model.config.contextLength, load.notes]).toEqual([9, []]);
    expect(lowerOnnxDecoder(m, "d", {}, { ...ONE, context: 40 }).notes).toEqual([
      "--context 40 is past the 9 positions the model's tables hold; the context is 9",
    ]);
    // Without position_ids its caches are one row per token of the call, not per position: no table.
    const perToken = mha({ num_heads: 2 }, undefined, {
      inits: { cos: f32([1, 1], [1, 1, 2]), sin: f32([0, 0], [1, 1, 2]) },
      front: [node("rope", "RotaryEmbedding", ["x0", "cos", "sin"], ["x"], { num_heads: 2 })],
    });
    expect(expectMatches(perToken, ref).graph.model.config.contextLength).toBe(16);
  });

  it("two tables: the context is the shorter's rows", () => {
    const m = mha({ num_heads: 2 }, undefined, {
      inputs: [info("position_ids", "int64", [1, "seq"])],
      inits: { ...identityCaches(9), pe: f32(W.positions.slice(0, 12 * D), [12, D]) },
      front: [
        node("pos_embed", "Gather", ["pe", "position_ids"], ["pv"], { axis: 0 }),
        node("add_pos", "Add", ["x0", "pv"], ["x1"]),
        ms("rope", "RotaryEmbedding", ["x1", "position_ids", "cos", "sin"], ["x"], { num_heads: 2 }),
      ],
    });
    const load = expectMatches(m, { ...ref, position: (p) => W.positions.subarray(p * D, p * D + D) }, {});
    expect(load.graph.model.config.contextLength).toBe(9);
  });

  it("constants read beside the ids or the positions are no tables: a Slice's steps, a vector added to a float position", () => {
    const sliced = mha({ num_heads: 2 }, undefined, {
      ids: [node("ids", "Slice", ["input_ids", "s0", "s1", "ax", "st"], ["ids"])],
      inits: { s0: i64([0]), s1: i64([1]), ax: i64([1]), st: i64([1]) },
    });
    const load = expectMatches(sliced, ref);
    expect([load.graph.model.config.contextLength, load.graph.model.config.vocabSize]).toEqual([16, V]);
    // x + (w + P / 2): w [8] is read with the position, not indexed by it.
    const w = [0.5, -0.5, 0, 1, 0, 0, 0.25, 0];
    const added = mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), half: f32([0.5], []), w: f32(w, [D]) },
      front: [
        node("pshape", "Shape", ["past_key"], ["ps"]),
        node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
        node("cast", "Cast", ["pl"], ["plf"], { to: 1 }),
        node("mul", "Mul", ["plf", "half"], ["ph"]),
        node("plus", "Add", ["w", "ph"], ["off"]),
        node("add_pos", "Add", ["x0", "off"], ["x"]),
      ],
    });
    const a = expectMatches(added, { ...ref, position: (p) => w.map((x) => x + p / 2) }, {});
    expect(a.graph.model.config.contextLength).toBe(DEFAULT_DECODER_CONTEXT);
  });

  it("a position value chosen by a constant condition (Where(keep, P / 2, 0)) is no table", () => {
    const keep = [1, 0, 1, 0, 1, 0, 1, 0];
    const m = mha({ num_heads: 2 }, undefined, {
      inits: { two_s: i64([2], []), half: f32([0.5], []), keep: tensor("bool", [D], keep) },
      front: [
        node("pshape", "Shape", ["past_key"], ["ps"]),
        node("plen", "Gather", ["ps", "two_s"], ["pl"], { axis: 0 }),
        node("cast", "Cast", ["pl"], ["plf"], { to: 1 }),
        node("mul", "Mul", ["plf", "half"], ["ph"]),
        node("zx", "Sub", ["x0", "x0"], ["z"]),
        node("gate", "Where", ["keep", "ph", "z"], ["off"]),
        node("add_pos", "Add", ["x0", "off"], ["x"]),
      ],
    });
    const load = expectMatches(m, { ...ref, position: (p) => keep.map((k) => (k ? p / 2 : 0)) }, {});
    expect(load.graph.model.config.contextLength).toBe(DEFAULT_DECODER_CONTEXT);
  });

  it("the vocabulary through an Unsqueeze and a Squeeze, or a Flatten, of the ids; not a comparison of them", () => {
    const through = (ids: OnnxNode[], inits: Record<string, OnnxTensor> = {}) =>
      expectMatches(mha({ num_heads: 2 }, undefined, { ids, inits }), ref).graph.model.config.vocabSize;
    expect(
      through([node("unsq", "Unsqueeze", ["input_ids", "axes"], ["ids3"]), node("sq", "Squeeze", ["ids3", "axes"], ["ids"])], {
        axes: i64([0]),
      }),
    ).toBe(V);
    expect(through([node("flat", "Flatten", ["input_ids"], ["ids"], { axis: 1 })])).toBe(V);
    // A padding test on the ids (pad = 7, never fed) before the embedding: the embedding is still the Gather.
    const padded = mha({ num_heads: 2 }, undefined, {
      inits: { pad: i64([7]), zrow: f32(new Float32Array(D), [D]) },
      front: [
        node("is_pad", "Equal", ["pad", "input_ids"], ["isp"]),
        node("unsq", "Unsqueeze", ["isp", "axes"], ["isp3"]),
        node("where", "Where", ["isp3", "zrow", "x0"], ["x"]),
      ],
    });
    padded.initializers.set("axes", i64([2]));
    const nodes = padded.nodes;
    nodes.unshift(
      ...nodes.splice(
        nodes.findIndex((n) => n.name === "is_pad"),
        1,
      ),
    );
    expect(expectMatches(padded, ref).graph.model.config.vocabSize).toBe(V);
  });

  it("tokens and pos as the runtime feeds them: one int32 each", () => {
    const load = expectMatches(mha(), ref);
    expect([load.graph.values.get("tokens"), load.graph.values.get("pos")].map((v) => [v!.shape, v!.dtype])).toEqual([
      [[1], "i32"],
      [[1], "i32"],
    ]);
  });

  it("a cached attention's shape refusals name the node seec wrote in the attention's place", () => {
    const e = catchSeec(() => run(mha({ num_heads: 3 })));
    expect({ code: e.code, message: e.message, at: e.at, file: e.file }).toEqual({
      code: "unsupported.onnx_op",
      message: "q's 8 features do not split into 3 heads",
      at: "node mha/cached (CachedAttention)",
      file: FILE,
    });
  });
});
