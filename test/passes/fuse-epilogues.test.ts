// fuseEpilogues: a matmul's following Relu and residual Add become its epilogue, and the outputs
// are the unfused graph's, on the reference interpreter and compiled for every wasm flavour. (The
// graph has an output named "t": the emitted program must not confuse it with forward's T.)
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { fuseEpilogues } from "../../compiler/passes/fuse-epilogues.js";
import { compileAndLoad } from "../helpers/compile.js";
import { epilogueGraph } from "../helpers/epilogues.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

describe("fuseEpilogues", () => {
  it("folds Relu and residual Adds into the matmul before them, and leaves a matmul with two readers or one that is an output", () => {
    const { graph, fused } = fuseEpilogues(epilogueGraph());
    expect(fused).toBe(4);
    const nodes = graph.nodes.map(
      (n) => `${n.op} ${n.name} ${n.inputs.filter((i) => !i.includes(".")).join(",")} -> ${n.outputs.join(",")} ${JSON.stringify(n.attrs)}`,
    );
    expect(nodes).toEqual([
      `Linear p x -> p {}`,
      `Linear a x,p -> s {"residual":1}`, // moved after p, its residual
      `Linear c1 s -> h {"activation":"relu"}`,
      `Linear c2 h,s -> s2 {"activation":"relu","residual":1}`, // s + relu(c2): either operand
      `Linear shared s2 -> shared {}`,
      `Tanh t shared -> t {}`,
      `Add u shared,s2 -> u {}`,
      `Linear g u -> g {}`,
      `Relu gr g -> gr {}`,
    ]);
    for (const gone of ["a", "c1", "c2", "r2"]) expect(graph.values.has(gone)).toBe(false);
  });

  it("fuses QLinear's the same way", () => {
    const { graph, fused } = fuseEpilogues(epilogueGraph({ int8: true }));
    expect(fused).toBe(4);
    expect(graph.nodes.map((n) => n.op)).toEqual(["QLinear", "QLinear", "QLinear", "QLinear", "QLinear", "Tanh", "Add", "QLinear", "Relu"]);
  });

  it.each([false, true])("gives the interpreter's outputs (int8: %s)", (int8) => {
    const before = new Interpreter(epilogueGraph({ int8 })),
      after = new Interpreter(fuseEpilogues(epilogueGraph({ int8 })).graph);
    for (const T of [1, 4, 9]) {
      const x = randomF32(T * 13, T + 20);
      const [want, got] = [before.run({ x }), after.run({ x })];
      for (const out of ["t", "g", "gr"])
        expect(maxAbsDiff(got[out].data, want[out].data), out).toBeLessThan(
          1e-6 * Math.max(1, ...Array.from(want[out].data as Float32Array, Math.abs)),
        );
    }
  });

  // int8 on SIMD rounds each QLinear's input rows to 1/32767 of their largest value (kernels/linear-q8.ts).
  it.each([
    ["wasm-simd", false, 2e-6],
    ["wasm-relaxed", false, 2e-6],
    ["wasm", false, 2e-6],
    ["wasm-simd", true, 5e-4],
    ["wasm-relaxed", true, 5e-4],
    ["wasm", true, 2e-6],
  ] as const)("%s: the compiled epilogues (int8: %s) give the unfused graph's outputs for 1 to 9 rows", async (target, int8, tolerance) => {
    const model = await compileAndLoad(epilogueGraph({ int8 }), target);
    expect(model.manifest.outputs.map((o) => o.name)).toEqual(["t", "g", "gr"]);
    const ref = new Interpreter(epilogueGraph({ int8 }));
    for (const T of [1, 3, 4, 5, 9]) {
      const x = randomF32(T * 13, T + 30);
      const [want, got] = [ref.run({ x }), await model.run({ x })];
      for (const out of ["t", "g", "gr"])
        expect(maxAbsDiff(got[out] as Float32Array, want[out].data), `${out}, T = ${T}`).toBeLessThan(
          tolerance * Math.max(1, ...Array.from(want[out].data as Float32Array, Math.abs)),
        );
    }
  });
});
