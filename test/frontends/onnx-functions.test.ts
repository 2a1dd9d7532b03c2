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

  /** seec's outputs and ONNX Runtime's for the file, on x [4] = [-2, -1, 1, 2] and h [4]: the largest difference. */
  async function againstOrt(bytes: Uint8Array, inputs: string[]): Promise<number> {
    const feeds = { x: Float32Array.of(-2, -1, 1, 2), h: Float32Array.of(-10, -20, 30, 40) };
    const ours = evaluateOnnx(
      await readOnnx(await writeGraph(bytes)),
      new Map(inputs.map((k) => [k, tensor("float32", [4], feeds[k as "x"])])),
    );
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
    const theirs = await session.run(Object.fromEntries(inputs.map((k) => [k, new ort.Tensor("float32", feeds[k as "x"], [4])])));
    const want = theirs.y.data as Float32Array;
    expect(ours.get("y")!.shape).toEqual([...theirs.y.dims]);
    return Math.max(...Array.from(want, (w, i) => Math.abs(ours.get("y")!.data[i] - w)));
  }

  it("a function whose body holds an If: the branches read the call's inputs and attributes, not the graph's own names", async () => {
    // G(x) = If(alpha > 0 in the graph's c): LeakyRelu(x, alpha by reference) or Neg(x); the graph has an x of its own and calls G(h).
    const g: FunctionProto = {
      name: "G",
      domain: "local",
      input: ["x", "c"],
      output: ["y"],
      attribute: ["alpha"],
      opsetImport: [{ domain: "", version: 18 }],
      node: [
        {
          opType: "If",
          input: ["c"],
          output: ["y"],
          attribute: [
            {
              name: "then_branch",
              type: onnx.AttributeProto.AttributeType.GRAPH,
              g: {
                name: "then",
                node: [
                  { opType: "LeakyRelu", input: ["x"], output: ["t"], attribute: [{ name: "alpha", type: FLOAT, refAttrName: "alpha" }] },
                ],
                output: [{ name: "t", type: { tensorType: { elemType: 1 } } }],
              },
            },
            {
              name: "else_branch",
              type: onnx.AttributeProto.AttributeType.GRAPH,
              g: {
                name: "else",
                node: [{ opType: "Neg", input: ["x"], output: ["e"] }],
                output: [{ name: "e", type: { tensorType: { elemType: 1 } } }],
              },
            },
          ],
        },
      ],
    };
    const graph: GraphSpec = {
      nodes: [
        { op: "Constant", inputs: [], outputs: ["c"], attrs: { value: { tensor: { dims: [], bool: [1] } } } },
        { op: "Add", inputs: ["x", "x"], outputs: ["x2"] },
        { op: "G", domain: "local", inputs: ["h", "c"], outputs: ["y"], attrs: { alpha: { f: 0.5 } } },
      ],
      inputs: { x: [4], h: [4] },
      outputs: ["y", "x2"],
    };
    expect(await againstOrt(withFunctions(graph, [g]), ["x", "h"])).toBeLessThan(1e-6);
  });

  it("an attribute the call leaves out takes the function's default (attribute_proto, which onnx-proto's schema lacks)", async () => {
    // F(x) = LeakyRelu(x, alpha by reference), alpha 0.5 by default; the call gives none (LeakyRelu's own default is 0.01).
    const f: FunctionProto = {
      name: "F",
      domain: "local",
      input: ["x"],
      output: ["y"],
      opsetImport: [{ domain: "", version: 18 }],
      node: [{ opType: "LeakyRelu", input: ["x"], output: ["y"], attribute: [{ name: "alpha", type: FLOAT, refAttrName: "alpha" }] }],
    };
    const graph: GraphSpec = { nodes: [{ op: "F", domain: "local", inputs: ["x"], outputs: ["y"] }], inputs: { x: [4] }, outputs: ["y"] };
    // FunctionProto field 11 (attribute_proto) written by hand after the fields onnx-proto writes; the function after the graph (ModelProto field 25).
    const tag = (field: number, bytes: Uint8Array) => {
      const varint = (n: number) => {
        const out: number[] = [];
        for (; n >= 128; n >>>= 7) out.push((n & 127) | 128);
        return [...out, n];
      };
      return Uint8Array.from([...varint(field * 8 + 2), ...varint(bytes.length), ...bytes]);
    };
    const alpha = onnx.AttributeProto.encode({ name: "alpha", type: FLOAT, f: 0.5 }).finish();
    const fn = Uint8Array.from([...onnx.FunctionProto.encode(f).finish(), ...tag(11, alpha)]);
    const bytes = Uint8Array.from([...graphBytes(graph), ...tag(25, fn)]);
    expect(onnx.ModelProto.decode(bytes).functions).toHaveLength(1);
    expect(await againstOrt(bytes, ["x"])).toBeLessThan(1e-7);
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
    expect(e.message).toMatch(/^calls nest 64 deep at node n0(\/Loopy_0)+ \(of local:Loopy\): does a function call itself\?$/);
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
