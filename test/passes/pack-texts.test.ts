// packTexts: a small encoder shaped like USE-Lite packs several texts a call, and gives each text
// what a call of its own gives: on the reference interpreter (the ops' per-text semantics) and
// compiled for the SIMD targets (kernels/per-text.ts), empty texts included; graphs it cannot
// prove right to pack are left as they are.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { writeArtifact } from "../../compiler/artifact.js";
import { compileArtifact } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { packTexts } from "../../compiler/passes/pack-texts.js";
import { poolEarly } from "../../compiler/passes/pool-early.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";
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
