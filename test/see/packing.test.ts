// An encoder's sentences packed into one pass (compiler/see/packing.ts) compute what one pass per
// sentence does: USE-Lite's sentence embeddings and the gradients into the embedding rows and the
// norms' weights, on the interpreter and on the SIMD kernels (both checked against the unpacked
// interpreter, the reference).
import { beforeAll, describe, expect, it } from "vitest";
import { backward, forward } from "../../compiler/ir/autodiff.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import type { OpDef } from "../../compiler/ir/ops/index.js";
import { loadModel, type LoadedModel } from "../../compiler/frontends/load.js";
import { fastOps } from "../../compiler/see/distill-tasks.js";
import { Packing, unpackable } from "../../compiler/see/packing.js";
import { wasmTrainingKernels } from "../../targets/wasm/train-kernels.js";
import { maxRelDiff, randomF32 } from "../helpers/random.js";
import { USE_MODEL_JSON } from "../helpers/use-lite.js";

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel({ model: USE_MODEL_JSON });
});

describe("packed encoder passes", () => {
  // Three sentences of different lengths, one of a single token; ids from the vocabulary's range.
  const sentences = [
    Int32Array.of(5, 17, 300, 42, 7, 1999, 64),
    Int32Array.of(8001),
    Int32Array.of(12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24),
  ];

  it.each([
    ["the interpreter", false],
    ["the SIMD kernels", true],
  ])("on %s: the same embeddings, and the same gradients into the looked-up rows and a norm", async (_, onKernels) => {
    const graph = model.graph;
    const input = graph.inputs[0],
      output = graph.outputs[0];
    const rows = graph.nodes.find((n) => n.op === "Gather")!.outputs[0];
    const norm = "layers.1.ffn_norm.weight";
    const seedOf = (i: number) => randomF32(512, 100 + i);

    // The reference: one pass per sentence on the plain interpreter.
    const one = new Interpreter(graph);
    const alone = sentences.map((ids, i) => {
      const tape = forward(one, { [input]: ids });
      const grads = backward(tape, { [output]: seedOf(i) }, [rows, norm]);
      return { y: tape.env.get(output)!.data as Float32Array, dRows: grads.get(rows)!, dNorm: grads.get(norm)! };
    });

    const packing = new Packing();
    const base: Partial<Record<string, OpDef>> = onKernels ? fastOps(await wasmTrainingKernels()) : {};
    const packed = new Interpreter(graph, packing.ops(base));
    const tape = forward(packed, { [input]: packing.pack(sentences) });
    const ys = packing.split(tape.env.get(output)!.data as Float32Array, 1);
    const seed = new Float32Array(3 * 512);
    sentences.forEach((_, i) => seed.set(seedOf(i), i * 512));
    const grads = backward(tape, { [output]: seed }, [rows, norm]);
    const dRows = packing.split(grads.get(rows)!);

    // Measured: on the interpreter embeddings and rows identical, the norm's gradient (summed over
    // the sentences in another order) 3.2e-7 apart; on the kernels 2.4e-6 (the matmuls sum in f32,
    // their blocks of four tokens falling elsewhere in a packed pass).
    const tol = onKernels ? 1e-5 : 1e-6;
    sentences.forEach((_, i) => {
      expect(maxRelDiff(ys[i], alone[i].y)).toBeLessThanOrEqual(tol);
      expect(maxRelDiff(dRows[i], alone[i].dRows)).toBeLessThanOrEqual(tol);
    });
    const dNorm = new Float32Array(512);
    for (const a of alone) a.dNorm.forEach((g, j) => (dNorm[j] += g));
    expect(maxRelDiff(grads.get(norm)!, dNorm)).toBeLessThanOrEqual(tol);
  });

  it("packs only graphs whose other ops are row-wise: USE-Lite does; a LastRow (pooling by the last token) would mix sentences", () => {
    expect(unpackable(model.graph)).toBeUndefined();
    const last = { op: "LastRow", name: "last", inputs: ["layers.1.ffn.residual"], outputs: ["last"], attrs: {} };
    expect(unpackable({ ...model.graph, nodes: [...model.graph.nodes, last] as typeof model.graph.nodes })).toBe("LastRow");
  });
});
