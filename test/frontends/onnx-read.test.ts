// compiler/frontends/onnx/read.ts on models written here with onnx-proto, as an exporter writes them:
// everything readOnnx returns (nodes, attributes of each type, value infos, opsets, producer, the
// initializers, the nodes' order and names defined twice), external data, and each refusal's code,
// message, file and `at`.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { readOnnx, readTensorFile } from "../../compiler/frontends/onnx/read.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";

const { onnx } = onnxProto;
type Model = import("onnx-proto").onnx.IModelProto;
type Graph = import("onnx-proto").onnx.IGraphProto;
type Tensor = import("onnx-proto").onnx.ITensorProto;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `model` written to model.onnx in a new temporary folder (with `files` beside it). */
async function write(model: Model, files: Record<string, Uint8Array> = {}): Promise<string> {
  const dir = await tmpDir();
  dirs.push(dir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  const file = join(dir, "model.onnx");
  writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

const opset = [{ domain: "", version: 17 }];
const graphOf = (graph: Graph): Model => ({ irVersion: 8, opsetImport: opset, graph });
const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const T = onnx.AttributeProto.AttributeType;

describe("readOnnx: what it returns", () => {
  it("the opsets by domain, the producer, inputs less initializers, outputs' element types and dims, initializers", async () => {
    const file = await write({
      irVersion: 8,
      producerName: "pytorch",
      producerVersion: "2.1.0",
      opsetImport: [
        { domain: "", version: 17 },
        { domain: "com.microsoft", version: 1 },
      ],
      graph: {
        input: [
          {
            name: "x",
            type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "batch" }, { dimValue: 4 }, {}, { dimValue: -1 }] } } },
          },
          // An initializer listed as an input too (older exporters): not an input.
          { name: "w", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } },
          { name: "ids", type: { tensorType: { elemType: 7, shape: { dim: [{ dimValue: 0 }] } } } },
        ],
        output: [
          { name: "y", type: { tensorType: { elemType: 10 } } },
          { name: "s", type: { tensorType: { elemType: 8, shape: { dim: [] } } } },
          { name: "u" },
        ],
        initializer: [
          { name: "w", dataType: 1, dims: [4], floatData: [1, 2, 3, 4] },
          { name: "k", dataType: 7, dims: [2], int64Data: [5, -6] },
        ],
        node: [
          { name: "a", opType: "Add", input: ["x", "w"], output: ["y"] },
          { name: "b", opType: "Identity", input: ["ids"], output: ["s"] },
          { name: "c", opType: "Identity", input: ["k"], output: ["u"] },
        ],
      },
    });
    const m = await readOnnx(file);
    expect(m.file).toBe(file);
    expect([...m.opsets]).toEqual([
      ["", 17],
      ["com.microsoft", 1],
    ]);
    expect(m.producer).toBe("pytorch 2.1.0");
    expect(m.inputs).toEqual([
      { name: "x", elementType: "float", dtype: "float32", dims: ["batch", 4, "", ""] },
      { name: "ids", elementType: "int64", dtype: "int64", dims: [0] },
    ]);
    expect(m.outputs).toEqual([
      { name: "y", elementType: "float16", dtype: "float16", dims: [] },
      { name: "s", elementType: "string", dtype: undefined, dims: [] },
      { name: "u", elementType: "undefined", dtype: undefined, dims: [] },
    ]);
    expect([...m.initializers.keys()]).toEqual(["w", "k"]);
    expect(m.initializers.get("w")).toEqual({ dtype: "float32", shape: [4], data: Float32Array.of(1, 2, 3, 4) });
    expect(m.initializers.get("k")).toEqual({ dtype: "int64", shape: [2], data: Float64Array.of(5, -6) });
  });

  it("the producer's name alone, none, and the opset of a domain written ai.onnx", async () => {
    const named = await readOnnx(await write({ producerName: "tf2onnx", opsetImport: [{ domain: "ai.onnx", version: 13 }], graph: {} }));
    expect(named.producer).toBe("tf2onnx");
    expect([...named.opsets]).toEqual([["", 13]]);
    const anonymous = await readOnnx(await write({ producerVersion: "1.0", opsetImport: [{ version: 11 }], graph: {} }));
    expect(anonymous.producer).toBe("1.0");
    expect([...anonymous.opsets]).toEqual([["", 11]]);
    const none = await readOnnx(await write({ graph: {} }));
    expect(none.producer).toBe("");
    expect([...none.opsets]).toEqual([]);
    expect(none.nodes).toEqual([]);
    expect(none.inputs).toEqual([]);
    expect(none.outputs).toEqual([]);
    expect(none.initializers.size).toBe(0);
  });

  it("each node's name (op_index where it has none), domain (ai.onnx as the default), inputs, outputs and attributes of every type", async () => {
    const file = await write(
      graphOf({
        input: [{ name: "x" }],
        output: [{ name: "z" }],
        node: [
          {
            opType: "Custom",
            domain: "ai.onnx",
            input: ["x", ""],
            output: ["y"],
            attribute: [
              { name: "f", type: T.FLOAT, f: 0.5 },
              { name: "f0", type: T.FLOAT },
              { name: "i", type: T.INT, i: -3 },
              { name: "i0", type: T.INT },
              { name: "s", type: T.STRING, s: new TextEncoder().encode("héllo") },
              { name: "s0", type: T.STRING },
              { name: "fs", type: T.FLOATS, floats: [1.5, -2] },
              { name: "fs0", type: T.FLOATS },
              { name: "is", type: T.INTS, ints: [7, -8] },
              { name: "is0", type: T.INTS },
              { name: "ss", type: T.STRINGS, strings: [new TextEncoder().encode("a"), new TextEncoder().encode("bc")] },
              { name: "ss0", type: T.STRINGS },
              { name: "t", type: T.TENSOR, t: { dataType: 6, dims: [2], int32Data: [3, 4] } },
              { name: "g", type: T.GRAPH, g: { name: "body" } },
              { name: "g0", type: T.GRAPH, g: {} },
              { name: "g1", type: T.GRAPH },
            ],
          },
          { name: "named", opType: "Thing", domain: "com.example", input: ["y"], output: ["z"] },
        ],
      }),
    );
    const m = await readOnnx(file);
    expect(m.nodes).toEqual([
      {
        name: "Custom_0",
        op: "Custom",
        domain: "",
        inputs: ["x", ""],
        outputs: ["y"],
        attrs: {
          f: 0.5,
          f0: 0,
          i: -3,
          i0: 0,
          s: "héllo",
          s0: "",
          fs: [1.5, -2],
          fs0: [],
          is: [7, -8],
          is0: [],
          ss: ["a", "bc"],
          ss0: [],
          t: { dtype: "int32", shape: [2], data: Float64Array.of(3, 4) },
          // A subgraph, read whole (these are empty; an absent one reads as empty).
          g: { graph: "body", body: { nodes: [], inputs: [], outputs: [], initializers: new Map() } },
          g0: { graph: "", body: { nodes: [], inputs: [], outputs: [], initializers: new Map() } },
          g1: { graph: "", body: { nodes: [], inputs: [], outputs: [], initializers: new Map() } },
        },
      },
      { name: "named", op: "Thing", domain: "com.example", inputs: ["y"], outputs: ["z"], attrs: {} },
    ]);
  });

  it("puts nodes in an order where each input is made before it is read, taking the earliest in the file among those ready", async () => {
    const node = (name: string, input: string[], output: string) => ({ name, opType: "Add", input, output: [output] });
    const m = await readOnnx(
      await write(
        graphOf({
          input: [{ name: "x" }],
          output: [{ name: "out" }],
          initializer: [{ name: "c", dataType: 1, dims: [1], floatData: [2] }],
          node: [
            node("last", ["p", "q"], "out"),
            node("q", ["p", "c"], "q"),
            node("p", ["x", "x"], "p"),
            node("side", ["x", "c"], "side"),
            node("r", ["side", "c"], "r"),
          ],
        }),
      ),
    );
    // Each step takes the ready node earliest in the file: {p, side} → p; {side, q} → q; {side, last} → last; side; r.
    expect(m.nodes.map((n) => n.name)).toEqual(["p", "q", "last", "side", "r"]);
  });

  it("a name made twice: readers see the later node, and the earlier keeps its place without the name", async () => {
    const m = await readOnnx(
      await write(
        graphOf({
          input: [{ name: "x" }],
          output: [{ name: "y" }],
          node: [
            { name: "reader", opType: "Relu", input: ["h"], output: ["y"] },
            { name: "first", opType: "Neg", input: ["x"], output: ["h", "extra"] },
            { name: "second", opType: "Abs", input: ["x"], output: ["h"] },
          ],
        }),
      ),
    );
    expect(m.nodes.map((n) => [n.name, n.outputs])).toEqual([
      ["first", ["", "extra"]],
      ["second", ["h"]],
      ["reader", ["y"]],
    ]);
  });

  it("an initializer a node also makes is read as the initializer (no wait for the node)", async () => {
    const m = await readOnnx(
      await write(
        graphOf({
          output: [{ name: "y" }],
          initializer: [{ name: "w", dataType: 1, dims: [1], floatData: [1] }],
          node: [
            { name: "reader", opType: "Relu", input: ["w"], output: ["y"] },
            { name: "maker", opType: "Constant", output: ["w"], attribute: [{ name: "value_float", type: T.FLOAT, f: 3 }] },
          ],
        }),
      ),
    );
    expect(m.nodes.map((n) => n.name)).toEqual(["reader", "maker"]);
    // So is a graph input.
    const input = await readOnnx(
      await write(
        graphOf({
          input: [{ name: "x" }],
          output: [{ name: "y" }],
          node: [
            { name: "reader", opType: "Relu", input: ["x"], output: ["y"] },
            { name: "maker", opType: "Neg", input: ["y"], output: ["x"] },
          ],
        }),
      ),
    );
    expect(input.nodes.map((n) => n.name)).toEqual(["reader", "maker"]);
  });
});

describe("readOnnx: external data", () => {
  const external = (location: string | undefined, extra: Record<string, string> = {}): Tensor => ({
    name: "w",
    dataType: 1,
    dims: [2],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      ...(location === undefined ? [] : [{ key: "location", value: location }]),
      ...Object.entries(extra).map(([key, value]) => ({ key, value })),
    ],
  });
  const bytes = f32([10, 20, 30, 40]);

  it("reads the bytes at offset and length, or from offset to the end, in the model's folder or below it", async () => {
    const at = await readOnnx(await write(graphOf({ initializer: [external("w.bin", { offset: "4", length: "8" })] }), { "w.bin": bytes }));
    expect(at.initializers.get("w")).toEqual({ dtype: "float32", shape: [2], data: Float32Array.of(20, 30) });
    const rest = await readOnnx(await write(graphOf({ initializer: [external("w.bin", { offset: "8" })] }), { "w.bin": bytes }));
    expect(rest.initializers.get("w")!.data).toEqual(Float32Array.of(30, 40));
    const whole = f32([1, 2]);
    const file = await write(graphOf({ initializer: [external("sub/w.bin")] }));
    mkdirSync(join(file, "..", "sub"));
    writeFileSync(join(file, "..", "sub", "w.bin"), whole);
    expect((await readOnnx(file)).initializers.get("w")!.data).toEqual(Float32Array.of(1, 2));
  });

  it("refuses data past the file's end, a location outside the folder or none, and a file not there", async () => {
    const past = await write(graphOf({ initializer: [external("w.bin", { offset: "12", length: "8" })] }), { "w.bin": bytes });
    const e1 = await rejectsSeec(() => readOnnx(past));
    expect([e1.code, e1.message, e1.file]).toEqual(["input.onnx", 'tensor "w" reads bytes 12..20 of w.bin, which has 16', past]);
    const exact = await write(graphOf({ initializer: [external("w.bin", { offset: "8", length: "8" })] }), { "w.bin": bytes });
    expect((await readOnnx(exact)).initializers.get("w")!.data).toEqual(Float32Array.of(30, 40));

    const outside = await write(graphOf({ initializer: [external("../w.bin")] }));
    const e2 = await rejectsSeec(() => readOnnx(outside));
    expect([e2.code, e2.message, e2.file]).toEqual([
      "input.onnx",
      `tensor "w" names external data outside the model's folder: ../w.bin`,
      outside,
    ]);
    const sibling = await write(graphOf({ initializer: [external(`../${join(outside, "..").split("/").pop()}x/w.bin`)] }));
    expect((await rejectsSeec(() => readOnnx(sibling))).message).toMatch(/outside the model's folder/);
    const none = await write(graphOf({ initializer: [external(undefined)] }));
    const e3 = await rejectsSeec(() => readOnnx(none));
    expect([e3.code, e3.message]).toEqual(["input.onnx", `tensor "w" names external data outside the model's folder: undefined`]);

    const missing = await write(graphOf({ initializer: [external("w.bin")] }));
    const e4 = await rejectsSeec(() => readOnnx(missing));
    expect([e4.code, e4.message, e4.file, e4.hint]).toEqual([
      "io.not_found",
      `tensor "w" keeps its data in w.bin, which is not beside the model`,
      join(missing, "..", "w.bin"),
      "keep the .data file next to the .onnx file",
    ]);
  });
});

describe("readOnnx: refusals", () => {
  it("a file not there, or a folder", async () => {
    const dir = await tmpDir();
    dirs.push(dir);
    const gone = await rejectsSeec(() => readOnnx(join(dir, "missing.onnx")));
    expect([gone.code, gone.message, gone.file]).toEqual([
      "io.not_found",
      "cannot read the ONNX model: no such file",
      join(dir, "missing.onnx"),
    ]);
    const folder = await rejectsSeec(() => readOnnx(dir));
    expect([folder.code, folder.message, folder.file]).toEqual([
      "io.not_found",
      "cannot read the ONNX model: EISDIR: illegal operation on a directory, read",
      dir,
    ]);
  });

  it("not protobuf, and a model without a graph", async () => {
    const dir = await tmpDir();
    dirs.push(dir);
    writeFileSync(join(dir, "junk.onnx"), "this is not protobuf at all, just text");
    const junk = await rejectsSeec(() => readOnnx(join(dir, "junk.onnx")));
    expect(junk.code).toBe("input.onnx");
    expect(junk.message).toMatch(/^not an ONNX model: \S/);
    expect(junk.file).toBe(join(dir, "junk.onnx"));
    const empty = await write({ irVersion: 8, opsetImport: opset });
    const e = await rejectsSeec(() => readOnnx(empty));
    expect([e.code, e.message, e.file]).toEqual(["input.onnx", "the ONNX model has no graph", empty]);
  });

  it("a tensor attribute without a value, and attribute types seec does not read", async () => {
    const attribute = async (a: import("onnx-proto").onnx.IAttributeProto) =>
      rejectsSeec(async () => readOnnx(await write(graphOf({ node: [{ name: "n", opType: "Constant", output: ["c"], attribute: [a] }] }))));
    const e1 = await attribute({ name: "value", type: T.TENSOR });
    expect([e1.code, e1.message, e1.at]).toEqual(["input.onnx", 'attribute "value" of node n is a tensor without a value', "node n"]);
    expect(e1.file).toMatch(/model\.onnx$/);
    const e2 = await attribute({ name: "sparse_value", type: T.SPARSE_TENSOR });
    expect([e2.code, e2.message, e2.at]).toEqual([
      "unsupported.onnx_attribute",
      'attribute "sparse_value" of node n has type SPARSE_TENSOR, which seec does not read',
      "node n",
    ]);
    expect(e2.file).toMatch(/model\.onnx$/);
    const e3 = await attribute({ name: "untyped" });
    expect(e3.message).toBe('attribute "untyped" of node n has type UNDEFINED, which seec does not read');
    const e4 = await attribute({ name: "future", type: 99 as never });
    expect(e4.message).toBe('attribute "future" of node n has type 99, which seec does not read');
  });

  it("a node reading a tensor nothing defines (an empty name is an absent optional input), a graph output nothing defines", async () => {
    const ok = await readOnnx(
      await write(
        graphOf({
          input: [{ name: "x" }],
          output: [{ name: "y" }],
          node: [{ name: "n", opType: "Clip", input: ["x", "", ""], output: ["y"] }],
        }),
      ),
    );
    expect(ok.nodes[0].inputs).toEqual(["x", "", ""]);
    const ghost = await write(
      graphOf({
        input: [{ name: "x" }],
        output: [{ name: "y" }],
        node: [
          { name: "fine", opType: "Relu", input: ["x"], output: ["h"] },
          { name: "n", opType: "Add", input: ["h", "ghost"], output: ["y"] },
        ],
      }),
    );
    const e1 = await rejectsSeec(() => readOnnx(ghost));
    expect([e1.code, e1.message, e1.at, e1.file]).toEqual([
      "input.onnx",
      'node n (Add) reads tensor "ghost", which no node, input or initializer defines',
      "node n",
      ghost,
    ]);
    const nowhere = await write(graphOf({ input: [{ name: "x" }], output: [{ name: "x" }, { name: "nowhere" }] }));
    const e2 = await rejectsSeec(() => readOnnx(nowhere));
    expect([e2.code, e2.message, e2.at, e2.file]).toEqual([
      "input.onnx",
      'the graph outputs tensor "nowhere", which no node, input or initializer defines',
      "output nowhere",
      nowhere,
    ]);
    const unnamed = await write(graphOf({ input: [{ name: "x" }], output: [{}] }));
    expect((await rejectsSeec(() => readOnnx(unnamed))).message).toBe(
      'the graph outputs tensor "", which no node, input or initializer defines',
    );
    // An initializer or a graph input may be an output as it is.
    const kept = await readOnnx(
      await write(
        graphOf({
          input: [{ name: "x" }],
          output: [{ name: "x" }, { name: "c" }],
          initializer: [{ name: "c", dataType: 1, dims: [], floatData: [1] }],
        }),
      ),
    );
    expect(kept.outputs.map((o) => o.name)).toEqual(["x", "c"]);
  });

  it("a cycle, named by its first node in file order", async () => {
    const file = await write(
      graphOf({
        input: [{ name: "x" }],
        node: [
          { name: "free", opType: "Relu", input: ["x"], output: ["f"] },
          { name: "a", opType: "Add", input: ["f", "q"], output: ["p"] },
          { name: "b", opType: "Relu", input: ["p"], output: ["q"] },
        ],
      }),
    );
    const e = await rejectsSeec(() => readOnnx(file));
    expect([e.code, e.message, e.at, e.file]).toEqual(["input.onnx", "the graph has a cycle through node a (Add)", "node a", file]);
  });
});

describe("readTensorFile", () => {
  it("a TensorProto's name and values, inline or raw", async () => {
    const dir = await tmpDir();
    dirs.push(dir);
    writeFileSync(
      join(dir, "a.pb"),
      onnx.TensorProto.encode({ name: "input_ids", dataType: 7, dims: [1, 3], int64Data: [4, 5, 6] }).finish(),
    );
    writeFileSync(join(dir, "b.pb"), onnx.TensorProto.encode({ name: "x", dataType: 1, dims: [2], rawData: f32([0.5, -1]) }).finish());
    expect(await readTensorFile(join(dir, "a.pb"))).toEqual({
      name: "input_ids",
      dtype: "int64",
      shape: [1, 3],
      data: Float64Array.of(4, 5, 6),
    });
    expect(await readTensorFile(join(dir, "b.pb"))).toEqual({ name: "x", dtype: "float32", shape: [2], data: Float32Array.of(0.5, -1) });
  });
});
