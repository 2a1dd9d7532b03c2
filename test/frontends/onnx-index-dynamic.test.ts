// compiler/frontends/onnx/index.ts on small graphs written here, through the IR interpreter (no
// wasm): one dimension kept symbolic (`--shape x=1x?8x4`) lowered to one graph that gives, at each
// length, what the graph computes at that length; what the build is told (the note, the dims); each
// refusal of --shape with its code, message and `at`; a graph that holds at the maximum but not at a
// shorter length, named with the length; position tables of more than 64 Ki elements sliced by the
// length; and the element types a caller exchanges (an output typed by folding, an unused input).
import { describe, expect, it } from "vitest";
import { lowerOnnx, type InputShape } from "../../compiler/frontends/onnx/index.js";
import type { OnnxAttr, OnnxModel, OnnxNode, OnnxValueInfo } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxDType, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { catchSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";

const FILE = "/models/dynamic.onnx";

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs: Record<string, OnnxAttr> = {}): OnnxNode => ({
  name,
  op,
  domain: "",
  inputs,
  outputs,
  attrs,
});
const info = (name: string, dtype: OnnxDType | undefined, dims: (number | string)[]): OnnxValueInfo => ({
  name,
  elementType: dtype ?? "string",
  dtype,
  dims,
});

function model(
  nodes: OnnxNode[],
  inputs: OnnxValueInfo[],
  outputs: OnnxValueInfo[],
  initializers: Record<string, OnnxTensor> = {},
): OnnxModel {
  return {
    file: FILE,
    opsets: new Map([["", 17]]),
    producer: "",
    nodes,
    inputs,
    outputs,
    initializers: new Map(Object.entries(initializers)),
  };
}

const i64 = (data: number[], shape = [data.length]) => tensor("int64", shape, data);

/** y = x + table[0:T] (the first T rows of a [rows, W] position table, T from x's shape), x [1, dim, W]. */
function positionTable(W: number, rows: number, dim: string) {
  const table = randomF32(rows * W, 7, 1);
  const m = model(
    [
      node("shape", "Shape", ["x"], ["s"]),
      node("length", "Gather", ["s", "one"], ["T"], { axis: 0 }),
      node("ends", "Unsqueeze", ["T", "zero"], ["end"]),
      node("rows", "Slice", ["table", "zero", "end", "zero"], ["pe"]),
      node("add", "Add", ["x", "pe"], ["y"]),
    ],
    [info("x", "float32", [1, dim, W])],
    [info("y", "float32", [1, dim, W])],
    { table: tensor("float32", [rows, W], table), one: i64([1], []), zero: i64([0]) },
  );
  return { m, table };
}

describe("lowerOnnx with one dimension kept symbolic (--shape x=1x?max)", () => {
  it("one graph whose interpreter gives x + table[0:T] at every length, with a note naming the dimension", () => {
    const W = 4;
    const { m, table } = positionTable(W, 8, "seq");
    const load = lowerOnnx(m, "dyn", { x: [1, { max: 8 }, W] });
    expect(load.notes).toEqual([`x's dimension 1 ("seq") stays symbolic (T), from 1 to 8`]);
    expect(load.defaulted).toEqual([]);
    expect(load.fused).toEqual({});
    expect(load.graph.name).toBe("dyn");
    expect(load.graph.dims).toEqual({ T: { max: 8 } });
    expect(load.graph.values.get("x")!.shape).toEqual([1, "T", W]);
    const interpreter = new Interpreter(load.graph);
    for (const T of [1, 2, 5, 8]) {
      const x = randomF32(T * W, 20 + T, 1);
      const y = interpreter.run({ x }).y;
      expect(y.shape, `at ${T}`).toEqual([1, T, W]);
      expect(Array.from(y.data), `at ${T}`).toEqual(Array.from(x, (v, i) => Math.fround(v + table[i])));
    }
  });

  it("a position table of more than 64 Ki elements, its rows more than 64 Ki at the lengths probed: the rows at each length", () => {
    // 9000 features: the table [8, 9000] is 72000 elements, its first 7 rows 63000, 8 rows 72000.
    // A table of 10000 features: 7 rows are 70000 elements, whose shape differs from the maximum's.
    for (const W of [9000, 10000]) {
      const { m, table } = positionTable(W, 8, "seq");
      const load = lowerOnnx(m, "dyn", { x: [1, { max: 8 }, W] });
      const interpreter = new Interpreter(load.graph);
      for (const T of [1, 7, 8]) {
        const x = randomF32(T * W, 30 + T, 1);
        const y = interpreter.run({ x }).y.data;
        let bad = 0;
        for (let i = 0; i < x.length; i++) if (y[i] !== Math.fround(x[i] + table[i])) bad++;
        expect([W, T, y.length, bad]).toEqual([W, T, T * W, 0]);
      }
    }
  });

  it("a weight of more than 64 Ki elements, the same at every length: read at each length", () => {
    // y = x + bias, bias [70000]: the lengths probed hold the same values (let go as each is made).
    const W = 70000;
    const bias = randomF32(W, 3, 1);
    const m = model(
      [node("add", "Add", ["x", "bias"], ["y"])],
      [info("x", "float32", [1, "seq", W])],
      [info("y", "float32", [1, "seq", W])],
      {
        bias: tensor("float32", [W], bias),
      },
    );
    const load = lowerOnnx(m, "dyn", { x: [1, { max: 6 }, W] });
    expect(load.graph.values.get("bias")).toMatchObject({ kind: "const", shape: [W] });
    const interpreter = new Interpreter(load.graph);
    for (const T of [1, 4, 6]) {
      const x = randomF32(T * W, 40 + T, 1);
      const y = interpreter.run({ x }).y.data;
      let bad = 0;
      for (let i = 0; i < x.length; i++) if (y[i] !== Math.fround(x[i] + bias[i % W])) bad++;
      expect([T, y.length, bad]).toEqual([T, T * W, 0]);
    }
  });

  it("a constant of more than 64 Ki elements computed from the length is refused, as a small one is (it was read as the maximum's)", () => {
    // c = T · ones[W] (W features), y = x + c: at 3 tokens the graph computes x + 3. Before the fix a
    // c of 70000 elements was compared by shape only, merged as the maximum's and gave x + 8 at 3 tokens.
    for (const W of [1000, 70000]) {
      const m = model(
        [
          node("shape", "Shape", ["x"], ["s"]),
          node("length", "Gather", ["s", "one"], ["T"], { axis: 0 }),
          node("float", "Cast", ["T"], ["Tf"], { to: 1 }),
          node("scale", "Mul", ["ones", "Tf"], ["c"]),
          node("add", "Add", ["x", "c"], ["y"]),
        ],
        [info("x", "float32", [1, "seq", W])],
        [info("y", "float32", [1, "seq", W])],
        { ones: tensor("float32", [W], new Float32Array(W).fill(1)), one: i64([1], []) },
      );
      const e = catchSeec(() => lowerOnnx(m, "dyn", { x: [1, { max: 8 }, W] }));
      expect([W, e.code, e.message, e.file]).toEqual([
        W,
        "unsupported.dynamic_shape",
        `x's dimension 1 ("seq") cannot stay symbolic: the constant "c" is computed from the length`,
        FILE,
      ]);
      // At a fixed length it holds.
      const y = new Interpreter(lowerOnnx(m, "fixed", { x: [1, 3, W] }).graph).run({ x: new Float32Array(3 * W) }).y.data;
      expect([y[0], y[3 * W - 1]]).toEqual([3, 3]);
    }
  });

  it("an anonymous dimension: the note names the input and axis only", () => {
    const { m } = positionTable(4, 8, "");
    const load = lowerOnnx(m, "dyn", { x: [1, { max: 5 }, 4] });
    expect(load.notes).toEqual([`x's dimension 1 stays symbolic (T), from 1 to 5`]);
    expect(load.graph.dims).toEqual({ T: { max: 5 } });
  });

  it("two inputs sharing the dimension, both marked: one T", () => {
    const m = model(
      [node("add", "Add", ["a", "b"], ["y"])],
      [info("a", "float32", [1, "seq"]), info("b", "float32", [1, "seq"])],
      [info("y", "float32", [1, "seq"])],
    );
    const load = lowerOnnx(m, "two", { a: [1, { max: 6 }], b: [1, { max: 6 }] });
    expect(load.notes).toEqual([`a's dimension 1 ("seq") stays symbolic (T), from 1 to 6`]);
    const y = new Interpreter(load.graph).run({ a: Float32Array.of(1, 2, 3), b: Float32Array.of(10, 20, 30) }).y;
    expect([y.shape, Array.from(y.data)]).toEqual([
      [1, 3],
      [11, 22, 33],
    ]);
    // Another input given a number on another dimension is bound to it.
    const m2 = model(
      [node("add", "Add", ["a", "w"], ["y"])],
      [info("a", "float32", ["seq", "n"]), info("w", "float32", [1, "n"])],
      [info("y", "float32", ["seq", "n"])],
    );
    const load2 = lowerOnnx(m2, "two", { a: [{ max: 6 }, 2], w: [1, 2] });
    const y2 = new Interpreter(load2.graph).run({ a: Float32Array.of(1, 2, 3, 4, 5, 6), w: Float32Array.of(10, 20) }).y;
    expect([y2.shape, Array.from(y2.data)]).toEqual([
      [3, 2],
      [11, 22, 13, 24, 15, 26],
    ]);
  });

  it("without a ? mark the graph is lowered at the sizes given, with no note", () => {
    const { m } = positionTable(4, 8, "seq");
    const load = lowerOnnx(m, "fixed", { x: [1, 3, 4] });
    expect(load.notes).toBeUndefined();
    expect(load.graph.dims ?? {}).toEqual({});
    expect(load.graph.values.get("x")!.shape).toEqual([1, 3, 4]);
  });
});

describe("lowerOnnx refuses a --shape that cannot keep a dimension symbolic", () => {
  const usage = (m: OnnxModel, shapes: Record<string, InputShape>) => {
    const e = catchSeec(() => lowerOnnx(m, "dyn", shapes));
    expect([e.code, e.at]).toEqual(["usage.shape", "--shape"]);
    return e.message;
  };
  const two = (da: string, db: string) =>
    model(
      [node("add", "Add", ["a", "b"], ["y"])],
      [info("a", "float32", [1, da, 4]), info("b", "float32", [1, db, 4])],
      [info("y", "float32", [1, "seq", 4])],
    );

  it("a dimension the graph fixes", () => {
    expect(usage(two("seq", "seq"), { a: [1, 8, { max: 8 }] })).toBe(
      "--shape a: dimension 2 is fixed at 4 in the graph; only a symbolic one can stay symbolic",
    );
  });

  it("two maxima", () => {
    expect(usage(two("seq", "seq"), { a: [1, { max: 8 }, 4], b: [1, { max: 16 }, 4] })).toBe(
      "the dimensions marked ? must have one maximum: they are one dimension",
    );
    expect(usage(two("seq", "seq"), { a: [1, { max: 16 }, 4], b: [1, { max: 8 }, 4] })).toBe(
      "the dimensions marked ? must have one maximum: they are one dimension",
    );
  });

  it("two dimensions the graph names differently, or two anonymous ones", () => {
    expect(usage(two("s", "t"), { a: [1, { max: 8 }, 4], b: [1, { max: 8 }, 4] })).toBe(
      "one dimension can stay symbolic per build, and a batch beside it (the first dimension of every input that has it); --shape marks a[1], b[1], which the graph does not name as one",
    );
    expect(usage(two("", ""), { a: [1, { max: 8 }, 4], b: [1, { max: 8 }, 4] })).toBe(
      "one dimension can stay symbolic per build, and a batch beside it (the first dimension of every input that has it); --shape marks a[1], b[1], which the graph does not name as one",
    );
    expect(usage(two("seq", "seq"), { a: [{ max: 8 }, { max: 8 }, 4] })).toMatch(/^--shape a: dimension 0 is fixed at 1 in the graph/);
  });

  it("a maximum below 5 (the lengths probed must differ); 5 is taken", () => {
    expect(usage(two("seq", "seq"), { a: [1, { max: 4 }, 4] })).toBe(
      "a symbolic dimension's maximum must be at least 5; give a fixed size below that",
    );
    expect(lowerOnnx(two("seq", "seq"), "dyn", { a: [1, { max: 5 }, 4] }).notes).toEqual([
      `a's dimension 1 ("seq") stays symbolic (T), from 1 to 5`,
    ]);
  });

  it("an input given a number on the dimension another keeps symbolic", () => {
    expect(usage(two("seq", "seq"), { a: [1, { max: 8 }, 4], b: [1, 8, 4] })).toBe(
      '--shape b: dimension 1 is "seq", which a keeps symbolic: write it ?8 too, or leave b out',
    );
    // An anonymous dimension names nothing another input could share: b is bound to 8, and the graph,
    // which adds a and b, is refused at the first shorter length instead.
    const e = catchSeec(() => lowerOnnx(two("", ""), "dyn", { a: [1, { max: 8 }, 4], b: [1, 8, 4] }));
    expect([e.code, e.message]).toEqual([
      "unsupported.dynamic_shape",
      "a's dimension 1 cannot stay symbolic: at 7 tokens, the input shapes do not fit together: shapes [1, 7, 4] and [1, 8, 4] do not broadcast (at node add#1)",
    ]);
  });

  it("an input the graph does not have: refused by name, as at a fixed length", () => {
    const cases: Record<string, InputShape>[] = [{ nope: [1, { max: 8 }] }, { a: [1, { max: 8 }, 4], nope: [3] }];
    for (const shapes of cases) {
      const e = catchSeec(() => lowerOnnx(two("seq", "seq"), "dyn", shapes));
      expect([e.code, e.message, e.hint]).toEqual([
        "usage.shape",
        '--shape names "nope", which is not an input of the graph',
        "inputs: a, b",
      ]);
    }
  });
});

describe("lowerOnnx: a graph that holds at the maximum but not at a shorter length", () => {
  /** y = x[:, index] (Gather along the length): index past the end below index + 1 tokens. */
  const gather = (index: number) =>
    model([node("pick", "Gather", ["x", "i"], ["y"], { axis: 1 })], [info("x", "float32", [1, "seq", 2])], [info("y", "float32", [1, 2])], {
      i: i64([index], []),
    });

  it("refused as unsupported.dynamic_shape, naming the length, the reason and the node", () => {
    const fixed = catchSeec(() => lowerOnnx(gather(6), "g", { x: [1, 6, 2] }));
    const e = catchSeec(() => lowerOnnx(gather(6), "g", { x: [1, { max: 8 }, 2] }));
    expect([e.code, e.message, e.file, e.at, e.hint]).toEqual([
      "unsupported.dynamic_shape",
      `x's dimension 1 ("seq") cannot stay symbolic: at 6 tokens, ${fixed.message}`,
      FILE,
      fixed.at,
      "build at a fixed length (--shape with a number)",
    ]);
    expect(fixed.at).toBe("node pick");
    const one = catchSeec(() => lowerOnnx(gather(1), "g", { x: [1, { max: 8 }, 2] }));
    expect(one.message).toMatch(/^x's dimension 1 \("seq"\) cannot stay symbolic: at 1 token, /);
    // At every length probed it holds: lowered.
    const ok = lowerOnnx(gather(0), "g", { x: [1, { max: 8 }, 2] });
    const y = new Interpreter(ok.graph).run({ x: Float32Array.of(3, 4, 5, 6, 7, 8) }).y;
    expect(Array.from(y.data)).toEqual([3, 4]);
  });
});

describe("lowerFixed's element types", () => {
  it("an output the graph declares no type for has the type folding found (QuantizeLinear's uint8)", () => {
    const m = model([node("q", "QuantizeLinear", ["x", "scale", "zp"], ["y"])], [info("x", "float32", [3])], [info("y", undefined, [3])], {
      scale: tensor("float32", [], [0.5]),
      zp: tensor("uint8", [], [10]),
    });
    const load = lowerOnnx(m, "q", {});
    expect(load.graph.values.get("y")!.elementType).toBe("uint8");
    const y = new Interpreter(load.graph).run({ x: Float32Array.of(1, -2, 100) }).y;
    expect(Array.from(y.data)).toEqual([12, 6, 210]);
  });

  it("a declared output type wins over folding's", () => {
    const m = model([node("q", "QuantizeLinear", ["x", "scale", "zp"], ["y"])], [info("x", "float32", [3])], [info("y", "uint8", [3])], {
      scale: tensor("float32", [], [0.5]),
      zp: tensor("uint8", [], [10]),
    });
    expect(lowerOnnx(m, "q", {}).graph.values.get("y")!.elementType).toBe("uint8");
  });
});
