// The ONNX frontend's entry points on small graphs written here: checkOps and loweringOf
// (compiler/frontends/onnx/support.ts), lowerOnnx, lowerOnnxDecoder and loadOnnx (index.ts) and
// evaluateOnnx (evaluate.ts): the one error listing every op seec does not read, the element types
// a caller exchanges, and the outputs' types and float16 rounding.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { loadOnnx, lowerOnnx, lowerOnnxDecoder } from "../../compiler/frontends/onnx/index.js";
import type { OnnxModel, OnnxNode, OnnxValueInfo } from "../../compiler/frontends/onnx/read.js";
import { inModelFile } from "../../compiler/frontends/onnx/errors.js";
import { checkOps, loweringOf } from "../../compiler/frontends/onnx/support.js";
import { LOWERINGS } from "../../compiler/frontends/onnx/lower-ops.js";
import { CONTRIB_LLM_LOWERINGS } from "../../compiler/frontends/onnx/lower-contrib-llm.js";
import { tensor, type OnnxDType } from "../../compiler/frontends/onnx/tensor.js";
import { floatToHalf, halfToFloat } from "../../compiler/util/float16.js";
import { SeecError } from "../../runtime/errors.js";
import { tmpDir } from "../helpers/compile.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";

const { onnx } = onnxProto;
const FILE = "/models/entry.onnx";
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const node = (name: string, op: string, inputs: string[], outputs: string[], domain = ""): OnnxNode => ({
  name,
  op,
  domain,
  inputs,
  outputs,
  attrs: {},
});
const info = (name: string, dtype: OnnxDType | undefined, dims: (number | string)[], elementType = dtype ?? "string"): OnnxValueInfo => ({
  name,
  elementType,
  dtype,
  dims,
});

function model(nodes: OnnxNode[], inputs: OnnxValueInfo[], outputs: OnnxValueInfo[], opsets: [string, number][] = [["", 17]]): OnnxModel {
  return { file: FILE, opsets: new Map(opsets), producer: "", nodes, inputs, outputs, initializers: new Map() };
}

describe("support.ts", () => {
  it("loweringOf: the default domain by op, others by domain:op, nothing for unknown ops or inherited names", () => {
    expect(loweringOf(node("r", "Relu", [], []))).toBe(LOWERINGS.Relu);
    expect(loweringOf(node("g", "GroupQueryAttention", [], [], "com.microsoft"))).toBe(
      CONTRIB_LLM_LOWERINGS["com.microsoft:GroupQueryAttention"],
    );
    expect(loweringOf(node("g", "GroupQueryAttention", [], []))).toBeUndefined();
    expect(loweringOf(node("r", "Relu", [], [], "com.example"))).toBeUndefined();
    expect(loweringOf(node("t", "toString", [], []))).toBeUndefined();
    expect(loweringOf(node("t", "Nope", [], []))).toBeUndefined();
  });

  it("checkOps passes ops seec lowers or folds (Shape), in their domains", () => {
    expect(() =>
      checkOps(
        model(
          [node("s", "Shape", ["x"], ["s"]), node("r", "Relu", ["x"], ["y"]), node("g", "Gelu", ["y"], ["z"], "com.microsoft")],
          [],
          [],
        ),
      ),
    ).not.toThrow();
  });

  it("checkOps lists every op type it does not read in one error: domain, opset (? when not imported), count and up to three names", () => {
    const m = model(
      [
        node("a1", "Fancy", [], []),
        node("s", "Shape", [], [], "com.example"),
        node("a2", "Fancy", [], []),
        node("a3", "Fancy", [], []),
        node("a4", "Fancy", [], []),
        node("ok", "Relu", [], []),
        node("t", "toString", [], []),
      ],
      [],
      [],
      [
        ["", 13],
        ["com.other", 2],
      ],
    );
    const e = catchSeec(() => checkOps(m));
    expect([e.code, e.message, e.file, e.hint]).toEqual([
      "unsupported.onnx_op",
      "the graph uses 3 op types seec does not support: ai.onnx:Fancy (opset 13): 4 nodes, e.g. a1, a2, a3; com.example:Shape (opset ?): 1 node, e.g. s; ai.onnx:toString (opset 13): 1 node, e.g. t",
      FILE,
      "see the README's list of supported ONNX ops",
    ]);
    const one = catchSeec(() => checkOps(model([node("c", "Thing", [], [], "com.other")], [], [], [["com.other", 2]])));
    expect(one.message).toBe("the graph uses 1 op type seec does not support: com.other:Thing (opset 2): 1 node, e.g. c");
  });
});

describe("errors.ts", () => {
  it("inModelFile names the model in a SeecError that names no file, and leaves every other error as it is", () => {
    const bare = new SeecError("unsupported.onnx_op", "Foo is not supported", { hint: "h" });
    const named = inModelFile(bare, "m.onnx", "node n") as SeecError;
    expect(named).not.toBe(bare);
    expect([named.code, named.message, named.file, named.at, named.hint]).toEqual([
      "unsupported.onnx_op",
      "Foo is not supported",
      "m.onnx",
      "node n",
      "h",
    ]);
    const placed = new SeecError("unsupported.onnx_op", "x", { at: "node k" });
    expect((inModelFile(placed, "m.onnx", "node n") as SeecError).at).toBe("node k");
    const filed = new SeecError("input.onnx", "y", { file: "other.onnx" });
    expect(inModelFile(filed, "m.onnx")).toBe(filed);
    const other = new TypeError("z");
    expect(inModelFile(other, "m.onnx")).toBe(other);
  });
});

describe("index.ts", () => {
  it("lowerOnnx marks the element types a caller exchanges on the graph's inputs and outputs, and lists the dims it set to 1", () => {
    const types: OnnxDType[] = ["int64", "bool", "float16", "uint8", "int8", "float64", "float32", "int32"];
    const inputs = types.map((t) => info(`in_${t}`, t, ["n", 2]));
    const nodes = types.map((t) => node(`id_${t}`, "Identity", [`in_${t}`], [`out_${t}`]));
    // An output of a type seec does not read (dtype undefined) is float32 to the caller: no element type.
    const outputs = [...types.map((t) => info(`out_${t}`, t, [])), info("odd", undefined, [], "string")];
    nodes.push(node("odd", "Relu", ["in_float32"], ["odd"]));
    const load = lowerOnnx(model(nodes, inputs, outputs), "types", {});
    expect(load.defaulted).toEqual(["n"]);
    expect(load.fused).toEqual({});
    expect(load.notes).toBeUndefined();
    expect(load.graph.name).toBe("types");
    const element = (name: string) => load.graph.values.get(name)?.elementType;
    for (const t of types) {
      const want = t === "float32" || t === "int32" ? undefined : t;
      expect([element(`in_${t}`), load.graph.values.get(`in_${t}`)?.shape]).toEqual([want, [1, 2]]);
    }
    expect(load.graph.inputs).toEqual(types.map((t) => `in_${t}`));
    expect(load.graph.values.get("odd")?.elementType).toBeUndefined();
  });

  it("lowerOnnxDecoder refuses --shape (the decoder takes its shapes itself), before reading the graph", () => {
    const e = catchSeec(() => lowerOnnxDecoder(model([node("f", "Fancy", [], [])], [], []), "d", { x: [1] }, {}));
    expect([e.code, e.message, e.at]).toEqual([
      "usage.shape",
      "--decoder builds the graph for the tokens of a call over a KV cache of --context rows: drop --shape",
      "--shape",
    ]);
    // Without --shape the ops are checked first.
    expect(catchSeec(() => lowerOnnxDecoder(model([node("f", "Fancy", [], [])], [], []), "d", {}, {})).code).toBe("unsupported.onnx_op");
  });

  it("loadOnnx reads the file and lowers it at the shapes given", async () => {
    const dir = await tmpDir();
    dirs.push(dir);
    const file = join(dir, "model.onnx");
    writeFileSync(
      file,
      onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        graph: {
          input: [{ name: "x", type: { tensorType: { elemType: 10, shape: { dim: [{ dimParam: "b" }, { dimValue: 3 }] } } } }],
          output: [{ name: "y", type: { tensorType: { elemType: 10 } } }],
          node: [{ name: "r", opType: "Relu", input: ["x"], output: ["y"] }],
        },
      }).finish(),
    );
    const load = await loadOnnx(file, "m", { x: [4, 3] });
    expect(load.defaulted).toEqual([]);
    expect(load.graph.values.get("x")).toMatchObject({ shape: [4, 3], elementType: "float16" });
    expect(load.graph.values.get("y")).toMatchObject({ shape: [4, 3], elementType: "float16" });
    const e = await rejectsSeec(() => loadOnnx(file, "m", {}, {}));
    expect(e.code).toBe("unsupported.onnx_decoder"); // no past/present pairs: not a decoder
  });
});

describe("evaluate.ts", () => {
  it("evaluateOnnx: outputs in their declared types (float16 rounded to half), or float32 / int64 where none is declared", () => {
    const m = model(
      [
        node("add", "Add", ["h", "h"], ["h2"]),
        node("neg", "Neg", ["i"], ["ni"]),
        node("abs", "Abs", ["f"], ["af"]),
        node("sq", "Mul", ["h", "h"], ["hh"]),
      ],
      [info("h", "float16", [2]), info("i", "int64", [2]), info("f", "float32", [2])],
      [info("h2", "float16", [2]), info("ni", undefined, [2]), info("af", undefined, [2]), info("hh", "float16", [2])],
    );
    const h = tensor("float16", [2], [halfToFloat(floatToHalf(0.1)), 3]);
    const out = evaluateOnnx(
      m,
      new Map([
        ["h", h],
        ["i", tensor("int64", [2], [5, -7])],
        ["f", tensor("float32", [2], [-0.1, 2])],
      ]),
    );
    expect([...out.keys()]).toEqual(["h2", "ni", "af", "hh"]);
    expect(out.get("h2")).toEqual(tensor("float16", [2], [2 * h.data[0], 6]));
    expect(out.get("ni")).toEqual(tensor("int64", [2], [-5, 7]));
    expect(out.get("af")).toEqual(tensor("float32", [2], [0.1, 2])); // float32: not rounded to half
    // 0.0999755859375² = 0.00999511778354645, to the nearest half 0.0099945068359375.
    expect(out.get("hh")).toEqual(tensor("float16", [2], [halfToFloat(floatToHalf(Math.fround(h.data[0] * h.data[0]))), 9]));
    expect(out.get("hh")!.data[0]).not.toBe(Math.fround(h.data[0] * h.data[0]));
    // Ops seec does not read are refused before anything runs.
    expect(
      catchSeec(() =>
        evaluateOnnx(model([node("f", "Fancy", ["h"], ["y"])], [info("h", "float32", [1])], [info("y", "float32", [1])]), new Map()),
      ).code,
    ).toBe("unsupported.onnx_op");
  });
});
