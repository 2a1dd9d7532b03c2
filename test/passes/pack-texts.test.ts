// packTexts: a small encoder shaped like USE-Lite packs several texts a call, and gives each text
// what a call of its own gives: on the reference interpreter (the ops' per-text semantics) and
// compiled for the SIMD targets (kernels/per-text.ts), empty texts included; every row-wise op
// packs; graphs it cannot prove right to pack are left as they are, one check at a time.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { writeArtifact } from "../../compiler/artifact.js";
import { compileArtifact } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { q4RowBytes, quantizeQ4Blocks } from "../../compiler/ir/ops/linear-q4.js";
import { DEFAULT_BATCH, packOptions, packTexts, TOKENS_PER_TEXT } from "../../compiler/passes/pack-texts.js";
import { poolEarly } from "../../compiler/passes/pool-early.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { applySee } from "../../compiler/passes/see.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";
import { randomFactors } from "../helpers/see.js";
import { join } from "node:path";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const MAX_LENGTH = 6;

/** tanh(pool(conv2(relu(conv1(a))) + a)) with a = attention(x) + x, x = embed(tokens) + positions: USE-Lite's ops, small. */
function tinyEncoder({ int8 = false, bias = true } = {}): Graph {
  const D = 8;
  const b = new GraphBuilder("tiny-encoder", { family: "encoder", config: { vocabSize: 20, maxLength: MAX_LENGTH } });
  b.dim("T", MAX_LENGTH);
  const w = (name: string, n: number, k: number, seed: number) => b.constant(name, randomF32(n * k, seed), [n, k]);
  const embedded = b.node("Gather", "embed", [w("table", 20, D, 1), b.input("tokens", "i32", ["T"])]);
  const x = b.node("AddRows", "positions", [embedded, w("positions.table", MAX_LENGTH, D, 2)]);
  const [q, k, v] = ["q", "k", "v"].map((n, i) => b.node("Linear", n, [x, w(`${n}.w`, D, D, 3 + i)]));
  const a = b.node("Add", "attention.residual", [b.node("SelfAttention", "attention", [q, k, v], { heads: 2, headDim: 4, scale: 0.5 }), x]);
  const hidden = b.node("Relu", "relu", [
    b.node("Linear", "conv1", [a, w("conv1.w", 12, D, 6), b.constant("conv1.b", randomF32(12, 7), [12])]),
  ]);
  const conv2 = b.node("Linear", "conv2", [hidden, w("conv2.w", D, 12, 8), ...(bias ? [b.constant("conv2.b", randomF32(D, 9), [D])] : [])]);
  b.output(b.node("Tanh", "out", [b.node("MeanRows", "pool", [b.node("Add", "sum", [conv2, a])])]));
  const graph = poolEarly(b.finish()).graph;
  return int8 ? quantizeInt8(graph).graph : graph;
}

const TEXTS = [[3, 4, 5], [], [7], [1, 2, 3, 4, 5, 6], [9, 9], []].map((t) => Int32Array.from(t));

/** Each text through the one-text graph, on the interpreter. */
function oneByOne(graph: Graph): Float32Array[] {
  const one = new Interpreter(graph);
  return TEXTS.map((tokens) => one.run({ tokens }).out.data as Float32Array);
}

const packedFeeds = () => ({
  tokens: Int32Array.from(TEXTS.flatMap((t) => [...t])),
  lengths: Int32Array.from(TEXTS, (t) => t.length),
});

describe("packTexts", () => {
  it("adds lengths [B], hands it to the ops that mix rows, and gives a row of output per text", () => {
    const { graph, packed } = packTexts(tinyEncoder(), { texts: 6, tokens: 24 });
    expect(packed).toBe(true);
    expect(graph.inputs).toEqual(["tokens", "lengths"]);
    expect(graph.dims).toEqual({ T: { max: 24 }, B: { max: 6 } });
    expect(graph.model.batch).toEqual({ texts: 6, tokens: 24 });
    expect(graph.nodes.filter((n) => n.inputs.includes("lengths")).map((n) => n.op)).toEqual([
      "AddRows",
      "SelfAttention",
      "MeanLinear",
      "MeanRows",
    ]);
    expect(graph.values.get("out")!.shape).toEqual(["B", 8]);
    expect(graph.values.get("attention")!.shape).toEqual(["T", 8]);
  });

  it.each([false, true])("on the interpreter, each text's row is what a call of its own gives (int8: %s)", (int8) => {
    const { graph } = packTexts(tinyEncoder({ int8 }), { texts: 6, tokens: 24 });
    const got = new Interpreter(graph).run(packedFeeds()).out;
    expect(got.shape).toEqual([6, 8]);
    oneByOne(tinyEncoder({ int8 })).forEach((want, i) =>
      expect(maxAbsDiff(got.data.subarray(i * 8, (i + 1) * 8), want)).toBeLessThan(1e-6),
    );
  });

  // int8 on SIMD rounds each QLinear's input rows to 1/32767 of their largest (kernels/linear-q8.ts).
  it.each([
    ["wasm-simd", false, 2e-6],
    ["wasm-relaxed", false, 2e-6],
    ["wasm-simd", true, 5e-4],
  ] as const)("%s compiled (int8: %s): each text's row is what a call of its own gives", async (target, int8, tolerance) => {
    const artifact = await compileArtifact({ graph: tinyEncoder({ int8 }), format: "graph" }, { target, batch: 6 });
    expect(artifact.manifest.model.batch).toEqual({ texts: 6, tokens: 192 });
    const dir = join(await tmpDir(), "packed");
    await writeArtifact(dir, artifact.files);
    const out = (await (await loadWasm(dir)).run(packedFeeds())).out as Float32Array;
    expect(out).toHaveLength(6 * 8);
    oneByOne(tinyEncoder({ int8 })).forEach((want, i) =>
      expect(maxAbsDiff(out.subarray(i * 8, (i + 1) * 8), want)).toBeLessThan(tolerance),
    );
  });

  it("leaves alone what it cannot prove right to pack: one text a call asked for, a MeanLinear without its bias, an op that is not per row, a decoder", () => {
    const options = { texts: 6, tokens: 24 };
    expect(packTexts(tinyEncoder(), { texts: 1, tokens: 24 }).packed).toBe(false);
    expect(packTexts(tinyEncoder(), { texts: 6, tokens: MAX_LENGTH - 1 }).packed).toBe(false);
    expect(packTexts(tinyEncoder({ bias: false }), options).packed).toBe(false);
    const softmax = tinyEncoder();
    softmax.nodes.splice(3, 0, { name: "s", op: "Softmax", inputs: ["q"], outputs: ["s"], attrs: { axis: -1 } });
    expect(packTexts(softmax, options).packed).toBe(false);
    const decoder = tinyEncoder();
    expect(packTexts({ ...decoder, model: { ...decoder.model, family: "decoder" } }, options).packed).toBe(false);
  });
});

const [V, D] = [12, 8];
const i8 = (n: number, seed: number) => Int8Array.from(randomF32(n, seed, 127), Math.round);

/**
 * Every row-wise op but those tinyEncoder has, on tokens [T ≤ 5]: an entangled embedding (SEE) plus
 * a QGather, LayerNorm, RMSNorm, Linear, QLinear, Q4Linear, SwiGLU(Relu, Tanh), the tied head over
 * an EntangledTable, MeanRows and L2Normalize.
 */
function everyRowWiseOp(): Graph {
  const b = new GraphBuilder("rows", { family: "encoder", config: { maxLength: MAX_LENGTH } });
  b.dim("T", MAX_LENGTH);
  const tokens = b.input("tokens", "i32", ["T"]);
  const emb = b.constant("emb", new Float32Array(V * D), [V, D]);
  const vec = (name: string, seed: number) => b.constant(name, randomF32(D, seed), [D]);
  const a = b.node("Add", "a", [
    b.node("Gather", "e1", [emb, tokens]),
    b.node("QGather", "e2", [b.constant("tq", i8(V * D, 1), [V, D]), b.constant("ts", randomF32(V, 2, 0.01), [V]), tokens]),
  ]);
  const n1 = b.node("LayerNorm", "n1", [a, vec("lw", 3), vec("lb", 4)], { epsilon: 1e-5 });
  const n2 = b.node("RMSNorm", "n2", [n1, vec("rw", 5)], { epsilon: 1e-5 });
  const l1 = b.node("Linear", "l1", [n2, b.constant("w1", randomF32(D * D, 6), [D, D]), vec("b1", 7)]);
  const l2 = b.node("QLinear", "l2", [
    l1,
    b.constant("qw", i8(D * D, 8), [D, D]),
    b.constant("qs", randomF32(D, 9, 0.01), [D]),
    vec("qb", 10),
  ]);
  const q4 = new Int8Array(quantizeQ4Blocks(randomF32(D * D, 11), D, D).buffer);
  const l3 = b.node("Q4Linear", "l3", [l2, b.constant("q4w", q4, [D, q4RowBytes(D)]), vec("b3", 12)]);
  const s = b.node("SwiGLU", "s", [b.node("Relu", "r", [l3]), b.node("Tanh", "t", [l2])]);
  const pooled = b.node("MeanRows", "pool", [b.node("Linear", "head", [s, emb])]);
  b.output(b.node("L2Normalize", "out", [pooled], { epsilon: 1e-12 }));
  const f = randomFactors(
    {
      vocab: V,
      dim: D,
      rank: 2,
      slots: [
        ["a", 2],
        ["b", 4],
      ],
    },
    13,
  );
  return applySee(b.finish(), f, "materialize");
}

const ROW_TEXTS = [[3, 4, 5], [11], [1, 2, 3, 4, 5], [0, 0]].map((t) => Int32Array.from(t));

/**
 * A graph with one input, tokens [T], that packs (MeanRows(Gather)), with `edit` applied to its builder
 * first; `tokens` the input's shape, `output` which is output: the pool, the embedded rows, or both.
 */
function pooledEmbedding(
  edit: (b: GraphBuilder) => void = () => {},
  { tokens = ["T"] as (string | number)[], output = "pool" } = {},
): Graph {
  const b = new GraphBuilder("pooled", { family: "encoder", config: { maxLength: MAX_LENGTH } });
  b.dim("T", MAX_LENGTH);
  edit(b);
  const x = b.node("Gather", "embed", [b.constant("emb", randomF32(V * D, 1), [V, D]), b.input("tokens", "i32", tokens)]);
  const pool = b.node("MeanRows", "pool", [x]);
  if (output !== "embed") b.output(pool);
  if (output !== "pool") b.output(x);
  return b.finish();
}

describe("packTexts, op by op and check by check", () => {
  it("packs every row-wise op, and each text's row is what a call of its own gives", () => {
    const one = everyRowWiseOp();
    expect(one.nodes.map((n) => n.op)).toEqual([
      "EntangledTable",
      "EntangledEmbedding",
      "QGather",
      "Add",
      "LayerNorm",
      "RMSNorm",
      "Linear",
      "QLinear",
      "Q4Linear",
      "Relu",
      "Tanh",
      "SwiGLU",
      "Linear",
      "MeanRows",
      "L2Normalize",
    ]);
    const { graph, packed } = packTexts(one, { texts: 4, tokens: 16 });
    expect(packed).toBe(true);
    expect(graph.values.get("lengths")).toEqual({ name: "lengths", kind: "input", dtype: "i32", shape: ["B"] });
    const got = new Interpreter(graph).run({
      tokens: Int32Array.from(ROW_TEXTS.flatMap((t) => [...t])),
      lengths: Int32Array.from(ROW_TEXTS, (t) => t.length),
    }).out;
    expect(got.shape).toEqual([4, V]);
    const single = new Interpreter(one);
    ROW_TEXTS.forEach((tokens, i) =>
      expect(maxAbsDiff(got.data.subarray(i * V, (i + 1) * V), single.run({ tokens }).out.data)).toBeLessThan(1e-6),
    );
  });

  it("packs two texts, and exactly the tokens of one text at its longest", () => {
    expect(packTexts(pooledEmbedding(), { texts: 2, tokens: MAX_LENGTH }).graph.model.batch).toEqual({ texts: 2, tokens: MAX_LENGTH });
  });

  it("packOptions: TOKENS_PER_TEXT tokens a text, or the longest text where that is more", () => {
    expect(packOptions(4, 6)).toEqual({ texts: 4, tokens: 4 * TOKENS_PER_TEXT });
    expect(packOptions(2, 100)).toEqual({ texts: 2, tokens: 100 });
    expect(packOptions(DEFAULT_BATCH, 0)).toEqual({ texts: 32, tokens: 32 * 32 });
  });

  const unchanged: [string, () => Graph][] = [
    [
      "no maximum length",
      () => {
        const g = pooledEmbedding();
        return { ...g, model: { ...g.model, config: {} } };
      },
    ],
    ["a second input", () => pooledEmbedding((b) => b.input("extra", "f32", [1]))],
    [
      "no input named tokens",
      () => {
        const g = pooledEmbedding();
        const values = new Map([...g.values].map(([k, v]) => (k === "tokens" ? ["ids", { ...v, name: "ids" }] : [k, v])));
        return {
          ...g,
          values,
          inputs: ["ids"],
          nodes: g.nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => (i === "tokens" ? "ids" : i)) })),
        };
      },
    ],
    [
      "tokens that are a constant",
      () => {
        const g = pooledEmbedding((b) => b.input("ids", "i32", ["T"]));
        const values = new Map(g.values).set("tokens", {
          name: "tokens",
          kind: "const",
          dtype: "i32",
          shape: ["T"],
          data: new Int32Array(MAX_LENGTH),
        });
        return { ...g, values, inputs: ["ids"] };
      },
    ],
    [
      "tokens [T, 1]",
      () => {
        const b = new GraphBuilder("pooled", { family: "encoder", config: { maxLength: MAX_LENGTH } });
        b.dim("T", MAX_LENGTH);
        b.output(b.node("MeanRows", "pool", [b.input("tokens", "f32", ["T", 1])]));
        return b.finish();
      },
    ],
    ["tokens of a static length", () => pooledEmbedding(undefined, { tokens: [MAX_LENGTH] })],
    ["a second dimension", () => pooledEmbedding((b) => b.dim("S", 3))],
    ["a tensor named lengths already", () => pooledEmbedding((b) => b.constant("lengths", new Int32Array(2), [2]))],
    ["an output with a row per token", () => pooledEmbedding(undefined, { output: "embed" })],
    ["a second output, with a row per token", () => pooledEmbedding(undefined, { output: "both" })],
    [
      "a RoPE, whose positions would not restart at each text",
      () => {
        const b = new GraphBuilder("rope", { family: "encoder", config: { maxLength: MAX_LENGTH } });
        b.dim("T", MAX_LENGTH);
        const x = b.node("Gather", "embed", [b.constant("emb", randomF32(V * D, 1), [V, D]), b.input("tokens", "i32", ["T"])]);
        const table = (name: string, seed: number) => b.constant(name, randomF32((MAX_LENGTH * D) / 2, seed), [MAX_LENGTH, D / 2]);
        const rotated = b.node("RoPE", "rope", [x, b.constant("pos", Int32Array.of(0), [1]), table("cos", 2), table("sin", 3)], {
          headDim: D,
          interleaved: 1,
        });
        b.output(b.node("MeanRows", "pool", [rotated]));
        return b.finish();
      },
    ],
  ];
  it.each(unchanged)("leaves the graph as it is: %s", (_, make) => {
    const g = make();
    const result = packTexts(g, { texts: 4, tokens: 16 });
    expect(result.packed).toBe(false);
    expect(result.graph).toBe(g);
  });

  it("leaves a graph whose pooled rows would meet a constant row", () => {
    const b = new GraphBuilder("pooled", { family: "encoder", config: { maxLength: MAX_LENGTH } });
    b.dim("T", MAX_LENGTH);
    const x = b.node("Gather", "embed", [b.constant("emb", randomF32(V * D, 1), [V, D]), b.input("tokens", "i32", ["T"])]);
    b.output(b.node("Add", "out", [b.node("MeanRows", "pool", [x]), b.constant("row", randomF32(D, 2), [1, D])]));
    const g = b.finish();
    expect(new Interpreter(g).run({ tokens: Int32Array.of(1, 2) }).out.shape).toEqual([1, D]);
    const result = packTexts(g, { texts: 4, tokens: 16 });
    expect(result.packed).toBe(false);
    expect(result.graph).toBe(g);
    expect(g.values.get("out")!.shape).toEqual([1, D]);
  });
  it("passes on an error other than the IR's own shape checks (a node reading a tensor the graph lacks)", () => {
    const g = pooledEmbedding();
    const broken = { ...g, nodes: g.nodes.map((n) => (n.op === "MeanRows" ? { ...n, inputs: ["ghost"] } : n)) };
    expect(() => packTexts(broken, { texts: 4, tokens: 16 })).toThrow(TypeError);
  });
});
