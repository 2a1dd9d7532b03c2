// fuseMaps: a Map add of one shape becomes the IR's Add, and g · sigmoid(g) · u (PyTorch's SiLU-gated
// product) one SwiGLU — on IR graphs (interpreter outputs unchanged, near misses left alone), and
// through loadOnnx as a build reads ONNX files, against ONNX Runtime, including graphs built for any
// length, where an operand of one row along T must stay a broadcasting Map.
import { describe, expect, it } from "vitest";
import { loadOnnx } from "../../compiler/frontends/onnx/index.js";
import { tensor } from "../../compiler/frontends/onnx/tensor.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { fuseMaps } from "../../compiler/passes/fuse-maps.js";
import { ortAsWritten } from "../helpers/onnx.js";
import { graphBytes, writeGraph, type GraphSpec } from "../helpers/onnx-model.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

const map = (b: GraphBuilder, fn: string, name: string, inputs: string[]) => b.node("Map", name, inputs, { fn, dtype: "f32" });

interface SwiGluForm {
  swapped?: boolean;
  /** u one row, broadcast over g's four. */
  upRow?: boolean;
  /** The sigmoid of u rather than of g. */
  otherSigmoid?: boolean;
  /** g · sigmoid(g) read again by a Tanh (an output). */
  siluRead?: boolean;
}

function swiGluGraph(o: SwiGluForm = {}): Graph {
  const b = new GraphBuilder("g", { family: "graph", config: {} });
  const g = b.input("g", "f32", [4, 6]);
  const u = b.input("u", "f32", o.upRow ? [1, 6] : [4, 6]);
  const s = map(b, "sigmoid", "s", [o.otherSigmoid ? u : g]);
  const silu = map(b, "mul", "silu", o.swapped ? [s, g] : [g, s]);
  b.output(map(b, "mul", "y", o.swapped ? [u, silu] : [silu, u]));
  if (o.siluRead) b.output(b.node("Tanh", "t", [silu]));
  return b.finish();
}

const feeds = { g: randomF32(24, 3, 4), u: randomF32(24, 4, 2) };
const run = (graph: Graph, inputs: Record<string, Float32Array> = feeds) => new Interpreter(graph).run(inputs);

describe("fuseMaps on IR graphs", () => {
  it.each([false, true])("g · sigmoid(g) · u becomes SwiGLU(g, u), the outputs unchanged (operands swapped: %s)", (swapped) => {
    const before = swiGluGraph({ swapped });
    const { graph, fused } = fuseMaps(before);
    expect(fused).toEqual({ SwiGLU: 1 });
    expect(graph.nodes.map((n) => `${n.op}(${n.inputs.join(", ")}) -> ${n.outputs.join(", ")}`)).toEqual(["SwiGLU(g, u) -> y"]);
    expect([...graph.values.keys()].sort()).toEqual(["g", "u", "y"]);
    expect(maxAbsDiff(run(graph).y.data, run(before).y.data)).toBeLessThan(1e-6);
  });

  it.each([
    ["u a row broadcast over g", { upRow: true }],
    ["the sigmoid of u", { otherSigmoid: true }],
    ["g · sigmoid(g) read again", { siluRead: true }],
  ] as [string, SwiGluForm][])("not: %s", (_, o) => {
    const before = swiGluGraph(o);
    const { graph, fused } = fuseMaps(before);
    expect(fused).toEqual({});
    expect(graph.nodes.map((n) => n.op)).not.toContain("SwiGLU");
  });

  it("a sum of one shape becomes Add; one that broadcasts stays a Map", () => {
    const b = new GraphBuilder("g", { family: "graph", config: {} });
    const [x, r, row] = [b.input("x", "f32", [4, 6]), b.input("r", "f32", [4, 6]), b.input("row", "f32", [1, 6])];
    b.output(map(b, "add", "sum", [x, r]));
    b.output(map(b, "add", "broadcast", [x, row]));
    const before = b.finish();
    const { graph, fused } = fuseMaps(before);
    expect(fused).toEqual({});
    expect(graph.nodes.map((n) => n.op)).toEqual(["Add", "Map"]);
    const inputs = { x: randomF32(24, 5), r: randomF32(24, 6), row: randomF32(6, 7) };
    const [want, got] = [run(before, inputs), run(graph, inputs)];
    for (const out of ["sum", "broadcast"]) expect(Array.from(got[out].data)).toEqual(Array.from(want[out].data));
  });
});

describe("fuseMaps as loadOnnx applies it, against ONNX Runtime", () => {
  /** Lowered as a build reads the file, run at T tokens, held to ONNX Runtime on the same bytes. */
  async function check(spec: GraphSpec, shapes: Parameters<typeof loadOnnx>[2], T: number) {
    const load = await loadOnnx(await writeGraph(spec), "m", shapes);
    const inputs = Object.fromEntries(
      Object.entries(spec.inputs).map(([name, dims], i) => {
        const shape = dims.map((d) => (typeof d === "number" ? d : T));
        return [
          name,
          {
            shape,
            data: randomF32(
              shape.reduce((a, c) => a * c, 1),
              11 + i,
              2,
            ),
          },
        ];
      }),
    );
    const ours = new Interpreter(load.graph).run(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.data])));
    const theirs = await ortAsWritten(
      graphBytes(spec),
      new Map(Object.entries(inputs).map(([k, v]) => [k, tensor("float32", v.shape, Array.from(v.data))])),
    );
    for (const out of spec.outputs) expect(maxAbsDiff(ours[out].data, theirs[out].data as Float32Array), out).toBeLessThan(1e-5);
    return load;
  }

  const swiGlu: GraphSpec = {
    nodes: [
      { op: "Sigmoid", inputs: ["g"], outputs: ["s"] },
      { op: "Mul", inputs: ["g", "s"], outputs: ["silu"] },
      { op: "Mul", inputs: ["silu", "u"], outputs: ["y"] },
      { op: "Add", inputs: ["y", "g"], outputs: ["z"] },
    ],
    inputs: { g: [1, "seq", 8], u: [1, "seq", 8] },
    outputs: ["z"],
  };

  it("fixed shapes: one SwiGLU, reported as fused, and the sum an Add", async () => {
    const load = await check(swiGlu, { g: [1, 3, 8], u: [1, 3, 8] }, 3);
    expect(load.fused).toEqual({ SwiGLU: 1 });
    expect(load.graph.nodes.filter((n) => n.op !== "Copy").map((n) => n.op)).toEqual(["SwiGLU", "Add"]);
  });

  it("built for any length, the same", async () => {
    const load = await check(swiGlu, { g: [1, { max: 8 }, 8], u: [1, { max: 8 }, 8] }, 5);
    expect([load.fused, load.notes]).toEqual([{ SwiGLU: 1 }, [`g's dimension 1 ("seq") stays symbolic (T), from 1 to 8`]]);
  });

  it("built for any length, a sum with one row along T stays a broadcasting Map (it is Add only at one token)", async () => {
    const spec: GraphSpec = {
      nodes: [
        { op: "ReduceMean", inputs: ["x", "axes"], outputs: ["m"] },
        { op: "Add", inputs: ["x", "m"], outputs: ["y"] },
      ],
      inputs: { x: [1, "seq", 4] },
      constants: { axes: { dims: [1], int64: [1] } },
      outputs: ["y"],
    };
    const load = await check(spec, { x: [1, { max: 8 }, 4] }, 5);
    expect(load.notes).toEqual([`x's dimension 1 ("seq") stays symbolic (T), from 1 to 8`]);
    expect(load.graph.nodes.map((n) => n.op)).not.toContain("Add");
  });
});
