// compiler/frontends/onnx/layout-ops.ts: the ops the ONNX frontend computes itself when it folds
// constants (Constant, ConstantOfShape, Shape, Size, casts, reshapes, transposes, slices, gathers,
// concatenation, Expand, Tile, Range, EyeLike). Each case is a small model whose op reads only
// initializers (so seec folds it, with these functions, at build time); its result, cast to float
// where it is not, is added to a graph input so that the graph computes something at run time. The
// model is lowered with evaluateOnnx and run by the IR interpreter, against onnxruntime-node on the
// same bytes (graph optimizations off, so ORT runs each node as written). Then each refusal, with
// its code, message and `at`. No wasm: the whole file in about a second.
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { lowerOnnx } from "../../compiler/frontends/onnx/index.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tensor } from "../../compiler/frontends/onnx/tensor.js";
import { graphBytes, writeGraph, type Attr, type Const } from "../helpers/onnx-model.js";
import { ortAsWritten } from "../helpers/onnx.js";
import { randomF32 } from "../helpers/random.js";

const { onnx } = onnxProto;
const { FLOAT, INT64, INT32, BOOL, STRING } = onnx.TensorProto.DataType;

interface Case {
  op: string;
  /** The node's inputs: initializer names, "" for an absent one, or "x" (the graph input). */
  inputs: string[];
  constants?: Record<string, Const>;
  attrs?: Record<string, Attr>;
  /** How many outputs the node names (default 1). */
  outputs?: number;
  /** The shape of x, a graph input the op may read (run time: only its shape folds). */
  x?: number[];
  /** ai.onnx opset (default 18). */
  opset?: number;
}

/** The case's node, each output cast to float and added to z (a graph input of one element): y0, y1, … */
function bytes(c: Case): Uint8Array {
  const outs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `c${i}`);
  return graphBytes({
    name: c.op,
    opset: c.opset,
    nodes: [
      { op: c.op, name: "n", inputs: c.inputs, outputs: outs, attrs: c.attrs },
      ...outs.flatMap((o, i) => [
        { op: "Cast", inputs: [o], outputs: [`f${i}`], attrs: { to: FLOAT } },
        { op: "Add", inputs: [`f${i}`, "z"], outputs: [`y${i}`] },
      ]),
    ],
    constants: c.constants,
    inputs: shapes(c),
    outputs: outs.map((_, i) => `y${i}`),
  });
}

/** The graph inputs: z, and x where the op reads it. */
const shapes = (c: Case): Record<string, number[]> => ({ z: [1], ...(c.inputs.includes("x") ? { x: c.x ?? [1] } : {}) });

async function read(c: Case) {
  return readOnnx(await writeGraph(bytes(c)));
}

/** seec's outputs and ONNX Runtime's, checked equal (shapes exactly, values within 1e-6 relative). */
async function againstOrt(c: Case): Promise<{ shape: number[]; data: number[] }[]> {
  const feeds = new Map(
    Object.entries(shapes(c)).map(([name, dims], i) => [
      name,
      tensor(
        "float32",
        dims,
        Array.from(
          randomF32(
            dims.reduce((a, b) => a * b, 1),
            5 + i,
            0.25,
          ),
        ),
      ),
    ]),
  );
  const ours = evaluateOnnx(await read(c), feeds);
  const theirs = await ortAsWritten(bytes(c), feeds);
  const z = feeds.get("z")!.data[0];
  return Array.from({ length: c.outputs ?? 1 }, (_, i) => {
    const got = ours.get(`y${i}`)!;
    const want = theirs[`y${i}`];
    expect(got.shape, `y${i}`).toEqual([...want.dims]);
    const w = Array.from(want.data as Float32Array);
    expect(got.data.length).toBe(w.length);
    for (let k = 0; k < w.length; k++)
      expect(Math.abs(got.data[k] - w[k]), `y${i}[${k}]: ${got.data[k]} vs ${w[k]}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(w[k])));
    // The op's values themselves (z subtracted), for the cases that check them by hand too.
    return { shape: got.shape, data: Array.from(got.data, (v) => Math.round((v - z) * 1e4) / 1e4) };
  });
}

/** What seec says when it refuses the case: `<code>: <message> @ <at>`. */
async function refusal(c: Case): Promise<string> {
  const model = await read(c);
  try {
    lowerOnnx(model, "case", shapes(c));
  } catch (e) {
    const err = e as { code: string; message: string; at?: string; file?: string };
    expect(err.file).toBe(model.file);
    return `${err.code}: ${err.message} @ ${err.at}`;
  }
  return "accepted";
}

const seq = (n: number, from = 0, step = 1) => Array.from({ length: n }, (_, i) => from + i * step);
const f = (
  dims: number[],
  floats = seq(
    dims.reduce((a, b) => a * b, 1),
    1,
  ),
): Const => ({ dims, floats });
const i64 = (dims: number[], int64: number[]): Const => ({ dims, int64 });

describe("folded layout ops against onnxruntime-node", () => {
  const cases: [string, Case][] = [
    // Constant, in each of its forms.
    ["Constant value", { op: "Constant", inputs: [], attrs: { value: { tensor: f([2, 3]) } } }],
    ["Constant value_float", { op: "Constant", inputs: [], attrs: { value_float: { f: 2.5 } } }],
    ["Constant value_int", { op: "Constant", inputs: [], attrs: { value_int: -7 } }],
    ["Constant value_floats", { op: "Constant", inputs: [], attrs: { value_floats: { floats: [1.5, -2, 3] } } }],
    ["Constant value_ints", { op: "Constant", inputs: [], attrs: { value_ints: [4, -5, 6, 9] } }],
    // ConstantOfShape.
    [
      "ConstantOfShape of a float",
      { op: "ConstantOfShape", inputs: ["s"], constants: { s: i64([2], [2, 3]) }, attrs: { value: { tensor: f([1], [1.25]) } } },
    ],
    [
      "ConstantOfShape of an int64",
      { op: "ConstantOfShape", inputs: ["s"], constants: { s: i64([3], [1, 2, 2]) }, attrs: { value: { tensor: i64([1], [7]) } } },
    ],
    ["ConstantOfShape without a value", { op: "ConstantOfShape", inputs: ["s"], constants: { s: i64([1], [4]) } }],
    // Shape and Size.
    ["Shape", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) } }],
    ["Shape of the graph input", { op: "Shape", inputs: ["x"], x: [3, 1, 2] }],
    ["Shape start 1", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: 1 } }],
    ["Shape start -2", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: -2 } }],
    ["Shape end -1", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { end: -1 } }],
    ["Shape start 1 end 3", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: 1, end: 3 } }],
    ["Shape start -9 (clamped to 0)", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: -9 } }],
    ["Shape end 9 (clamped to the rank)", { op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: 2, end: 9 } }],
    ["Size", { op: "Size", inputs: ["d"], constants: { d: f([2, 3, 4]) } }],
    // Casts: to int64 truncates toward zero, to bool is "not zero".
    ["Cast to int64", { op: "Cast", inputs: ["d"], constants: { d: f([6], [-2.7, -1.5, -0.2, 0.2, 1.5, 2.7]) }, attrs: { to: INT64 } }],
    ["Cast to int32", { op: "Cast", inputs: ["d"], constants: { d: f([4], [-3.9, 3.9, 100.5, -0.5]) }, attrs: { to: INT32 } }],
    ["Cast to bool", { op: "Cast", inputs: ["d"], constants: { d: f([4], [0, -0.5, 2, 0]) }, attrs: { to: BOOL } }],
    ["Cast int64 to float", { op: "Cast", inputs: ["d"], constants: { d: i64([3], [-4, 0, 9]) }, attrs: { to: FLOAT } }],
    ["CastLike to int64", { op: "CastLike", inputs: ["d", "like"], constants: { d: f([3], [-1.9, 0.5, 7.9]), like: i64([1], [0]) } }],
    // Reshapes.
    ["Reshape with -1", { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3, 4]), s: i64([2], [4, -1]) } }],
    ["Reshape with 0 (kept)", { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3, 4]), s: i64([3], [0, 4, 3]) } }],
    ["Reshape with 0 and -1", { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3, 4]), s: i64([3], [0, -1, 2]) } }],
    ["Flatten", { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) } }],
    ["Flatten axis 0", { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: 0 } }],
    ["Flatten axis 2", { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: 2 } }],
    ["Flatten axis 3 (the rank)", { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: 3 } }],
    ["Flatten axis -1", { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: -1 } }],
    ["Flatten axis -3 (minus the rank)", { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: -3 } }],
    ["Squeeze every 1", { op: "Squeeze", inputs: ["d"], constants: { d: f([1, 3, 1, 2]) } }],
    ["Squeeze axes input", { op: "Squeeze", inputs: ["d", "a"], constants: { d: f([1, 3, 1, 2]), a: i64([1], [-2]) } }],
    [
      "Squeeze axes attribute (opset 11)",
      { op: "Squeeze", inputs: ["d"], constants: { d: f([1, 3, 1, 2]) }, attrs: { axes: [0] }, opset: 11 },
    ],
    ["Unsqueeze", { op: "Unsqueeze", inputs: ["d", "a"], constants: { d: f([3, 2]), a: i64([2], [0, 3]) } }],
    ["Unsqueeze negative axes", { op: "Unsqueeze", inputs: ["d", "a"], constants: { d: f([3, 2]), a: i64([2], [-1, 1]) } }],
    [
      "Unsqueeze axes attribute (opset 11)",
      { op: "Unsqueeze", inputs: ["d"], constants: { d: f([3, 2]) }, attrs: { axes: [1] }, opset: 11 },
    ],
    // Transpose.
    ["Transpose (reversed)", { op: "Transpose", inputs: ["d"], constants: { d: f([2, 3, 4]) } }],
    ["Transpose perm", { op: "Transpose", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { perm: [1, 2, 0] } }],
    ["Transpose perm of rank 4", { op: "Transpose", inputs: ["d"], constants: { d: f([2, 1, 3, 2]) }, attrs: { perm: [3, 0, 2, 1] } }],
    // Concat and Split.
    ["Concat axis 0", { op: "Concat", inputs: ["a", "b"], constants: { a: f([1, 3]), b: f([2, 3], seq(6, 10)) }, attrs: { axis: 0 } }],
    [
      "Concat axis 1 of three",
      {
        op: "Concat",
        inputs: ["a", "b", "c"],
        constants: { a: f([2, 1]), b: f([2, 3], seq(6, 10)), c: f([2, 2], seq(4, -5)) },
        attrs: { axis: 1 },
      },
    ],
    [
      "Concat axis -1 of rank 3",
      { op: "Concat", inputs: ["a", "b"], constants: { a: f([2, 2, 1]), b: f([2, 2, 2], seq(8, 20)) }, attrs: { axis: -1 } },
    ],
    [
      "Concat axis 1 of rank 3 (rows of several elements)",
      { op: "Concat", inputs: ["a", "b"], constants: { a: f([2, 1, 3]), b: f([2, 2, 3], seq(12, 20)) }, attrs: { axis: 1 } },
    ],
    ["Concat of int64", { op: "Concat", inputs: ["a", "b"], constants: { a: i64([2], [3, 4]), b: i64([1], [-1]) }, attrs: { axis: 0 } }],
    [
      "Split by sizes",
      { op: "Split", inputs: ["d", "s"], constants: { d: f([2, 6]), s: i64([3], [1, 3, 2]) }, attrs: { axis: 1 }, outputs: 3 },
    ],
    ["Split into equal parts (opset 13)", { op: "Split", inputs: ["d"], constants: { d: f([6, 2]) }, outputs: 3, opset: 13 }],
    [
      "Split num_outputs, the last shorter",
      { op: "Split", inputs: ["d"], constants: { d: f([2, 7]) }, attrs: { axis: -1, num_outputs: 3 }, outputs: 3 },
    ],
    [
      "Split sizes as an attribute (opset 11)",
      { op: "Split", inputs: ["d"], constants: { d: f([5, 2]) }, attrs: { split: [2, 3] }, outputs: 2, opset: 11 },
    ],
    ["Split with an empty part", { op: "Split", inputs: ["d", "s"], constants: { d: f([4]), s: i64([3], [2, 0, 2]) }, outputs: 3 }],
    // Slice.
    ["Slice", { op: "Slice", inputs: ["d", "s", "e"], constants: { d: f([4, 5]), s: i64([2], [1, 2]), e: i64([2], [3, 5]) } }],
    [
      "Slice negative starts and ends",
      { op: "Slice", inputs: ["d", "s", "e"], constants: { d: f([4, 5]), s: i64([2], [-3, -4]), e: i64([2], [-1, -1]) } },
    ],
    [
      "Slice with axes and steps",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a", "t"],
        constants: { d: f([4, 7]), s: i64([1], [1]), e: i64([1], [7]), a: i64([1], [1]), t: i64([1], [2]) },
      },
    ],
    [
      "Slice backwards",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a", "t"],
        constants: { d: f([4, 6]), s: i64([2], [-1, 4]), e: i64([2], [-100, 0]), a: i64([2], [0, 1]), t: i64([2], [-1, -2]) },
      },
    ],
    [
      "Slice backwards from past the end",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a", "t"],
        constants: { d: f([6]), s: i64([1], [100]), e: i64([1], [1]), a: i64([1], [0]), t: i64([1], [-2]) },
      },
    ],
    [
      "Slice to a huge end (INT64_MAX written as 2^40)",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a"],
        constants: { d: f([3, 5]), s: i64([1], [2]), e: i64([1], [2 ** 40]), a: i64([1], [-1]) },
      },
    ],
    [
      "Slice backwards from before the start (the spec clamps the start to 0: one element)",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a", "t"],
        constants: { d: f([6]), s: i64([1], [-100]), e: i64([1], [-200]), a: i64([1], [0]), t: i64([1], [-1]) },
      },
    ],
    [
      "Slice one axis by attributes (opset 9)",
      { op: "Slice", inputs: ["d"], constants: { d: f([4, 5]) }, attrs: { starts: [1], ends: [4], axes: [1] }, opset: 9 },
    ],
    [
      "Slice from before the start",
      { op: "Slice", inputs: ["d", "s", "e"], constants: { d: f([5]), s: i64([1], [-100]), e: i64([1], [2]) } },
    ],
    [
      "Slice empty (start past end)",
      { op: "Slice", inputs: ["d", "s", "e"], constants: { d: f([5]), s: i64([1], [4]), e: i64([1], [2]) } },
    ],
    [
      "Slice with starts and ends as attributes (opset 9)",
      { op: "Slice", inputs: ["d"], constants: { d: f([4, 5]) }, attrs: { starts: [1, 0], ends: [3, 4], axes: [0, 1] }, opset: 9 },
    ],
    [
      "Slice without axes attribute (opset 9)",
      { op: "Slice", inputs: ["d"], constants: { d: f([4, 5]) }, attrs: { starts: [2], ends: [4] }, opset: 9 },
    ],
    // Gather.
    ["Gather axis 0", { op: "Gather", inputs: ["d", "i"], constants: { d: f([4, 3]), i: i64([3], [3, 0, -1]) } }],
    [
      "Gather axis 1, 2-D indices",
      { op: "Gather", inputs: ["d", "i"], constants: { d: f([2, 4, 3]), i: i64([2, 2], [1, -4, 3, 2]) }, attrs: { axis: 1 } },
    ],
    ["Gather a scalar index", { op: "Gather", inputs: ["d", "i"], constants: { d: f([3, 4]), i: i64([], [-2]) }, attrs: { axis: -1 } }],
    [
      "Gather of a shape (the exporters' idiom)",
      { op: "Gather", inputs: ["d", "i"], constants: { d: i64([4], [2, 3, 5, 7]), i: i64([], [2]) } },
    ],
    // EyeLike.
    ["EyeLike", { op: "EyeLike", inputs: ["d"], constants: { d: f([3, 4]) } }],
    ["EyeLike k 1", { op: "EyeLike", inputs: ["d"], constants: { d: f([3, 4]) }, attrs: { k: 1 } }],
    ["EyeLike k -2", { op: "EyeLike", inputs: ["d"], constants: { d: f([4, 3]) }, attrs: { k: -2 } }],
    ["EyeLike k past the columns", { op: "EyeLike", inputs: ["d"], constants: { d: f([2, 3]) }, attrs: { k: 3 } }],
    ["EyeLike to int64", { op: "EyeLike", inputs: ["d"], constants: { d: f([3, 3]) }, attrs: { dtype: INT64 } }],
    // Expand, Tile, Range.
    ["Expand", { op: "Expand", inputs: ["d", "s"], constants: { d: f([3, 1]), s: i64([3], [2, 3, 4]) } }],
    [
      "Expand to a smaller shape (broadcast keeps the larger)",
      { op: "Expand", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [1, 3]) } },
    ],
    ["Tile", { op: "Tile", inputs: ["d", "r"], constants: { d: f([2, 3]), r: i64([2], [2, 3]) } }],
    ["Tile once along one axis", { op: "Tile", inputs: ["d", "r"], constants: { d: f([2, 1, 2]), r: i64([3], [1, 3, 2]) } }],
    ["Range of floats", { op: "Range", inputs: ["s", "l", "d"], constants: { s: f([], [0.5]), l: f([], [3]), d: f([], [0.75]) } }],
    ["Range downwards", { op: "Range", inputs: ["s", "l", "d"], constants: { s: i64([], [10]), l: i64([], [1]), d: i64([], [-3]) } }],
    ["Range empty", { op: "Range", inputs: ["s", "l", "d"], constants: { s: i64([], [5]), l: i64([], [1]), d: i64([], [2]) } }],
    ["Identity", { op: "Identity", inputs: ["d"], constants: { d: f([2, 2]) } }],
  ];
  it.each(cases)("%s", async (_, c) => {
    await againstOrt(c);
  });

  // Values checked by hand as well, for the cases ONNX Runtime and seec might share a misreading of.
  it("Shape, Size, Range, Gather and Transpose give the values written out", async () => {
    expect(await againstOrt({ op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: 1, end: -1 } })).toEqual([
      { shape: [2], data: [3, 4] },
    ]);
    expect(await againstOrt({ op: "Shape", inputs: ["d"], constants: { d: f([2, 3, 4, 5]) }, attrs: { start: 3, end: 1 } })).toEqual([
      { shape: [0], data: [] },
    ]);
    expect(await againstOrt({ op: "Size", inputs: ["d"], constants: { d: f([2, 3, 4]) } })).toEqual([{ shape: [1], data: [24] }]);
    expect(
      await againstOrt({ op: "Range", inputs: ["s", "l", "d"], constants: { s: i64([], [10]), l: i64([], [1]), d: i64([], [-3]) } }),
    ).toEqual([{ shape: [3], data: [10, 7, 4] }]);
    expect(await againstOrt({ op: "Gather", inputs: ["d", "i"], constants: { d: f([4, 2]), i: i64([2], [-1, 1]) } })).toEqual([
      { shape: [2, 2], data: [7, 8, 3, 4] },
    ]);
    expect(await againstOrt({ op: "Transpose", inputs: ["d"], constants: { d: f([2, 3]) } })).toEqual([
      { shape: [3, 2], data: [1, 4, 2, 5, 3, 6] },
    ]);
    expect(await againstOrt({ op: "Cast", inputs: ["d"], constants: { d: f([4], [-2.5, 2.5, 0, -0]) }, attrs: { to: INT64 } })).toEqual([
      { shape: [4], data: [-2, 2, 0, 0] },
    ]);
  });
});

describe("layout ops on run-time inputs: shapes learned by running on zeros", () => {
  const cases: [string, Case][] = [
    ["Transpose of x", { op: "Transpose", inputs: ["x"], x: [2, 3, 4], attrs: { perm: [2, 0, 1] } }],
    [
      "Slice of x",
      {
        op: "Slice",
        inputs: ["x", "s", "e", "a", "t"],
        x: [5, 6],
        constants: { s: i64([2], [4, 1]), e: i64([2], [0, 6]), a: i64([2], [0, 1]), t: i64([2], [-2, 2]) },
      },
    ],
    [
      "Slice of x backwards from before the start",
      {
        op: "Slice",
        inputs: ["x", "s", "e", "a", "t"],
        x: [6, 2],
        constants: { s: i64([1], [-100]), e: i64([1], [-200]), a: i64([1], [0]), t: i64([1], [-1]) },
      },
    ],
    ["Gather of x", { op: "Gather", inputs: ["x", "i"], x: [3, 4], constants: { i: i64([2], [2, -3]) }, attrs: { axis: 1 } }],
    ["Split of x", { op: "Split", inputs: ["x"], x: [2, 5], attrs: { axis: 1, num_outputs: 2 }, outputs: 2 }],
    ["Expand of x", { op: "Expand", inputs: ["x", "s"], x: [3, 1], constants: { s: i64([3], [2, 1, 4]) } }],
    ["Tile of x", { op: "Tile", inputs: ["x", "r"], x: [2, 3], constants: { r: i64([2], [3, 1]) } }],
    ["Concat of x and a constant", { op: "Concat", inputs: ["x", "c"], x: [2, 2], constants: { c: f([2, 3]) }, attrs: { axis: 1 } }],
    ["Reshape of x", { op: "Reshape", inputs: ["x", "s"], x: [2, 3, 4], constants: { s: i64([2], [-1, 6]) } }],
  ];
  it.each(cases)("%s", async (_, c) => {
    await againstOrt(c);
  });
});

describe("refusals", () => {
  const at = "@ node n";
  const cases: [string, Case, string][] = [
    [
      "Constant with no value",
      { op: "Constant", inputs: [], attrs: { value_string: "s" } },
      `input.onnx: Constant has no value seec reads ${at}`,
    ],
    [
      "Cast to a string",
      { op: "Cast", inputs: ["d"], constants: { d: f([2]) }, attrs: { to: STRING } },
      `unsupported.onnx_dtype: Cast to element type 8, which seec does not read ${at}`,
    ],
    [
      "Reshape with two -1",
      { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [-1, -1]) } },
      `input.onnx: Reshape to [-1, -1]: dimensions are whole numbers from 0, with at most one -1 ${at}`,
    ],
    [
      "Reshape with -2",
      { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [-2, 3]) } },
      `input.onnx: Reshape to [-2, 3]: dimensions are whole numbers from 0, with at most one -1 ${at}`,
    ],
    [
      "Reshape to another size",
      { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [4, 2]) } },
      `input.onnx: cannot reshape [2, 3] to [4, 2] ${at}`,
    ],
    [
      "Reshape with -1 that does not divide",
      { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [4, -1]) } },
      `input.onnx: cannot reshape [2, 3] to [4, -1] ${at}`,
    ],
    [
      "Reshape of a run-time input with -1 that does not divide",
      { op: "Reshape", inputs: ["x", "s"], x: [2, 3], constants: { s: i64([2], [4, -1]) } },
      `input.onnx: cannot reshape [2, 3] to [4, -1] ${at}`,
    ],
    [
      "Reshape with 0 and allowzero",
      { op: "Reshape", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [0, 6]) }, attrs: { allowzero: 1 } },
      `input.onnx: cannot reshape [2, 3] to [0, 6] ${at}`,
    ],
    [
      "Flatten axis 4 of rank 3",
      { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: 4 } },
      `input.onnx: axis 4 is out of range for Flatten of a tensor of rank 3 ${at}`,
    ],
    [
      "Flatten axis -4 of rank 3",
      { op: "Flatten", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { axis: -4 } },
      `input.onnx: axis -4 is out of range for Flatten of a tensor of rank 3 ${at}`,
    ],
    [
      "Squeeze axis 3 of rank 3",
      { op: "Squeeze", inputs: ["d", "a"], constants: { d: f([1, 3, 1]), a: i64([1], [3]) } },
      `input.onnx: axis 3 is out of range for a tensor of rank 3 ${at}`,
    ],
    [
      "Unsqueeze axis -4 to rank 3",
      { op: "Unsqueeze", inputs: ["d", "a"], constants: { d: f([3, 2]), a: i64([1], [-4]) } },
      `input.onnx: axis -4 is out of range for a tensor of rank 3 ${at}`,
    ],
    [
      "Transpose perm of the wrong length",
      { op: "Transpose", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { perm: [1, 0] } },
      `input.onnx: perm [1, 0] is not a permutation of the 3 axes of [2, 3, 4] ${at}`,
    ],
    [
      "Transpose perm with an axis twice",
      { op: "Transpose", inputs: ["d"], constants: { d: f([2, 3, 4]) }, attrs: { perm: [0, 2, 2] } },
      `input.onnx: perm [0, 2, 2] is not a permutation of the 3 axes of [2, 3, 4] ${at}`,
    ],
    [
      "Transpose perm past the rank",
      { op: "Transpose", inputs: ["d"], constants: { d: f([2, 3]) }, attrs: { perm: [1, 2] } },
      `input.onnx: perm [1, 2] is not a permutation of the 2 axes of [2, 3] ${at}`,
    ],
    ["Concat of no inputs", { op: "Concat", inputs: ["", ""], attrs: { axis: 0 } }, `input.onnx: Concat has no inputs ${at}`],
    [
      "Concat axis 2 of rank 2",
      { op: "Concat", inputs: ["a", "b"], constants: { a: f([2, 2]), b: f([2, 2]) }, attrs: { axis: 2 } },
      `input.onnx: axis 2 is out of range for a tensor of rank 2 ${at}`,
    ],
    [
      "Split sizes that do not add up",
      { op: "Split", inputs: ["d", "s"], constants: { d: f([6]), s: i64([2], [2, 3]) }, outputs: 2 },
      `input.onnx: split [2, 3] does not divide axis 0 of [6] ${at}`,
    ],
    [
      "Split sizes that do not add up, rank 2",
      { op: "Split", inputs: ["d", "s"], constants: { d: f([2, 6]), s: i64([2], [2, 3]) }, attrs: { axis: 1 }, outputs: 2 },
      `input.onnx: split [2, 3] does not divide axis 1 of [2, 6] ${at}`,
    ],
    [
      "Split with a negative size",
      { op: "Split", inputs: ["d", "s"], constants: { d: f([6]), s: i64([2], [8, -2]) }, outputs: 2 },
      `input.onnx: split [8, -2] does not divide axis 0 of [6] ${at}`,
    ],
    [
      "Split axis 1 of rank 1",
      { op: "Split", inputs: ["d"], constants: { d: f([6]) }, attrs: { axis: 1 }, outputs: 2 },
      `input.onnx: axis 1 is out of range for a tensor of rank 1 ${at}`,
    ],
    [
      "Slice with more ends than starts",
      { op: "Slice", inputs: ["d", "s", "e"], constants: { d: f([4, 5]), s: i64([1], [0]), e: i64([2], [1, 1]) } },
      `input.onnx: Slice has 1 starts, 2 ends, 1 axes and 1 steps; they pair up ${at}`,
    ],
    [
      "Slice with more axes than starts",
      { op: "Slice", inputs: ["d", "s", "e", "a"], constants: { d: f([4, 5]), s: i64([1], [0]), e: i64([1], [1]), a: i64([2], [0, 1]) } },
      `input.onnx: Slice has 1 starts, 1 ends, 2 axes and 1 steps; they pair up ${at}`,
    ],
    [
      "Slice with more steps than starts",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a", "t"],
        constants: { d: f([4, 5]), s: i64([1], [0]), e: i64([1], [1]), a: i64([1], [0]), t: i64([2], [1, 1]) },
      },
      `input.onnx: Slice has 1 starts, 1 ends, 1 axes and 2 steps; they pair up ${at}`,
    ],
    [
      "Slice with a step of 0",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a", "t"],
        constants: { d: f([4, 5]), s: i64([2], [0, 0]), e: i64([2], [1, 1]), a: i64([2], [0, 1]), t: i64([2], [1, 0]) },
      },
      `input.onnx: Slice steps [1, 0] must be nonzero whole numbers ${at}`,
    ],
    [
      "Slice naming an axis twice",
      {
        op: "Slice",
        inputs: ["d", "s", "e", "a"],
        constants: { d: f([4, 5]), s: i64([2], [0, 0]), e: i64([2], [1, 1]), a: i64([2], [1, -1]) },
      },
      `input.onnx: Slice names an axis twice: [1, 1] ${at}`,
    ],
    [
      "Slice axis 2 of rank 2",
      { op: "Slice", inputs: ["d", "s", "e", "a"], constants: { d: f([4, 5]), s: i64([1], [0]), e: i64([1], [1]), a: i64([1], [2]) } },
      `input.onnx: axis 2 is out of range for a tensor of rank 2 ${at}`,
    ],
    [
      "Gather index 4 of 4",
      { op: "Gather", inputs: ["d", "i"], constants: { d: f([4, 2]), i: i64([1], [4]) } },
      `input.onnx: Gather index 4 is outside [0, 4) ${at}`,
    ],
    [
      "Gather index -5 of 4",
      { op: "Gather", inputs: ["d", "i"], constants: { d: f([4, 2]), i: i64([2], [0, -5]) } },
      `input.onnx: Gather index -5 is outside [0, 4) ${at}`,
    ],
    [
      "Gather axis 2 of rank 2",
      { op: "Gather", inputs: ["d", "i"], constants: { d: f([4, 2]), i: i64([1], [0]) }, attrs: { axis: 2 } },
      `input.onnx: axis 2 is out of range for a tensor of rank 2 ${at}`,
    ],
    [
      "EyeLike to a string",
      { op: "EyeLike", inputs: ["d"], constants: { d: f([2, 2]) }, attrs: { dtype: STRING } },
      `input.onnx: EyeLike to element type 8, which seec does not read ${at}`,
    ],
    [
      "Range with a step of 0",
      { op: "Range", inputs: ["s", "l", "d"], constants: { s: f([], [0]), l: f([], [3]), d: f([], [0]) } },
      `input.onnx: Range(0, 3, 0) does not count ${at}`,
    ],
    [
      "Range to infinity",
      { op: "Range", inputs: ["s", "l", "d"], constants: { s: f([], [0]), l: f([], [Infinity]), d: f([], [1]) } },
      `input.onnx: Range(0, Infinity, 1) does not count ${at}`,
    ],
    [
      "Range from NaN",
      { op: "Range", inputs: ["s", "l", "d"], constants: { s: f([], [NaN]), l: f([], [3]), d: f([], [1]) } },
      `input.onnx: Range(NaN, 3, 1) does not count ${at}`,
    ],
    [
      "Range by infinity",
      { op: "Range", inputs: ["s", "l", "d"], constants: { s: f([], [0]), l: f([], [3]), d: f([], [-Infinity]) } },
      `input.onnx: Range(0, 3, -Infinity) does not count ${at}`,
    ],
    [
      "Expand to a shape that does not broadcast",
      { op: "Expand", inputs: ["d", "s"], constants: { d: f([2, 3]), s: i64([2], [2, 4]) } },
      `input.onnx: shapes [2, 3] and [2, 4] do not broadcast ${at}`,
    ],
  ];
  it.each(cases)("%s", async (_, c, want) => {
    expect(await refusal(c)).toBe(want);
  });

  it("a Constant's element type: integer division of value_int / value_ints, float of value_float / value_floats", async () => {
    // Two Constant nodes divided: int64 divides to whole numbers, float32 keeps the fraction.
    const divided = async (a: Record<string, Attr>, b: Record<string, Attr>) => {
      const file = await writeGraph({
        nodes: [
          { op: "Constant", name: "p", inputs: [], outputs: ["p"], attrs: a },
          { op: "Constant", name: "q", inputs: [], outputs: ["q"], attrs: b },
          { op: "Div", inputs: ["p", "q"], outputs: ["c0"] },
          { op: "Cast", inputs: ["c0"], outputs: ["f0"], attrs: { to: FLOAT } },
          { op: "Add", inputs: ["f0", "z"], outputs: ["y0"] },
        ],
        inputs: { z: [1] },
        outputs: ["y0"],
      });
      const ours = evaluateOnnx(await readOnnx(file), new Map([["z", tensor("float32", [1], [0])]])).get("y0")!;
      return Array.from(ours.data);
    };
    expect(await divided({ value_int: 7 }, { value_int: 2 })).toEqual([3]);
    expect(await divided({ value_ints: [7, -9] }, { value_ints: [2, 4] })).toEqual([3, -2]);
    expect(await divided({ value_float: { f: 7 } }, { value_float: { f: 2 } })).toEqual([3.5]);
    expect(await divided({ value_floats: { floats: [7, -9] } }, { value_floats: { floats: [2, 4] } })).toEqual([3.5, -2.25]);
  });

  it("outputs past 2^28 elements are refused by name", async () => {
    expect(
      await refusal({ op: "Range", inputs: ["s", "l", "d"], constants: { s: f([], [0]), l: f([], [2 ** 29]), d: f([], [1]) } }),
    ).toMatch(/^unsupported\.too_large: Range's output /);
    expect(await refusal({ op: "Expand", inputs: ["d", "s"], constants: { d: f([1]), s: i64([2], [2 ** 15, 2 ** 14]) } })).toMatch(
      /^unsupported\.too_large: a view /,
    );
  });

  it("a missing input is named", async () => {
    const missing = async (op: string, inputs: string[], constants: Record<string, Const> = {}) => refusal({ op, inputs, constants });
    const d = { d: f([2, 2]) };
    expect(await missing("Shape", [""])).toBe("input.onnx: data is missing @ node n");
    expect(await missing("Size", [""])).toBe("input.onnx: data is missing @ node n");
    expect(await missing("CastLike", ["", "d"], d)).toBe("input.onnx: input is missing @ node n");
    expect(await missing("Flatten", [""])).toBe("input.onnx: input is missing @ node n");
    expect(await missing("Squeeze", [""])).toBe("input.onnx: data is missing @ node n");
    expect(await missing("Unsqueeze", ["", "a"], { a: i64([1], [0]) })).toBe("input.onnx: data is missing @ node n");
    expect(await missing("Transpose", [""])).toBe("input.onnx: data is missing @ node n");
    expect(await missing("Split", ["", "s"], { s: i64([1], [2]) })).toBe("input.onnx: input is missing @ node n");
    expect(await missing("Slice", ["", "s", "e"], { s: i64([1], [0]), e: i64([1], [1]) })).toBe("input.onnx: data is missing @ node n");
    expect(await missing("Gather", ["", "i"], { i: i64([1], [0]) })).toBe("input.onnx: data is missing @ node n");
    expect(await missing("EyeLike", [""])).toBe("input.onnx: input is missing @ node n");
    expect(await missing("Expand", ["", "s"], { s: i64([1], [2]) })).toBe("input.onnx: input is missing @ node n");
    expect(await missing("Tile", ["", "r"], { r: i64([1], [2]) })).toBe("input.onnx: input is missing @ node n");
  });

  it("a missing data input is named", async () => {
    expect(await refusal({ op: "Reshape", inputs: ["", "s"], constants: { s: i64([1], [2]) } })).toMatch(
      /^input\.onnx: data is missing @ node n$/,
    );
    expect(await refusal({ op: "Cast", inputs: [""], attrs: { to: FLOAT } })).toMatch(/^input\.onnx: input is missing @ node n$/);
    expect(await refusal({ op: "Range", inputs: ["s", "", "d"], constants: { s: f([], [0]), d: f([], [1]) } })).toMatch(
      /^input\.onnx: input 1 is missing @ node n$/,
    );
    expect(await refusal({ op: "Gather", inputs: ["d", ""], constants: { d: f([2]) } })).toMatch(
      /^input\.onnx: indices is missing @ node n$/,
    );
    expect(await refusal({ op: "CastLike", inputs: ["d", ""], constants: { d: f([2]) } })).toMatch(
      /^input\.onnx: target_type is missing @ node n$/,
    );
  });
});
