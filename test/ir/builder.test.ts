// The graph builder (compiler/ir/builder.ts): every node's output typed by its op as it is added,
// constants checked against their shapes and typed by their arrays (or read on demand), and the
// mistakes a frontend could make refused by name.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { isDeferred } from "../../compiler/ir/graph.js";
import { catchSeec } from "../helpers/errors.js";

const builder = () => new GraphBuilder("g", { family: "encoder", config: {} });

describe("GraphBuilder", () => {
  it("types constants by their arrays, reads deferred ones on demand, and types each node's output by its op", () => {
    const b = builder();
    b.dim("T", 4);
    const x = b.input("x", "f32", ["T", 3]);
    const w = b.constant("w", new Float32Array(6), [2, 3]);
    const ids = b.constant("ids", Int32Array.of(1, 0), [2]);
    const q = b.constant("q", new Int8Array(4), [2, 2]);
    let reads = 0;
    const lazy = b.constant("lazy", { length: 6, read: () => (reads++, Float32Array.of(1, 2, 3, 4, 5, 6)) }, [2, 3]);
    const y = b.node("Linear", "y", [x, w]);
    b.output(y);
    const g = b.finish();
    expect([g.inputs, g.outputs, g.dims, g.nodes.map((n) => [n.name, n.op, n.inputs])]).toEqual([
      ["x"],
      ["y"],
      { T: { max: 4 } },
      [["y", "Linear", ["x", "w"]]],
    ]);
    expect(["w", "ids", "q", "lazy", "y"].map((n) => g.values.get(n)!.dtype)).toEqual(["f32", "i32", "i8", "f32", "f32"]);
    expect(g.values.get("y")).toMatchObject({ kind: "activation", shape: ["T", 2] });
    expect(isDeferred(g.values.get(lazy)!)).toBe(true);
    expect(reads).toBe(0);
    expect(Array.from(g.values.get(lazy)!.data!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect([b.shapeOf(w), b.dtypeOf(ids), b.dtypeOf(q)]).toEqual([[2, 3], "i32", "i8"]);
  });

  it("refuses a constant of the wrong size, a tensor defined twice, an unknown input, and shapes it cannot give", () => {
    const b = builder();
    b.dim("T", 4);
    b.input("x", "f32", ["T", 3]);
    const cases: [() => unknown, string][] = [
      [() => b.constant("w", new Float32Array(5), [2, 3]), 'constant "w" has 5 values for shape [2, 3]'],
      [() => b.constant("s", new Float32Array(3), ["T", 3]), 'constant "s" has 3 values for shape [T, 3]'],
      [() => b.input("x", "f32", [1]), 'tensor "x" is defined twice'],
      [() => b.node("Add", "z", ["x", "nope"]), 'node z (Add) reads unknown tensor "nope"'],
      [() => b.shapeOf("x"), 'tensor "x" has no static shape'],
      [() => b.shapeOf("nope"), 'tensor "nope" has no static shape'],
      [() => b.dtypeOf("nope"), 'tensor "nope" is not in the graph'],
    ];
    for (const [f, message] of cases) expect([catchSeec(f).code, catchSeec(f).message]).toEqual(["internal.ir", message]);
  });
});
