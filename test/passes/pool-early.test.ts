// poolEarly: a mean over the rows moves ahead of the Adds and Linears that only feed it, and the
// result is the same, on the reference interpreter and compiled, with no rows at all included.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { poolEarly } from "../../compiler/passes/pool-early.js";
import { compileAndLoad } from "../helpers/compile.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

/** USE-Lite's last layer in small (a hidden width of 70 crosses the kernel's 64-column chunks): pool(conv2(relu(conv1(r))) + r). */
function encoderTail() {
  const b = new GraphBuilder("tail", { family: "encoder", config: {} });
  b.dim("T", 9);
  const x = b.input("x", "f32", ["T", 13]);
  const residual = b.node("Linear", "residual", [x, b.constant("wr", randomF32(13 * 6, 1), [6, 13])]);
  const hidden = b.node("Relu", "relu", [b.node("Linear", "conv1", [residual, b.constant("w1", randomF32(6 * 70, 2), [70, 6]), b.constant("b1", randomF32(70, 3), [70])])]);
  const sum = b.node("Add", "sum", [b.node("Linear", "conv2", [hidden, b.constant("w2", randomF32(70 * 6, 4), [6, 70]), b.constant("b2", randomF32(6, 5), [6])]), residual]);
  b.output(b.node("Tanh", "out", [b.node("MeanRows", "pool", [sum])]));
  return b.finish();
}

describe("poolEarly", () => {
  it("pools before the Add and the Linear that only the pool reads, and stops at what others read or what is not affine", () => {
    const { graph, moved } = poolEarly(encoderTail());
    expect(moved).toBe(2);
    expect(graph.nodes.map((n) => `${n.op} ${n.name}`)).toEqual([
      "Linear residual", "Linear conv1", "Relu relu", "MeanLinear conv2.mean", "MeanRows residual.mean", "Add pool", "Tanh out",
    ]);
    expect(graph.values.has("sum")).toBe(false);
    expect(graph.values.has("conv2")).toBe(false);
  });

  it("gives the interpreter's outputs for 0, 1 and 9 rows", () => {
    const before = new Interpreter(encoderTail()), after = new Interpreter(poolEarly(encoderTail()).graph);
    for (const T of [0, 1, 9]) {
      const x = randomF32(T * 13, T + 10);
      expect(maxAbsDiff(after.run({ x }).out.data, before.run({ x }).out.data)).toBeLessThan(1e-6);
    }
  });

  it.each(["wasm-simd", "wasm-relaxed", "wasm"] as const)("%s: the compiled MeanLinear gives the unpooled graph's outputs for 0, 1 and 9 rows", async (target) => {
    const model = await compileAndLoad(encoderTail(), target);
    expect(model.manifest.outputs[0].shape).toEqual([1, 6]);
    const ref = new Interpreter(encoderTail());
    for (const T of [0, 1, 9]) {
      const x = randomF32(T * 13, T + 10);
      expect(maxAbsDiff(model.run({ x }).out as Float32Array, ref.run({ x }).out.data)).toBeLessThan(2e-6);
    }
  });
});
