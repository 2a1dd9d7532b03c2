// compiler/frontends/onnx/lower.ts on graphs written here: bindInputs (--shape, symbols shared across
// inputs, dimensions set to 1, the element types and sizes it refuses) and onnxGraph (the lowered
// graph, and shapes that do not fit blamed on the graph or on --shape), each refusal with its code,
// message, file, `at` and hint.
import { describe, expect, it } from "vitest";
import { bindInputs, onnxGraph } from "../../compiler/frontends/onnx/lower.js";
import type { OnnxModel, OnnxNode, OnnxValueInfo } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxDType } from "../../compiler/frontends/onnx/tensor.js";
import { catchSeec } from "../helpers/errors.js";

const FILE = "/models/lower.onnx";
const info = (
  name: string,
  dtype: OnnxDType | undefined,
  dims: (number | string)[],
  elementType: string = dtype ?? "string",
): OnnxValueInfo => ({
  name,
  elementType,
  dtype,
  dims,
});
const node = (name: string, op: string, inputs: string[], outputs: string[]): OnnxNode => ({
  name,
  op,
  domain: "",
  inputs,
  outputs,
  attrs: {},
});
const model = (
  inputs: OnnxValueInfo[],
  nodes: OnnxNode[] = [],
  outputs: OnnxValueInfo[] = [],
  initializers: OnnxModel["initializers"] = new Map(),
): OnnxModel => ({
  file: FILE,
  opsets: new Map([["", 17]]),
  producer: "",
  nodes,
  inputs,
  outputs,
  initializers,
});

describe("bindInputs", () => {
  const ids = info("ids", "int64", ["batch", "seq"]);
  const mask = info("mask", "int64", ["batch", "seq"]);
  const pos = info("pos", "int64", ["batch", "", 4]);

  it("each dimension: --shape's, else a symbol another input's --shape bound, else 1 (named, or input[i] when anonymous)", () => {
    const bound = bindInputs(model([ids, mask, pos]), { ids: [2, 7] });
    expect(bound).toEqual({
      inputs: [
        { name: "ids", dtype: "int64", shape: [2, 7] },
        { name: "mask", dtype: "int64", shape: [2, 7] },
        { name: "pos", dtype: "int64", shape: [2, 1, 4] },
      ],
      defaulted: ["pos[1]"],
      given: true,
    });
    expect(bindInputs(model([ids, pos]), {})).toEqual({
      inputs: [
        { name: "ids", dtype: "int64", shape: [1, 1] },
        { name: "pos", dtype: "int64", shape: [1, 1, 4] },
      ],
      defaulted: ["batch", "seq", "pos[1]"],
      given: false,
    });
    // --shape of the input whose symbols another uses, given second.
    expect(bindInputs(model([pos, ids]), { ids: [3, 5] }).inputs[0].shape).toEqual([3, 1, 4]);
  });

  it("refuses --shape of a name that is not an input, of another rank, or against a fixed dimension", () => {
    const e1 = catchSeec(() => bindInputs(model([ids, mask]), { tokens: [1, 2] }));
    expect([e1.code, e1.message, e1.at, e1.hint]).toEqual([
      "usage.shape",
      '--shape names "tokens", which is not an input of the graph',
      "--shape",
      "inputs: ids, mask",
    ]);
    const e2 = catchSeec(() => bindInputs(model([pos]), { pos: [1, 2] }));
    expect([e2.code, e2.message, e2.at]).toEqual([
      "usage.shape",
      "--shape pos has 2 dimensions; the input has 3 ([batch, , 4])",
      "--shape",
    ]);
    const e3 = catchSeec(() => bindInputs(model([pos]), { pos: [1, 2, 5] }));
    expect([e3.code, e3.message, e3.at]).toEqual(["usage.shape", "--shape pos: dimension 2 is fixed at 4 in the graph, not 5", "--shape"]);
    expect(bindInputs(model([pos]), { pos: [1, 2, 4] }).inputs[0].shape).toEqual([1, 2, 4]);
  });

  it("refuses an input element type seec does not read, first (before a --shape it would refuse too)", () => {
    for (const [dtype, elementType] of [
      [undefined, "string"],
      [undefined, "float8e4m3fn"],
      [undefined, "complex64"],
    ] as const) {
      const e = catchSeec(() => bindInputs(model([ids, info("odd", dtype, [2], elementType)]), { odd: [3, 3] }));
      expect([e.code, e.message, e.file]).toEqual([
        "unsupported.onnx_dtype",
        `input "odd" has element type ${elementType}, which seec does not read`,
        FILE,
      ]);
    }
    const ok: OnnxDType[] = [
      "float32",
      "float16",
      "bfloat16",
      "float64",
      "int64",
      "int32",
      "int16",
      "int8",
      "uint8",
      "uint16",
      "uint32",
      "uint64",
      "bool",
    ];
    expect(bindInputs(model(ok.map((d) => info(d, d, [1]))), {}).inputs.map((i) => i.dtype)).toEqual(ok);
  });

  it("refuses an input bound past MAX_ELEMENTS (2^28), and allows exactly that", () => {
    const x = info("x", "float32", ["a", "b"]);
    const e = catchSeec(() => bindInputs(model([x]), { x: [16384, 16385] }));
    expect([e.code, e.message, e.at]).toEqual([
      "usage.shape",
      "input x bound to 16384x16385 has 268451840 elements; seec's wasm32 targets hold at most 268435456 (1 GiB of float32) in one tensor",
      "--shape",
    ]);
    expect(bindInputs(model([x]), { x: [16384, 16384] }).inputs[0].shape).toEqual([16384, 16384]);
  });
});

describe("onnxGraph", () => {
  const x = info("x", "float32", ["n", 3]);
  const y = info("y", "float32", []);

  it("lowers the graph at the bound shapes, leaving out what folds to constants", () => {
    const m = model(
      [x],
      [node("shape", "Shape", ["x"], ["s"]), node("relu", "Relu", ["x"], ["r"]), node("add", "Add", ["r", "w"], ["y"])],
      [y],
      new Map([["w", tensor("float32", [3], [1, 2, 3])]]),
    );
    const { graph, fused } = onnxGraph("g", m, bindInputs(m, { x: [2, 3] }));
    expect(fused).toEqual({});
    expect(graph.name).toBe("g");
    expect(graph.inputs).toEqual(["x"]);
    expect(graph.outputs).toEqual(["y"]);
    expect(graph.values.get("x")).toMatchObject({ shape: [2, 3], dtype: "f32" });
    expect(graph.values.get("y")).toMatchObject({ shape: [2, 3], dtype: "f32" });
    expect(graph.values.has("s")).toBe(false);
  });

  it("shapes that do not fit: the graph's fault when every dimension is its own, else --shape's, with what was bound", () => {
    const fixed = info("x", "float32", [2, 3]);
    const add = (inputs: OnnxValueInfo[]) =>
      model(inputs, [node("add", "Add", ["x", "w"], ["y"])], [y], new Map([["w", tensor("float32", [4], [1, 2, 3, 4])]]));
    const own = add([fixed]);
    const e1 = catchSeec(() => onnxGraph("g", own, bindInputs(own, {})));
    expect([e1.code, e1.file, e1.at]).toEqual(["input.onnx", FILE, "node add#1"]); // the IR node the Add became
    expect(e1.message).toMatch(/^the graph's shapes do not fit together: /);

    const symbolic = add([x]);
    const e2 = catchSeec(() => onnxGraph("g", symbolic, bindInputs(symbolic, {})));
    expect([e2.code, e2.at, e2.hint]).toEqual(["usage.shape", "--shape", "bound: x=1x3; set to 1: n"]);
    expect(e2.message).toMatch(/^the input shapes do not fit together: .* \(at node add#1\)$/);
    const e3 = catchSeec(() => onnxGraph("g", symbolic, bindInputs(symbolic, { x: [5, 3] })));
    expect([e3.code, e3.hint]).toEqual(["usage.shape", "bound: x=5x3"]);
  });

  it("an error that is not the IR's names the model file", () => {
    const m = model([x], [node("t", "Transpose", ["x"], ["y"])], [y]);
    m.nodes[0].attrs = { perm: [0, 5] };
    const e = catchSeec(() => onnxGraph("g", m, bindInputs(m, {})));
    expect([e.code, e.file, e.at]).toEqual(["input.onnx", FILE, "node t"]);
  });
});
