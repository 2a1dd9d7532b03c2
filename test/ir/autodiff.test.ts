// Reverse mode over the IR (compiler/ir/autodiff.ts) on a small graph, against central differences:
// gradients that add up where a tensor is read twice, constants as well as inputs, zeros for what
// the seeds do not reach, nodes off the path to what trains left alone (even without a rule), the
// caller's seeds untouched, and the refusals by name.
import { describe, expect, it } from "vitest";
import { backward, dependents, forward } from "../../compiler/ir/autodiff.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { catchSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";

const X = randomF32(6, 1),
  W = randomF32(12, 2),
  X2 = randomF32(6, 3),
  SEED = randomF32(8, 4);

/** s = 2·tanh(x·wᵀ) (a tensor read twice), beside p = x2·x2ᵀ (a MatMul, which has no gradient rule). */
function graph(matmulOnPath = false) {
  const b = new GraphBuilder("autodiff", { family: "encoder", config: {} });
  const x = b.input("x", "f32", [2, 3]);
  const x2 = b.input("x2", "f32", [2, 3]);
  const w = b.constant("w", Float32Array.from(W), [4, 3]);
  const h = b.node("Linear", "h", [x, w]);
  const a = b.node("Tanh", "a", [h]);
  b.output(b.node("Add", "s", [a, a]));
  const t = b.node("Copy", "x2t", [x2], { shape: [3, 2], strides: [1, 3], offset: 0 });
  b.output(b.node("MatMul", "p", [matmulOnPath ? x : x2, t]));
  return b.finish();
}

/** Σ seed · s, in float64 from float32 inputs. */
function loss(x: Float32Array, w: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 4; j++) {
      let h = 0;
      for (let k = 0; k < 3; k++) h += x[i * 3 + k] * w[j * 3 + k];
      sum += SEED[i * 4 + j] * 2 * Math.tanh(h);
    }
  return sum;
}

function numeric(which: "x" | "w"): number[] {
  const base = which === "x" ? X : W;
  return Array.from(base, (_, i) => {
    const up = Float32Array.from(base),
      down = Float32Array.from(base);
    up[i] += 1e-3;
    down[i] -= 1e-3;
    const at = (v: Float32Array) => (which === "x" ? loss(v, W) : loss(X, v));
    return (at(up) - at(down)) / 2e-3;
  });
}

describe("backward", () => {
  it("gives the loss's gradient with respect to an input and a constant, a tensor read twice counted twice", () => {
    const tape = forward(new Interpreter(graph()), { x: X, x2: X2 });
    const seed = Float32Array.from(SEED);
    const grads = backward(tape, { s: seed }, ["x", "w"]);
    for (const which of ["x", "w"] as const) {
      const want = numeric(which);
      const got = Array.from(grads.get(which)!);
      expect(got).toHaveLength(want.length);
      got.forEach((g, i) => expect(g, `${which}[${i}]`).toBeCloseTo(want[i], 3));
    }
    expect(seed).toEqual(SEED);
  });

  it("gives zeros for what the seeds do not reach, and leaves nodes off the path alone (a MatMul has no rule)", () => {
    const tape = forward(new Interpreter(graph()), { x: X, x2: X2 });
    const grads = backward(tape, { s: Float32Array.from(SEED) }, ["x2", "x"]);
    expect([...grads.keys()]).toEqual(["x2", "x"]);
    expect(Array.from(grads.get("x2")!)).toEqual(new Array(6).fill(0));
    expect(Array.from(grads.get("x")!).some((g) => g !== 0)).toBe(true);
    // A seed on a tensor nothing asked for depends on: ignored.
    expect(Array.from(backward(tape, { p: new Float32Array(4).fill(1) }, ["x"]).get("x")!)).toEqual(new Array(6).fill(0));
    expect([...dependents(graph(), ["x"])].sort()).toEqual(["a", "h", "s", "x"]);
  });

  it("refuses an op without a gradient rule between the loss and what trains, naming the node", () => {
    const tape = forward(new Interpreter(graph(true)), { x: X, x2: X2 });
    const e = catchSeec(() => backward(tape, { p: new Float32Array(4).fill(1) }, ["x"]));
    expect([e.code, e.message, e.at, e.hint]).toEqual([
      "unsupported.gradient",
      "MatMul has no gradient rule, and node p lies between the loss and what trains",
      "node p",
      "seec distils through the ops its llama2.c, GGUF and TF.js frontends write: distil the model an ONNX graph was exported from",
    ]);
    const missing = catchSeec(() => backward(tape, { s: Float32Array.from(SEED) }, ["nope"]));
    expect([missing.code, missing.message]).toEqual(["internal.ir", 'tensor "nope" is not in graph autodiff']);
  });
});
