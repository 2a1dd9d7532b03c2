// Model-local functions (ModelProto.functions): each call inlined as ONNX Runtime inlines it — formal
// names to the call's, attributes by reference, calls inside a body, outputs nothing reads, two
// calls of one function whose values must not collide — checked against onnxruntime-node running
// the same file; and the refusals: a function that calls itself, a call with more inputs than its
// function takes, a body read at another opset than the graph's.
import { describe, expect, it } from "vitest";
import onnxProto from "onnx-proto";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tensor } from "../../compiler/frontends/onnx/tensor.js";
import { rejectsSeec } from "../helpers/errors.js";
import { graphBytes, weights, writeGraph, type GraphSpec } from "../helpers/onnx-model.js";
import { randomF32 } from "../helpers/random.js";

const { onnx } = onnxProto;
type FunctionProto = import("onnx-proto").onnx.IFunctionProto;
const FLOAT = onnx.AttributeProto.AttributeType.FLOAT;

/** Affine(x, w, b) → y = LeakyRelu(x·w + b, alpha) · scale, with aux = x·w: two attributes by reference. */
const affine: FunctionProto = {
  name: "Affine",
  domain: "local",
  input: ["x", "w", "b"],
  output: ["y", "aux"],
  attribute: ["alpha", "scale"],
  opsetImport: [{ domain: "", version: 18 }],
  node: [
    { opType: "MatMul", input: ["x", "w"], output: ["aux"] },
    { opType: "Add", input: ["aux", "b"], output: ["t"] },
    { opType: "LeakyRelu", input: ["t"], output: ["u"], attribute: [{ name: "alpha", type: FLOAT, refAttrName: "alpha" }] },
    { opType: "Constant", input: [], output: ["s"], attribute: [{ name: "value_float", type: FLOAT, refAttrName: "scale" }] },
    { opType: "Mul", input: ["u", "s"], output: ["y"] },
  ],
};

/** Block(x, w, b) → Affine twice, inside: a call in a body, one attribute passed on by reference and one written. */
const block: FunctionProto = {
  name: "Block",
  domain: "local",
  input: ["x", "w", "b"],
  output: ["y"],
  attribute: ["slope"],
  opsetImport: [
    { domain: "", version: 18 },
    { domain: "local", version: 1 },
  ],
  node: [
    {
      opType: "Affine",
      domain: "local",
      input: ["x", "w", "b"],
      output: ["h", "hx"],
      attribute: [
        { name: "alpha", type: FLOAT, refAttrName: "slope" },
        { name: "scale", type: FLOAT, f: 0.5 },
      ],
    },
    {
      opType: "Affine",
      domain: "local",
      input: ["h", "w", "b"],
      output: ["y", "yx"],
      attribute: [
        { name: "alpha", type: FLOAT, f: 0.3 },
        { name: "scale", type: FLOAT, f: 2 },
      ],
    },
  ],
};

/** x [2, 4] through Block twice (slopes 0.1 and 0.2), and Affine once with both outputs read. */
const GRAPH: GraphSpec = {
  nodes: [
    { op: "Block", domain: "local", inputs: ["x", "w", "b"], outputs: ["h"], attrs: { slope: { f: 0.1 } } },
    { op: "Block", domain: "local", inputs: ["h", "w", "b"], outputs: ["y"], attrs: { slope: { f: 0.2 } } },
    { op: "Affine", domain: "local", inputs: ["x", "w", "b"], outputs: ["z", "zx"], attrs: { alpha: { f: 0.05 }, scale: { f: 3 } } },
  ],
  inputs: { x: [2, 4] },
  constants: { w: weights([4, 4], 3), b: weights([4], 4) },
  outputs: ["y", "z", "zx"],
};

/** The graph's bytes with the functions put in (and their domain imported). */
function withFunctions(g: GraphSpec, functions: FunctionProto[]): Uint8Array {
  const model = onnx.ModelProto.decode(graphBytes(g));
  model.functions = functions.map((f) => onnx.FunctionProto.create(f));
  return onnx.ModelProto.encode(model).finish();
}

describe("ONNX model-local functions", () => {
  it("inlines every call as ONNX Runtime does: nested calls, attributes by reference, outputs nothing reads", async () => {
    const bytes = withFunctions(GRAPH, [affine, block]);
    const model = await readOnnx(await writeGraph(bytes));
    // Each call's values are its own: two Blocks, four Affines inside them and one outside, five nodes each.
    expect(model.nodes).toHaveLength(25);
    expect(new Set(model.nodes.flatMap((n) => n.outputs)).size).toBe(25);
    expect(model.nodes.find((n) => n.op === "LeakyRelu")!.name).toBe("n0/Affine_0/LeakyRelu_2");
    const x = Float32Array.from(randomF32(8, 9));
    const ours = evaluateOnnx(model, new Map([["x", tensor("float32", [2, 4], x)]]));
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
    const theirs = await session.run({ x: new ort.Tensor("float32", x, [2, 4]) });
    for (const name of ["y", "z", "zx"]) {
      const want = theirs[name].data as Float32Array,
        got = ours.get(name)!.data;
      expect(ours.get(name)!.shape).toEqual([...theirs[name].dims]);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${name}[${i}]`).toBeLessThan(1e-6);
    }
  });

  it("refuses a function that calls itself, naming the call", async () => {
    const loop: FunctionProto = {
      ...affine,
      name: "Loopy",
      node: [{ opType: "Loopy", domain: "local", input: ["x", "w", "b"], output: ["y"] }],
    };
    const g: GraphSpec = { ...GRAPH, nodes: [{ op: "Loopy", domain: "local", inputs: ["x", "w", "b"], outputs: ["y"] }], outputs: ["y"] };
    const e = await rejectsSeec(async () => readOnnx(await writeGraph(withFunctions(g, [loop]))));
    expect(e.code).toBe("input.onnx");
    expect(e.message).toContain("function local:Loopy calls itself (64 calls deep");
  });

  it("refuses a call with more inputs than its function takes", async () => {
    const g: GraphSpec = {
      ...GRAPH,
      nodes: [{ op: "Affine", domain: "local", inputs: ["x", "w", "b", "b"], outputs: ["y"] }],
      outputs: ["y"],
    };
    const e = await rejectsSeec(async () => readOnnx(await writeGraph(withFunctions(g, [affine]))));
    expect(e.message).toBe("node n0 calls Affine with 4 inputs and 1 outputs; it takes 3 and gives 2");
    expect(e.at).toBe("node n0");
  });

  it("refuses a body written for another opset of a domain than the graph's (unsupported.onnx_function)", async () => {
    const old: FunctionProto = { ...affine, opsetImport: [{ domain: "", version: 13 }] };
    const e = await rejectsSeec(async () => readOnnx(await writeGraph(withFunctions(GRAPH, [old, block]))));
    expect(e.code).toBe("unsupported.onnx_function");
    expect(e.message).toBe("function local:Affine imports opset 13 of ai.onnx, the graph opset 18: seec reads one version of a domain");
  });

  it("keeps a model without functions as it was", async () => {
    const model = await readOnnx(
      await writeGraph(graphBytes({ ...GRAPH, nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"] }], outputs: ["y"] })),
    );
    expect(model.nodes.map((n) => `${n.name} ${n.op}`)).toEqual(["n0 MatMul"]);
  });
});
