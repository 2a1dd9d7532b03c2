// composeCopies: a copy of a copy where either is a plain reshape becomes one copy, with the
// outputs of the graph before it, on the interpreter and compiled. The chains imported graphs write:
// Reshape then Transpose (split heads), Transpose then Reshape (merge them), and longer ones; what
// must stay two copies: two transposes, a middle tensor read twice or that is a graph output.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { stridesOf } from "../../compiler/ir/ops/tensor.js";
import { composeCopies } from "../../compiler/passes/compose-copies.js";
import { compileAndLoad } from "../helpers/compile.js";
import { randomF32 } from "../helpers/random.js";

type Step = { reshape: number[] } | { perm: number[] };

/** x [2, 4, 3] through the steps, each a Copy as the ONNX frontend writes it; `extra` adds a second reader of step 0, or makes it an output. */
function chain(steps: Step[], extra?: "reader" | "output"): Graph {
  const b = new GraphBuilder("copies", { family: "graph", config: {} });
  let t = b.input("x", "f32", [2, 4, 3]);
  let shape = [2, 4, 3];
  steps.forEach((s, i) => {
    if ("reshape" in s) {
      t = b.node("Copy", `c${i}`, [t], { shape: s.reshape, strides: stridesOf(s.reshape), offset: 0 });
      shape = s.reshape;
    } else {
      const strides = stridesOf(shape);
      t = b.node("Copy", `c${i}`, [t], { shape: s.perm.map((p) => shape[p]), strides: s.perm.map((p) => strides[p]), offset: 0 });
      shape = s.perm.map((p) => shape[p]);
    }
  });
  b.output(t);
  if (extra === "reader") b.output(b.node("Tanh", "other", ["c0"]));
  if (extra === "output") b.output("c0");
  return b.finish();
}

const x = randomF32(24, 5);
const outputsOf = (g: Graph) =>
  Object.fromEntries(Object.entries(new Interpreter(g).run({ x })).map(([k, v]) => [k, [v.shape, Array.from(v.data)]]));

describe("composeCopies", () => {
  it.each([
    ["split heads: a reshape, then a transpose", [{ reshape: [2, 4, 1, 3] }, { perm: [0, 2, 1, 3] }], 1],
    ["merge heads: a transpose, then a reshape", [{ perm: [1, 0, 2] }, { reshape: [4, 6] }], 1],
    ["reshape, transpose, reshape", [{ reshape: [8, 3] }, { perm: [1, 0] }, { reshape: [24] }], 1],
    ["two reshapes", [{ reshape: [8, 3] }, { reshape: [6, 4] }], 1],
    [
      "a transpose that moves only a dimension of one (a reshape)",
      [{ reshape: [2, 4, 1, 3] }, { perm: [0, 2, 1, 3] }, { perm: [1, 0, 2, 3] }],
      1,
    ],
  ] as [string, Step[], number][])("%s: one copy, the same outputs", (_, steps, copies) => {
    const before = chain(steps);
    const { graph, composed } = composeCopies(before);
    expect(composed).toBe(steps.length - copies);
    expect(graph.nodes.map((n) => [n.op, n.inputs[0]])).toEqual([["Copy", "x"]]);
    expect(graph.values.size).toBe(2);
    expect(outputsOf(graph)).toEqual(outputsOf(before));
  });

  it.each([
    ["two transposes", [{ perm: [1, 0, 2] }, { perm: [0, 2, 1] }], undefined],
    ["a middle tensor read twice", [{ reshape: [8, 3] }, { perm: [1, 0] }], "reader"],
    ["a middle tensor that is a graph output", [{ reshape: [8, 3] }, { perm: [1, 0] }], "output"],
  ] as [string, Step[], "reader" | "output" | undefined][])("not: %s", (_, steps, extra) => {
    const before = chain(steps, extra);
    const { graph, composed } = composeCopies(before);
    expect(composed).toBe(0);
    expect(graph).toBe(before);
  });

  it("compiled, gives the interpreter's outputs (a stored shape other than the read box)", async () => {
    const before = chain([{ reshape: [8, 3] }, { perm: [1, 0] }, { reshape: [3, 2, 4] }, { perm: [2, 1, 0] }, { reshape: [24] }]);
    const { graph, composed } = composeCopies(before);
    expect([composed, graph.nodes.length]).toEqual([3, 2]);
    expect(graph.nodes[0].attrs.outShape).toEqual([3, 2, 4]);
    const model = await compileAndLoad(graph);
    const want = new Interpreter(before).run({ x });
    const out = graph.outputs[0];
    const got = (await model.run({ x }))[out];
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want[out].data as Float32Array));
    model.dispose();
  });
});
