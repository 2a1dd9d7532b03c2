// The IR's small helpers, with the exact values and messages callers see: a tensor looked up by
// name, symbolic dims bound (or not), who produces and reads each tensor, shapes printed, and
// buffers allocated for each dtype.
import { describe, expect, it } from "vitest";
import {
  allocate,
  bindShape,
  DTYPE_BYTES,
  elementCount,
  formatShape,
  graphIndex,
  maxDims,
  value,
  type Graph,
  type Node,
} from "../../compiler/ir/graph.js";
import { catchSeec } from "../helpers/errors.js";

/** y = MatMul(x, x); z = Add(y, x): x read by both nodes, and twice by the first. */
function square(): Graph {
  const nodes: Node[] = [
    { name: "sq", op: "MatMul", inputs: ["x", "x"], outputs: ["y"], attrs: {} },
    { name: "sum", op: "Add", inputs: ["y", "x"], outputs: ["z"], attrs: {} },
  ];
  return {
    name: "square",
    values: new Map([
      ["x", { name: "x", kind: "input", dtype: "f32", shape: ["T", 4] }],
      ["y", { name: "y", kind: "activation", dtype: "f32", shape: ["T", 4] }],
      ["z", { name: "z", kind: "activation", dtype: "f32", shape: ["T", 4] }],
    ]),
    nodes,
    inputs: ["x"],
    outputs: ["z"],
    dims: { T: { max: 7 }, S: { max: 3 } },
    model: { family: "graph", config: {} },
  };
}

describe("graph helpers", () => {
  it("value() returns the tensor of that name", () => {
    const graph = square();
    expect(value(graph, "y")).toBe(graph.values.get("y"));
  });

  it("value() of a name the graph lacks is internal.ir, naming the tensor and the graph", () => {
    const e = catchSeec(() => value(square(), "w"));
    expect([e.code, e.message]).toEqual(["internal.ir", 'tensor "w" is not in graph square']);
  });

  it("bindShape() keeps numbers and replaces each symbolic dim by its binding, 0 included", () => {
    expect(bindShape(["T", 4, "S", 1], { T: 7, S: 3 })).toEqual([7, 4, 3, 1]);
    expect(bindShape(["T", 2], { T: 0 })).toEqual([0, 2]);
    expect(bindShape([], {})).toEqual([]);
  });

  it("bindShape() of a symbolic dim with no binding is internal.ir, naming the dim", () => {
    const e = catchSeec(() => bindShape([2, "S"], { T: 7 }));
    expect([e.code, e.message]).toEqual(["internal.ir", 'symbolic dimension "S" has no binding']);
  });

  it("maxDims() gives each symbolic dim its maximum", () => {
    expect(maxDims(square())).toEqual({ T: 7, S: 3 });
  });

  it("graphIndex() gives each tensor's producer and its readers in order, a node reading it twice once", () => {
    const graph = square();
    const { producer, readers } = graphIndex(graph);
    expect([...producer].map(([t, n]) => `${t} ${n.name}`)).toEqual(["y sq", "z sum"]);
    expect([...readers].map(([t, ns]) => `${t} ${ns.map((n) => n.name).join(",")}`)).toEqual(["x sq,sum", "y sum"]);
    expect(readers.get("x")![0]).toBe(graph.nodes[0]);
  });

  it("elementCount() multiplies the dims: 1 for a scalar, 0 with a zero dim", () => {
    expect(elementCount([2, 3, 4])).toBe(24);
    expect(elementCount([])).toBe(1);
    expect(elementCount([0, 5])).toBe(0);
  });

  it("formatShape() prints dims comma-separated in brackets, symbolic ones by name", () => {
    expect(formatShape(["T", 3, 64])).toBe("[T, 3, 64]");
    expect(formatShape([5])).toBe("[5]");
    expect(formatShape([])).toBe("[]");
  });

  it.each([
    ["f32", Float32Array, 4],
    ["i32", Int32Array, 4],
    ["i8", Int8Array, 1],
  ] as const)("allocate(%s) gives a zeroed %s of the length asked, %i bytes an element", (dtype, type, bytes) => {
    const data = allocate(dtype, 5);
    expect(data).toBeInstanceOf(type);
    expect(Array.from(data)).toEqual([0, 0, 0, 0, 0]);
    expect([DTYPE_BYTES[dtype], data.byteLength]).toEqual([bytes, 5 * bytes]);
  });

  it("DTYPE_BYTES has exactly the three dtypes", () => {
    expect(DTYPE_BYTES).toEqual({ f32: 4, i32: 4, i8: 1 });
  });
});
