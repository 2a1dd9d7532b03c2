// poolEarly: a mean over the rows moves ahead of the Adds and (Q)Linears that only feed it, and the
// result is the same, on the reference interpreter and compiled, with no rows at all included; the
// pool of a tensor added to itself, of a Relu or of a Linear with fused attributes stays as it is.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { poolEarly } from "../../compiler/passes/pool-early.js";
import { compileAndLoad } from "../helpers/compile.js";
import { encoderTail } from "../helpers/encoder-tail.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

describe("poolEarly", () => {
  it("pools before the Add and the Linear that only the pool reads, and stops at what others read or what is not affine", () => {
    const { graph, moved } = poolEarly(encoderTail());
    expect(moved).toBe(2);
    expect(graph.nodes.map((n) => `${n.op} ${n.name}`)).toEqual([
      "Linear residual",
      "Linear conv1",
      "Relu relu",
      "MeanLinear conv2.mean",
      "MeanRows residual.mean",
      "Add pool",
      "Tanh out",
    ]);
    expect(graph.values.has("sum")).toBe(false);
    expect(graph.values.has("conv2")).toBe(false);
    for (const name of ["conv2.mean", "residual.mean"])
      expect(graph.values.get(name)).toEqual({ name, kind: "activation", dtype: "f32", shape: [1, 6] });
  });

  /** out = MeanRows(body(h)), h = Linear(x): [T ≤ 5, 3] -> [T, 4]. */
  function pooledOver(body: (b: GraphBuilder, h: string) => string) {
    const b = new GraphBuilder("pooled", { family: "encoder", config: {} });
    b.dim("T", 5);
    const h = b.node("Linear", "h", [b.input("x", "f32", ["T", 3]), b.constant("w", randomF32(12, 1), [4, 3])]);
    b.output(b.node("MeanRows", "out", [body(b, h)]));
    return b.finish();
  }

  it("pools an Add's operands one by one, keeping the pool of each that goes no further", () => {
    const { graph, moved } = poolEarly(
      pooledOver((b, h) => b.node("Add", "sum", [b.node("Add", "twice", [h, h]), b.node("Relu", "relu", [h])])),
    );
    expect(moved).toBe(1);
    expect(graph.nodes.map((n) => `${n.op} ${n.name} (${n.inputs.join(", ")})`)).toEqual([
      "Linear h (x, w)",
      "Add twice (h, h)",
      "Relu relu (h)",
      "MeanRows twice.mean (twice)",
      "MeanRows relu.mean (relu)",
      "Add out (twice.mean, relu.mean)",
    ]);
  });

  it.each([
    ["an Add of a tensor to itself", (b: GraphBuilder, h: string) => b.node("Add", "twice", [h, h])],
    ["a Relu", (b: GraphBuilder, h: string) => b.node("Relu", "relu", [h])],
    [
      "a Linear with a fused activation",
      (b: GraphBuilder, h: string) => b.node("Linear", "act", [h, b.constant("w2", randomF32(8, 2), [2, 4])], { activation: "relu" }),
    ],
  ])("leaves the pool of %s, and the graph, as they are", (_what, body) => {
    const before = pooledOver(body);
    const { graph, moved } = poolEarly(before);
    expect(moved).toBe(0);
    expect(graph).toBe(before);
    expect(graph.nodes.map((n) => n.op).at(-1)).toBe("MeanRows");
  });

  it("pools int8 weights the same way: MeanRows(QLinear) becomes MeanQLinear", () => {
    const { graph, moved } = poolEarly(encoderTail({ int8: true }));
    expect(moved).toBe(2);
    expect(graph.nodes.map((n) => n.op)).toEqual(["QLinear", "QLinear", "Relu", "MeanQLinear", "MeanRows", "Add", "Tanh"]);
  });

  it.each([false, true])("gives the interpreter's outputs for 0, 1 and 9 rows (int8: %s)", (int8) => {
    const before = new Interpreter(encoderTail({ int8 })),
      after = new Interpreter(poolEarly(encoderTail({ int8 })).graph);
    for (const T of [0, 1, 9]) {
      const x = randomF32(T * 13, T + 10);
      expect(maxAbsDiff(after.run({ x }).out.data, before.run({ x }).out.data)).toBeLessThan(1e-6);
    }
  });

  // int8 on SIMD: each QLinear rounds its input rows to 1/32767 of their largest value
  // (kernels/linear-q8.ts); through three matmuls that moves these outputs by about 1e-4.
  it.each([
    ["wasm-simd", false, 2e-6],
    ["wasm-relaxed", false, 2e-6],
    ["wasm", false, 2e-6],
    ["wasm-simd", true, 5e-4],
    ["wasm-relaxed", true, 2e-2], // its int8 kernel rounds them to 1/63 (kernels-relaxed/linear-q8s.ts)
    ["wasm", true, 2e-6],
  ] as const)(
    "%s: the compiled MeanLinear (int8: %s) gives the unpooled graph's outputs for 0, 1 and 9 rows",
    async (target, int8, tolerance) => {
      const model = await compileAndLoad(encoderTail({ int8 }), target);
      expect(model.manifest.outputs[0].shape).toEqual([1, 6]);
      expect(model.manifest.memory.scratch !== undefined).toBe(int8 && target !== "wasm");
      const ref = new Interpreter(encoderTail({ int8 }));
      for (const T of [0, 1, 9]) {
        const x = randomF32(T * 13, T + 10);
        expect(maxAbsDiff((await model.run({ x })).out as Float32Array, ref.run({ x }).out.data)).toBeLessThan(tolerance);
      }
    },
  );
});
