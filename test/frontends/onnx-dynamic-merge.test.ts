// compiler/frontends/onnx/dynamic.ts's mergeLowerings on IR graphs written here, one per probe
// length (what lowering an ONNX graph at max, max − 1, max − 2, 2 and 1 gives): the merged graph,
// bound at each length, is that length's graph again (attributes affine and quadratic in T, Copy
// strides nothing reads, constants read as the first rows of the maximum's); and every refusal with
// its message and where. test/frontends/onnx-index-dynamic.test.ts runs whole ONNX graphs through it.
import { describe, expect, it } from "vitest";
import { MIN_DYNAMIC_MAX, mergeLowerings, probeLengths } from "../../compiler/frontends/onnx/dynamic.js";
import { bindAttrs } from "../../compiler/ir/affine.js";
import type { Attrs, Graph, Node, Value } from "../../compiler/ir/graph.js";
import { catchSeec } from "../helpers/errors.js";

const MAX = 8;
const LENGTHS = probeLengths(MAX);
const FILE = "/models/m.onnx";

interface Parts {
  nodes: Node[];
  values: Value[];
}

const graph = ({ nodes, values }: Parts): Graph => ({
  name: "g",
  values: new Map(values.map((v) => [v.name, v])),
  nodes,
  inputs: values.filter((v) => v.kind === "input").map((v) => v.name),
  outputs: ["y"],
  dims: {},
  model: { family: "graph" } as Graph["model"],
});

const node = (name: string, op: string, inputs: string[], attrs: Attrs): Node => ({
  name,
  op: op as Node["op"],
  inputs,
  outputs: [`${name}:out`],
  attrs,
});
const value = (name: string, kind: Value["kind"], shape: number[], data?: Float32Array): Value => ({
  name,
  kind,
  dtype: "f32",
  shape,
  ...(data ? { data } : {}),
});

/** The graphs at every probe length, from a function of the length. */
const at = (f: (T: number) => Parts) => LENGTHS.map((T) => graph(f(T)));
const merge = (f: (T: number) => Parts) => mergeLowerings(at(f), MAX, 'input "x"\'s dimension 1', FILE);
const refusal = (f: (T: number) => Parts) => {
  const e = catchSeec(() => merge(f));
  return [e.code, e.message.replace(`input "x"'s dimension 1 cannot stay symbolic: `, ""), e.at, e.file];
};

/** A well-formed graph: x [T, 4], a position table [T, 4] folded from the length, and nodes whose attributes follow T. */
const base = (T: number, extra: Partial<Record<string, Attrs[string]>> = {}): Parts => ({
  values: [
    value("x", "input", [T, 4]),
    value(
      "table",
      "const",
      [T, 4],
      Float32Array.from({ length: 4 * T }, (_, i) => i * 0.5),
    ),
    value("w", "const", [4], Float32Array.of(1, 2, 3, 4)),
    value("y", "activation", [T, 4]),
  ],
  nodes: [
    node("add", "Map", ["x", "table"], { fn: "add", dtype: "f32" }),
    node("copy", "Copy", ["add:out"], { shape: [T, 4], strides: [4, 1], offset: 4 * T - 4, ...extra }),
    node("count", "Reduce", ["copy:out"], { size: 3 * T * T + 2 * T + 1, axes: [0] }),
  ],
});

describe("mergeLowerings", () => {
  it("probes the maximum, one and two less, 2 and 1; a maximum of at least 5", () => {
    expect(LENGTHS).toEqual([8, 7, 6, 2, 1]);
    expect(MIN_DYNAMIC_MAX).toBe(5);
    expect(new Set(probeLengths(MIN_DYNAMIC_MAX)).size).toBe(5);
  });

  it("gives, bound at each length, the attributes of that length's graph: affine and quadratic entries, the rest as they are", () => {
    const merged = merge((T) => base(T));
    expect(merged.dims).toEqual({ T: { max: MAX } });
    const byName = new Map(merged.nodes.map((n) => [n.name, n]));
    expect(byName.get("copy")!.attrs).toEqual({ shape: ["1*T+0", 4], strides: [4, 1], offset: "4*T-4" });
    expect(byName.get("count")!.attrs).toEqual({ size: "3*T^2+2*T+1", axes: [0] });
    expect(byName.get("add")!.attrs).toEqual({ fn: "add", dtype: "f32" });
    for (const T of [1, 2, 3, 5, 8]) {
      const want = new Map(base(T).nodes.map((n) => [n.name, n.attrs]));
      for (const n of merged.nodes.filter((m) => want.has(m.name)))
        expect(bindAttrs(n.attrs, { T }), `${n.name} at ${T}`).toEqual(want.get(n.name));
    }
    expect(merged.values.get("x")).toEqual(value("x", "input", ["T" as never, 4]));
    expect(merged.values.get("w")).toEqual(base(MAX).values[2]);
  });

  it("reads a constant folded from the length through the maximum's rows: a Copy of its first T rows, first of all nodes", () => {
    const merged = merge((T) => base(T));
    expect(merged.values.get("table:max")).toEqual({ ...base(MAX).values[1], name: "table:max" });
    expect(merged.values.get("table")).toEqual({ name: "table", kind: "activation", dtype: "f32", shape: ["T", 4] });
    expect(merged.nodes[0]).toEqual({
      name: "table",
      op: "Copy",
      inputs: ["table:max"],
      outputs: ["table"],
      attrs: { shape: ["1*T+0", 4], strides: [4, 1], offset: 0 },
    });
    expect(merged.nodes.map((n) => n.name)).toEqual(["table", "add", "copy", "count"]);
  });

  it("takes any value for a Copy's stride along a dimension of 1, at the lengths where it is 1", () => {
    // Along a dimension of size 1 at every length the stride is never read: the maximum's is kept.
    const ones = merge((T) => base(T, { shape: [1, 4], strides: [T * T * T, 1] }));
    expect(ones.nodes.find((n) => n.name === "copy")!.attrs.strides).toEqual([512, 1]);
    // Of size T − 1 the dimension is 1 at length 2: its stride there (here 0) is not checked; at the others it is affine.
    const short = merge((T) => base(T, { shape: [T - 1, 4], strides: [T === 2 ? 0 : 4 * T, 1] }));
    expect(short.nodes.find((n) => n.name === "copy")!.attrs.strides).toEqual(["4*T+0", 1]);
    // Of size T, 1 at length 1 only: the stride there (99) is not checked.
    const first = merge((T) => base(T, { strides: [T === 1 ? 99 : 4 * T, 1] }));
    expect(first.nodes.find((n) => n.name === "copy")!.attrs.strides).toEqual(["4*T+0", 1]);
    // 1 at the maximum but not at the two below ((T − 8)² + 1): nothing to fit from.
    expect(refusal((T) => base(T, { shape: [(T - MAX) ** 2 + 1, 4], strides: [T, 1] }))).toEqual([
      "unsupported.dynamic_shape",
      "attribute strides[0] cannot be fitted",
      "node copy (Copy)",
      FILE,
    ]);
  });

  it("refuses a number that is not a polynomial of degree 2 in the length, naming its values at each length and the node", () => {
    const e = refusal((T) => base(T, { offset: T ** 3 }));
    expect(e).toEqual([
      "unsupported.dynamic_shape",
      "attribute offset is 512 at 8, 343 at 7, 216 at 6, 8 at 2, 1 at 1: not a polynomial of degree 2 or less in the length",
      "node copy (Copy)",
      FILE,
    ]);
    // Affine from 2 up but not at 1 (a slice of the last two tokens): caught by the check at 1.
    expect(refusal((T) => base(T, { offset: T === 1 ? 5 : 2 * T - 2 }))[1]).toBe(
      "attribute offset is 14 at 8, 12 at 7, 10 at 6, 2 at 2, 5 at 1: not a polynomial of degree 2 or less in the length",
    );
    // Quadratic in the three largest, something else at 2.
    expect(refusal((T) => base(T, { offset: T === 2 ? 5 : T * T }))[1]).toBe(
      "attribute offset is 64 at 8, 49 at 7, 36 at 6, 5 at 2, 1 at 1: not a polynomial of degree 2 or less in the length",
    );
    expect(refusal((T) => base(T, { strides: [4, T % 2] }))[1]).toBe(
      "attribute strides[1] is 0 at 8, 1 at 7, 0 at 6, 0 at 2, 1 at 1: not a polynomial of degree 2 or less in the length",
    );
  });

  it("refuses an attribute that changes otherwise: a list entry that is not a number, a string, a list of another length", () => {
    expect(refusal((T) => base(T, { strides: [T === 1 ? "a" : 4, 1] }))).toEqual([
      "unsupported.dynamic_shape",
      "attribute strides[0] is not numeric",
      "node copy (Copy)",
      FILE,
    ]);
    expect(refusal((T) => base(T, { mode: T === 2 ? "edge" : "constant" }))).toEqual([
      "unsupported.dynamic_shape",
      "attribute mode changes with the length",
      "node copy (Copy)",
      FILE,
    ]);
    expect(refusal((T) => base(T, { strides: T === 6 ? [4, 1, 1] : [4, 1] }))[1]).toBe("attribute strides changes with the length");
    expect(refusal((T) => base(T, { strides: T === 6 ? 4 : [4, 1] }))[1]).toBe("attribute strides changes with the length");
  });

  it("refuses nodes that change with the length: another op, name or inputs, or a node absent at a length", () => {
    const swapped = (T: number): Parts => {
      const p = base(T);
      if (T === 2) p.nodes[1] = { ...p.nodes[1], op: "Map" };
      return p;
    };
    expect(refusal(swapped)).toEqual([
      "unsupported.dynamic_shape",
      "its nodes change with the length (node 1, copy (Copy) reading add:out at 8 tokens, is copy (Copy) reading add:out at 7; copy (Copy) reading add:out at 6; copy (Map) reading add:out at 2; copy (Copy) reading add:out at 1)",
      undefined,
      FILE,
    ]);
    const renamed = (T: number): Parts => {
      const p = base(T);
      if (T === 7) p.nodes[0] = { ...p.nodes[0], name: "plus" };
      return p;
    };
    expect(refusal(renamed)[1]).toMatch(
      /^its nodes change with the length \(node 0, add \(Map\) reading x, table at 8 tokens, is .*plus \(Map\) reading x, table at 7;/,
    );
    const rewired = (T: number): Parts => {
      const p = base(T);
      if (T === 1) p.nodes[0] = { ...p.nodes[0], inputs: ["table", "x"] };
      return p;
    };
    expect(refusal(rewired)[1]).toContain("add (Map) reading table, x at 1)");
    const fewer = (T: number): Parts => {
      const p = base(T);
      if (T === 6) p.nodes.pop();
      return p;
    };
    expect(refusal(fewer)[1]).toBe(
      "its nodes change with the length (node 2, count (Reduce) reading copy:out at 8 tokens, is count (Reduce) reading copy:out at 7; absent at 6; count (Reduce) reading copy:out at 2; count (Reduce) reading copy:out at 1)",
    );
  });

  it("refuses a tensor present at some lengths only, or of another type or rank there", () => {
    const drop = (T: number): Parts => ({ ...base(T), values: base(T).values.filter((v) => T !== 2 || v.name !== "y") });
    expect(refusal(drop)).toEqual([
      "unsupported.dynamic_shape",
      'tensor "y" exists at some lengths only, or changes its type or rank',
      undefined,
      FILE,
    ]);
    const retype = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) => (T === 1 && v.name === "y" ? { ...v, dtype: "i32" } : v)),
    });
    expect(refusal(retype)[1]).toBe('tensor "y" exists at some lengths only, or changes its type or rank');
    const rerank = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) => (T === 7 && v.name === "y" ? { ...v, shape: [T, 4, 1] } : v)),
    });
    expect(refusal(rerank)[1]).toBe('tensor "y" exists at some lengths only, or changes its type or rank');
    const rekind = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) => (T === 6 && v.name === "y" ? { ...v, kind: "state" } : v)),
    });
    expect(refusal(rekind)[1]).toBe('tensor "y" exists at some lengths only, or changes its type or rank');
  });

  it("refuses a dimension that follows the length other than as T itself", () => {
    const twice = (T: number): Parts => ({ ...base(T), values: [...base(T).values, value("z", "activation", [2 * T])] });
    expect(refusal(twice)).toEqual([
      "unsupported.dynamic_shape",
      'dimension 0 of tensor "z" is 2 * T; only T itself can be symbolic',
      undefined,
      FILE,
    ]);
    const shifted = (T: number): Parts => ({ ...base(T), values: [...base(T).values, value("z", "activation", [4, T + 1])] });
    expect(refusal(shifted)[1]).toBe('dimension 1 of tensor "z" is 1 + T; only T itself can be symbolic');
    const square = (T: number): Parts => ({ ...base(T), values: [...base(T).values, value("z", "activation", [T * T])] });
    expect(refusal(square)[1]).toBe('dimension 0 of tensor "z" is T * T; only T itself can be symbolic');
    const plus = (T: number): Parts => ({ ...base(T), values: [...base(T).values, value("z", "activation", [T * T + T])] });
    expect(refusal(plus)[1]).toBe('dimension 0 of tensor "z" is T + T * T; only T itself can be symbolic');
    const cube = (T: number): Parts => ({ ...base(T), values: [...base(T).values, value("z", "activation", [T ** 3])] });
    expect(refusal(cube)[1]).toBe(
      'dimension 0 of tensor "z" is 512 at 8, 343 at 7, 216 at 6, 8 at 2, 1 at 1: not a polynomial of degree 2 or less in the length',
    );
  });

  it("refuses a constant whose values change with the length, or whose rows at a shorter length are not the maximum's first", () => {
    const drifting = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) => (v.name === "w" ? { ...v, data: Float32Array.of(1, 2, 3, T) } : v)),
    });
    expect(refusal(drifting)).toEqual(["unsupported.dynamic_shape", 'the constant "w" is computed from the length', undefined, FILE]);
    const rescaled = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) => (v.name === "table" ? { ...v, data: Float32Array.from({ length: 4 * T }, (_, i) => i / T) } : v)),
    });
    expect(refusal(rescaled)[1]).toBe('the constant "table" at 7 tokens is not the first rows of the one at 8');
    // Equal up to -0 and 0 is not equal: values are compared as Object.is does.
    const signed = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) =>
        v.name === "table" ? { ...v, data: Float32Array.from({ length: 4 * T }, (_, i) => (i === 0 && T === 1 ? -0 : i)) } : v,
      ),
    });
    expect(refusal(signed)[1]).toBe('the constant "table" at 1 tokens is not the first rows of the one at 8');
    // The rows of the last column taken at 2 from elsewhere in the maximum's table.
    const strided = (T: number): Parts => ({
      ...base(T),
      values: base(T).values.map((v) =>
        v.name === "table" ? { ...v, data: Float32Array.from({ length: 4 * T }, (_, i) => (T === 2 && i === 7 ? 8 * 0.5 : i * 0.5)) } : v,
      ),
    });
    expect(refusal(strided)[1]).toBe('the constant "table" at 2 tokens is not the first rows of the one at 8');
  });

  it("names the input and hints at a fixed length", () => {
    const e = catchSeec(() => merge((T) => base(T, { offset: T ** 3 })));
    expect(e.message.startsWith(`input "x"'s dimension 1 cannot stay symbolic: attribute offset is`)).toBe(true);
    expect(e.hint).toBe("build at a fixed length (--shape with a number), once per length you need");
  });
});
