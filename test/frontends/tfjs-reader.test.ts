// tfjs.ts on small model.json files written here: every weight dtype and quantization, each
// refusal's exact message and location, shard paths, parseInput, oneLine and checkTfjsGraph.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { concatBytes } from "../../compiler/util/bytes.js";
import { checkTfjsGraph, oneLine, parseInput, readTfjsGraph, type TfGraph, type TfNode } from "../../compiler/frontends/tfjs.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "seec-test-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** model.json (an object, or text as it is) and shards in a folder of the test's; returns model.json's path. */
function model(json: unknown, shards: Record<string, Uint8Array> = {}, folder = "m"): string {
  const d = join(dir, folder);
  mkdirSync(d, { recursive: true });
  for (const [name, bytes] of Object.entries(shards)) writeFileSync(join(d, name), bytes);
  writeFileSync(join(d, "model.json"), typeof json === "string" ? json : JSON.stringify(json));
  return join(d, "model.json");
}

const graph = (weights: unknown[], paths: unknown = ["s1"], node: unknown[] = [{ name: "x", op: "Placeholder" }]) => ({
  modelTopology: { node },
  weightsManifest: [{ paths, weights }],
});

async function refusal(path: string) {
  const e = await rejectsSeec(() => readTfjsGraph(path));
  return { code: e.code, message: e.message, file: e.file, at: e.at, hint: e.hint };
}

/** Typed arrays' bytes joined end to end. */
const bytes = (...parts: ArrayBufferView[]) => concatBytes(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));

describe("readTfjsGraph", () => {
  it("reads int32 weights quantized as uint8 or uint16 rounded, and float16 ones, from the folder or the file", async () => {
    const path = model(
      graph([
        { name: "i8", shape: [3], dtype: "int32", quantization: { dtype: "uint8", scale: 0.5, min: -1 } },
        { name: "i16", shape: [2], dtype: "int32", quantization: { dtype: "uint16", scale: 0.3 } },
        { name: "u8", shape: [2], dtype: "float32", quantization: { dtype: "uint8" } },
        { name: "b", shape: [2, 2], dtype: "bool" },
        { name: "empty", shape: [0], dtype: "float32" },
      ]),
      { s1: bytes(Uint8Array.of(0, 3, 5), Uint16Array.of(10, 11), Uint8Array.of(7, 250), Uint8Array.of(0, 2, 1, 0)) },
    );
    for (const p of [path, join(dir, "m")]) {
      const g = await readTfjsGraph(p);
      expect(g.file).toBe(path);
      const v = (n: string) => [
        g.weights.get(n)!.dtype,
        g.weights.get(n)!.shape,
        g.weights.get(n)!.data.constructor.name,
        [...g.weights.get(n)!.data],
      ];
      expect(v("i8")).toEqual(["int32", [3], "Int32Array", [-1, 1, 2]]); // -1, 0.5, 1.5 rounded
      expect(v("i16")).toEqual(["int32", [2], "Int32Array", [3, 3]]); // 3, 3.3
      expect(v("u8")).toEqual(["float32", [2], "Float32Array", [7, 250]]);
      expect(v("b")).toEqual(["bool", [2, 2], "Int32Array", [0, 2, 1, 0]]);
      expect(v("empty")).toEqual(["float32", [0], "Float32Array", []]);
    }
  });

  it("refuses a model.json that is missing, not JSON, not an object, or not a graph model, naming the file", async () => {
    const missing = join(dir, "none.json");
    expect(await refusal(missing)).toEqual({
      code: "io.not_found",
      message: `cannot read the TF.js model: ENOENT: no such file or directory, open '${missing}'`,
      file: missing,
      at: undefined,
      hint: undefined,
    });
    writeFileSync(join(dir, "file"), "");
    const under = join(dir, "file", "model.json");
    expect(await refusal(under)).toMatchObject({
      code: "input.tfjs",
      message: `cannot read the TF.js model: ENOTDIR: not a directory, open '${under}'`,
    });
    const folder = join(dir, "empty");
    mkdirSync(folder);
    expect((await refusal(folder)).file).toBe(join(folder, "model.json"));
    const input = (message: string, at?: string) => ({
      code: "input.tfjs",
      message,
      file: join(dir, "m", "model.json"),
      at,
      hint: undefined,
    });
    expect(await refusal(model("{\n"))).toMatchObject({
      code: "input.tfjs",
      message: expect.stringMatching(/^model\.json is not valid JSON: [^\n]*$/),
    });
    expect(await refusal(model("null"))).toEqual(input("model.json holds null, not an object: is it a TF.js graph model?"));
    expect(await refusal(model("[1]"))).toEqual(input("model.json holds a list, not an object: is it a TF.js graph model?"));
    expect(await refusal(model('"s"'))).toEqual(input("model.json holds a string, not an object: is it a TF.js graph model?"));
    const noGraph = "model.json has no modelTopology.node or weightsManifest: is it a TF.js graph model?";
    expect(await refusal(model({ modelTopology: { node: [] } }))).toEqual(input(noGraph));
    expect(await refusal(model({ modelTopology: { node: {} }, weightsManifest: [] }))).toEqual(input(noGraph));
    expect(await refusal(model({ modelTopology: [], weightsManifest: [] }))).toEqual(input(noGraph));
    expect((await readTfjsGraph(model({ modelTopology: { node: [] }, weightsManifest: [] }))).nodes).toEqual([]);
  });

  it("refuses nodes that are not objects, unnamed, oddly named, without an op, or with bad inputs or attributes", async () => {
    const file = join(dir, "m", "model.json");
    const bad = async (node: unknown, message: string, at: string) =>
      expect(await refusal(model(graph([], ["s1"], [{ name: "ok", op: "Const" }, node]), { s1: new Uint8Array(0) }))).toEqual({
        code: "input.tfjs",
        message,
        file,
        at,
        hint: undefined,
      });
    await bad(7, "modelTopology.node[1] is a number, not an object", "modelTopology.node[1]");
    await bad({ op: "Add" }, "modelTopology.node[1] has no name", "modelTopology.node[1]");
    await bad({ name: "", op: "Add" }, "modelTopology.node[1] has no name", "modelTopology.node[1]");
    await bad(
      { name: "a\nb", op: "Add" },
      'modelTopology.node[1] is named "a\\nb": node names have no control characters',
      "modelTopology.node[1]",
    );
    await bad(
      { name: "a\u007f", op: "Add" },
      'modelTopology.node[1] is named "a\\u007f": node names have no control characters',
      "modelTopology.node[1]",
    );
    await bad({ name: "n", op: "" }, "node n has no op", "node n");
    await bad({ name: "n", op: 3 }, "node n has no op", "node n");
    await bad({ name: "n", op: "Add", input: "ok" }, 'the inputs of node n must be a list of node names, not "ok"', "node n");
    await bad({ name: "n", op: "Add", input: ["ok", 1] }, 'the inputs of node n must be a list of node names, not ["ok",1]', "node n");
    await bad({ name: "n", op: "Add", attr: [] }, "the attributes of node n must be an object, not []", "node n");
    const g = await readTfjsGraph(
      model(graph([], ["s1"], [{ name: "n", op: "Add", input: ["a", "b:1"], attr: { T: { type: "DT_FLOAT" } } }]), {
        s1: new Uint8Array(0),
      }),
    );
    expect(g.nodes).toEqual([{ name: "n", op: "Add", inputs: ["a", "b:1"], attr: { T: { type: "DT_FLOAT" } } }]);
  });

  it("refuses manifest groups, shard paths and weight entries it cannot read, saying where", async () => {
    const file = join(dir, "m", "model.json");
    const input = (message: string, at: string) => ({ code: "input.tfjs", message, file, at, hint: undefined });
    expect(await refusal(model({ modelTopology: { node: [] }, weightsManifest: [null] }))).toEqual(
      input("weightsManifest[0] is null, not an object", "weightsManifest[0]"),
    );
    expect(await refusal(model(graph([], [])))).toEqual(
      input("weightsManifest[0].paths must be a list of shard file names, not []", "weightsManifest[0].paths"),
    );
    expect(await refusal(model(graph([], ["a", ""])))).toEqual(
      input('weightsManifest[0].paths must be a list of shard file names, not ["a",""]', "weightsManifest[0].paths"),
    );
    expect(await refusal(model({ modelTopology: { node: [] }, weightsManifest: [{ weights: [] }] }))).toEqual(
      input("weightsManifest[0].paths must be a list of shard file names, not nothing", "weightsManifest[0].paths"),
    );
    expect(await refusal(model({ modelTopology: { node: [] }, weightsManifest: [{ paths: ["s1"], weights: {} }] }))).toEqual(
      input("weightsManifest[0].weights must be a list, not {}", "weightsManifest[0].weights"),
    );
    for (const [p, i] of [
      ["../s1", 1],
      ["/etc/passwd", 1],
      [".", 1],
      ["..", 1],
      ["a\0b", 1],
    ] as const)
      expect(await refusal(model(graph([], ["s1", p]), { s1: new Uint8Array(0) }))).toEqual(
        input(`weight shard ${JSON.stringify(p)} is not a file beside model.json`, `weightsManifest[0].paths[${i}]`),
      );
    expect(await refusal(model(graph([], ["s9"])))).toEqual({
      code: "io.not_found",
      message: `cannot read weight shard "s9": ENOENT: no such file or directory, open '${join(dir, "m", "s9")}'`,
      file,
      at: undefined,
      hint: "keep the shards beside model.json",
    });
    // A value in a message is cut to 60 characters: 57 and "...".
    const long = "../" + "a".repeat(70);
    expect((await refusal(model(graph([], [long])))).message).toBe(
      `weight shard ${JSON.stringify(long).slice(0, 57)}... is not a file beside model.json`,
    );
    const sixty = "../" + "b".repeat(55); // 60 characters quoted
    expect((await refusal(model(graph([], [sixty])))).message).toBe(`weight shard "${sixty}" is not a file beside model.json`);
    // A shard in a folder below model.json's is beside it.
    mkdirSync(join(dir, "m", "sub"), { recursive: true });
    writeFileSync(join(dir, "m", "sub", "s"), Float32Array.of(2));
    expect([
      ...(await readTfjsGraph(model(graph([{ name: "w", shape: [1], dtype: "float32" }], ["sub/s"])))).weights.get("w")!.data,
    ]).toEqual([2]);
    const entry = async (w: unknown, message: string, at: string) =>
      expect(await refusal(model(graph([w]), { s1: new Uint8Array(4) }))).toEqual(input(message, at));
    const w0 = "weightsManifest[0].weights[0]";
    await entry("w", `${w0} is a string, not an object`, w0);
    await entry({ shape: [1], dtype: "float32" }, `${w0} has no name`, w0);
    await entry({ name: "", shape: [1], dtype: "float32" }, `${w0} has no name`, w0);
    await entry({ name: "a\tb", shape: [1], dtype: "float32" }, `${w0} is named "a\\tb": weight names have no control characters`, w0);
    await entry(
      { name: "w", shape: [1, -1], dtype: "float32" },
      "weight w has shape [1,-1]: a shape is a list of whole numbers, none negative",
      "weight w",
    );
    await entry(
      { name: "w", shape: 4, dtype: "float32" },
      "weight w has shape 4: a shape is a list of whole numbers, none negative",
      "weight w",
    );
    await entry({ name: "w", shape: [1], dtype: 1 }, "weight w has dtype 1", "weight w");
    await entry(
      { name: "w", shape: [1], dtype: "float32", quantization: { dtype: "uint8", scale: "1" } },
      'weight w has quantization {"dtype":"uint8","scale":"1"}: expected {dtype, scale, min} with finite numbers',
      "weight w",
    );
    await entry(
      { name: "w", shape: [1], dtype: "float32", quantization: { dtype: "uint8", min: null } },
      'weight w has quantization {"dtype":"uint8","min":null}: expected {dtype, scale, min} with finite numbers',
      "weight w",
    );
    await entry(
      { name: "w", shape: [1], dtype: "float32", quantization: { scale: 1 } },
      'weight w has quantization {"scale":1}: expected {dtype, scale, min} with finite numbers',
      "weight w",
    );
    await entry(
      { name: "w", shape: [1], dtype: "float32", quantization: 5 },
      "weight w has quantization 5: expected {dtype, scale, min} with finite numbers",
      "weight w",
    );
  });

  it("refuses dtypes it does not read, a weight listed twice, and shards that hold more or less than the manifest", async () => {
    const file = join(dir, "m", "model.json");
    const dtype = async (w: object, message: string) =>
      expect(await refusal(model(graph([{ name: "w", shape: [1], ...w }]), { s1: new Uint8Array(4) }))).toEqual({
        code: "unsupported.tfjs_dtype",
        message,
        file,
        at: "weight w",
        hint: undefined,
      });
    await dtype({ dtype: "float64" }, "weight w has dtype float64");
    await dtype({ dtype: "bool", quantization: { dtype: "uint8" } }, "weight w has dtype bool quantized as uint8");
    await dtype({ dtype: "int32", quantization: { dtype: "float16" } }, "weight w has dtype int32 quantized as float16");
    await dtype({ dtype: "float32", quantization: { dtype: "int8" } }, "weight w has dtype float32 quantized as int8");
    const twice = graph([
      { name: "w", shape: [1], dtype: "float32" },
      { name: "w", shape: [1], dtype: "float32" },
    ]);
    expect(await refusal(model(twice, { s1: new Uint8Array(8) }))).toEqual({
      code: "input.tfjs",
      message: "the manifest lists weight w twice",
      file,
      at: "weight w",
      hint: undefined,
    });
    const two = graph([
      { name: "a", shape: [2], dtype: "float32" },
      { name: "b", shape: [3], dtype: "float32" },
    ]);
    expect(await refusal(model(two, { s1: new Uint8Array(19) }))).toEqual({
      code: "input.truncated",
      message: "the weight shards end inside b: it needs bytes 8..20, the shards hold 19",
      file,
      at: "weight b",
      hint: undefined,
    });
    expect(await refusal(model(two, { s1: new Uint8Array(21) }))).toEqual({
      code: "input.tfjs",
      message: "the shards hold 21 bytes; the manifest describes 20",
      file,
      at: "weightsManifest[0]",
      hint: "the shards do not belong to this model.json",
    });
    expect((await readTfjsGraph(model(two, { s1: new Uint8Array(20) }))).weights.size).toBe(2);
  });
});

describe("parseInput and oneLine", () => {
  it("splits an input into node, output index and control flag", () => {
    expect(parseInput("a/b")).toEqual({ node: "a/b", index: 0, control: false });
    expect(parseInput("a/b:2")).toEqual({ node: "a/b", index: 2, control: false });
    expect(parseInput("^a:1")).toEqual({ node: "a", index: 1, control: true });
    expect(parseInput("a:b")).toEqual({ node: "a:b", index: 0, control: false });
    expect(parseInput("x^")).toEqual({ node: "x^", index: 0, control: false });
    expect(parseInput("a:12")).toEqual({ node: "a", index: 12, control: false });
  });

  it("escapes line breaks and control characters", () => {
    expect(oneLine("a\nb\rc\td\u0001e\u007f\u2028\u2029")).toBe("a\\nb\\rc\\td\\u0001e\\u007f\\u2028\\u2029");
    expect(oneLine("plain ☃")).toBe("plain ☃");
  });
});

describe("checkTfjsGraph", () => {
  const n = (name: string, op: string, inputs: string[] = [], attr: TfNode["attr"] = {}): TfNode => ({ name, op, inputs, attr });
  const check = (nodes: TfNode[], weights: TfGraph["weights"] = new Map()) => {
    const e = catchSeec(() => checkTfjsGraph({ file: "m.json", nodes, weights }));
    return { code: e.code, message: e.message, file: e.file, at: e.at };
  };
  const w = (shape: number[], data: number[]) => ({ dtype: "float32" as const, shape, data: Float32Array.from(data) });

  it("accepts a graph whose inputs all name outputs that exist, control inputs and SplitV outputs included", () => {
    const nodes = [
      n("c", "Const"),
      n("x", "Placeholder"),
      n("s", "SplitV", ["x", "c"], { num_split: { i: "3" } }),
      n("y", "AddV2", ["s:2", "s:0"]),
      n("z", "Identity", ["y", "^c", "^s:5"]),
    ];
    expect(() => checkTfjsGraph({ file: "m.json", nodes, weights: new Map([["c", w([2], [1, 2])]]) })).not.toThrow();
    expect(() => checkTfjsGraph({ file: "m.json", nodes: [n("e", "Const")], weights: new Map([["e", w([0], [])]]) })).not.toThrow();
  });

  it("refuses weights that do not hold their shape, twin names, Consts without values, inputs that name nothing", () => {
    const graph = (code: string, message: string, at: string) => ({ code, message, file: "m.json", at });
    expect(check([], new Map([["w", w([2, 2], [1, 2, 3])]]))).toEqual(
      graph("input.tfjs_graph", "weight w holds 3 values; its shape [2, 2] has 4", "weight w"),
    );
    expect(check([], new Map([["w", w([2, -1] as number[], [])]]))).toEqual(
      graph("input.tfjs_graph", "weight w has shape [2,-1]", "weight w"),
    );
    expect(check([], new Map([["w", w([1.5] as number[], [1])]]))).toEqual(
      graph("input.tfjs_graph", "weight w has shape [1.5]", "weight w"),
    );
    expect(check([n("a", "Placeholder"), n("a", "Identity")])).toEqual(graph("input.tfjs_graph", "two nodes are named a", "node a"));
    expect(check([n("c", "Const")])).toEqual(graph("input.tfjs_graph", "Const node c has no value in the weights manifest", "node c"));
    expect(check([n("x", "Placeholder"), n("y", "Identity", ["q"])])).toEqual(
      graph("input.tfjs_graph", "node y reads q, which no node defines", "node y"),
    );
    expect(check([n("x", "Placeholder"), n("y", "Identity", ["x:1"])])).toEqual(
      graph("input.tfjs_graph", "node y reads x:1, but Placeholder node x has 1 output(s)", "node y"),
    );
    const split = n("s", "SplitV", ["x"], { num_split: { i: "2" } });
    expect(check([n("x", "Placeholder"), split, n("y", "Identity", ["s:2"])])).toEqual(
      graph("input.tfjs_graph", "node y reads s:2, but SplitV node s has 2 output(s)", "node y"),
    );
    expect(check([n("x", "Placeholder"), n("s", "SplitV", ["x"]), n("y", "Identity", ["s"])]).message).toBe(
      "node y reads s, but SplitV node s has 0 output(s)",
    );
  });

  it("names a node on a cycle, also one reached only through nodes after it", () => {
    expect(check([n("x", "Placeholder"), n("a", "AddV2", ["x", "b"]), n("b", "Relu", ["a"])]).message).toBe(
      "the graph has a cycle through node a",
    );
    // d hangs below the loop a <-> b <-> c; the walk up from it ends on the loop.
    const e = check([n("d", "Relu", ["c"]), n("a", "Relu", ["c"]), n("b", "Relu", ["a"]), n("c", "Relu", ["b"])]);
    expect([e.code, e.message]).toEqual(["input.tfjs_graph", "the graph has a cycle through node c"]);
    expect(check([n("s", "Relu", ["s"])])).toEqual({
      code: "input.tfjs_graph",
      message: "the graph has a cycle through node s",
      file: "m.json",
      at: "node s",
    });
  });
});
