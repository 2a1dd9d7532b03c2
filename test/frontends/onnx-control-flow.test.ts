// ONNX control flow made straight-line code as the graph folds (control-flow.ts), each graph run by
// seec (lowered to IR, the reference interpreter) and by onnxruntime-node on the same inputs: an If
// whose condition folds from shapes (the other branch, which could not be built, never read), an If
// on a run-time condition with another If nested in a branch and reading that branch's values, a
// Scan over two inputs along different axes and directions, a Loop that its body's condition ends
// before its trip count; and what is refused, by name: run-time branches of different shapes, a
// run-time trip count.
import { describe, expect, it } from "vitest";
import onnxProto from "onnx-proto";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { rejectsSeec } from "../helpers/errors.js";
import { writeGraph } from "../helpers/onnx-model.js";
import { randomF32 } from "../helpers/random.js";

const { onnx } = onnxProto;
type NodeProto = import("onnx-proto").onnx.INodeProto;
type GraphProto = import("onnx-proto").onnx.IGraphProto;
type ValueInfo = import("onnx-proto").onnx.IValueInfoProto;
const A = onnx.AttributeProto.AttributeType;
const [FLOAT, INT64, BOOL] = [1, 7, 9];

const value = (name: string, elemType = FLOAT, dims?: number[]): ValueInfo => ({
  name,
  type: { tensorType: { elemType, ...(dims ? { shape: { dim: dims.map((d) => ({ dimValue: d })) } } : {}) } },
});
type AttrValue =
  number | number[] | GraphProto | { f: number } | { t: { dims: number[]; int64?: number[]; floats?: number[]; bool?: number } };
function node(op: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}): NodeProto {
  const attribute = Object.entries(attrs).map(([name, v]) => {
    if (typeof v === "number") return { name, type: A.INT, i: v };
    if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
    if ("f" in v) return { name, type: A.FLOAT, f: v.f };
    if ("t" in v) {
      const { dims, int64, floats, bool } = v.t;
      const t = int64
        ? { dims, dataType: INT64, int64Data: int64 }
        : floats
          ? { dims, dataType: FLOAT, floatData: floats }
          : { dims, dataType: BOOL, int32Data: [bool ?? 0] };
      return { name, type: A.TENSOR, t };
    }
    return { name, type: A.GRAPH, g: v as GraphProto };
  });
  return { opType: op, input, output, attribute, name: `${op}_${output[0]}` };
}
const graph = (nodes: NodeProto[], input: ValueInfo[], output: ValueInfo[], name = "g"): GraphProto => ({
  name,
  node: nodes,
  input,
  output,
});
const modelBytes = (g: GraphProto, opset = 18) =>
  onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: opset }], graph: g })).finish();

/** The largest |seec − ONNX Runtime| over the outputs, after checking their shapes. */
async function againstOrt(bytes: Uint8Array, feeds: Record<string, OnnxTensor>): Promise<number> {
  const ours = evaluateOnnx(await readOnnx(await writeGraph(bytes)), new Map(Object.entries(feeds)));
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const ortFeeds = Object.fromEntries(
    Object.entries(feeds).map(([k, t]) => [
      k,
      t.dtype === "bool"
        ? new ort.Tensor("bool", Uint8Array.from(t.data), t.shape)
        : t.dtype === "int64"
          ? new ort.Tensor("int64", BigInt64Array.from(t.data, BigInt), t.shape)
          : new ort.Tensor("float32", Float32Array.from(t.data), t.shape),
    ]),
  );
  const theirs = await session.run(ortFeeds);
  let worst = 0;
  for (const [name, want] of Object.entries(theirs)) {
    const got = ours.get(name)!;
    expect(got.shape, name).toEqual([...want.dims]);
    const w = Array.from(want.data as ArrayLike<number | bigint>, Number);
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - w[i]));
  }
  return worst;
}

const x34 = tensor("float32", [3, 4], randomF32(12, 5));

describe("ONNX control flow", () => {
  it("If on a condition computed from shapes: the branch it chooses, the other (which no build could take) never read", async () => {
    const bytes = modelBytes(
      graph(
        [
          node("Size", ["x"], ["n"]),
          node("Constant", [], ["five"], { value: { t: { dims: [], int64: [5] } } }),
          node("Greater", ["n", "five"], ["big"]),
          node("If", ["big"], ["y"], {
            then_branch: graph(
              [node("Constant", [], ["two"], { value: { t: { dims: [], floats: [2] } } }), node("Mul", ["x", "two"], ["t"])],
              [],
              [value("t")],
              "then",
            ),
            // Reshaping 12 elements to [7] fails: only a build that reads this branch would see it.
            else_branch: graph(
              [node("Constant", [], ["seven"], { value: { t: { dims: [1], int64: [7] } } }), node("Reshape", ["x", "seven"], ["e"])],
              [],
              [value("e")],
              "else",
            ),
          }),
        ],
        [value("x", FLOAT, [3, 4])],
        [value("y")],
      ),
    );
    expect(await againstOrt(bytes, { x: x34 })).toBe(0);
  });

  it("If on a run-time condition computes both branches and chooses; an If nested in a branch reads that branch's values", async () => {
    const inner = node("If", ["yes"], ["u"], {
      then_branch: graph(
        [node("Constant", [], ["three"], { value: { t: { dims: [], floats: [3] } } }), node("Mul", ["t", "three"], ["m"])],
        [],
        [value("m")],
        "inner_then",
      ),
      else_branch: graph([node("Neg", ["t"], ["g"])], [], [value("g")], "inner_else"),
    });
    const bytes = modelBytes(
      graph(
        [
          node("If", ["c"], ["y"], {
            then_branch: graph(
              [
                node("Constant", [], ["one"], { value: { t: { dims: [], floats: [1] } } }),
                node("Add", ["x", "one"], ["t"]),
                node("Constant", [], ["yes"], { value: { t: { dims: [], bool: 1 } } }),
                inner,
              ],
              [],
              [value("u")],
              "then",
            ),
            else_branch: graph([node("Sigmoid", ["x"], ["s"])], [], [value("s")], "else"),
          }),
        ],
        [value("c", BOOL, []), value("x", FLOAT, [3, 4])],
        [value("y")],
      ),
    );
    for (const c of [1, 0]) expect(await againstOrt(bytes, { c: tensor("bool", [], [c]), x: x34 }), `c = ${c}`).toBeLessThan(1e-6);
  });

  it("If on a run-time condition of shape [1, 1] gives its branches' shape, not theirs broadcast with the condition's", async () => {
    const bytes = modelBytes(
      graph(
        [
          node("If", ["c"], ["y"], {
            then_branch: graph([node("Neg", ["v"], ["n"])], [], [value("n")], "then"),
            else_branch: graph([node("Identity", ["v"], ["i"])], [], [value("i")], "else"),
          }),
        ],
        [value("c", BOOL, [1, 1]), value("v", FLOAT, [4])],
        [value("y")],
      ),
    );
    for (const c of [1, 0])
      expect(await againstOrt(bytes, { c: tensor("bool", [1, 1], [c]), v: tensor("float32", [4], [1, -2, 3, -4]) })).toBe(0);
  });

  it("a branch reads an optional output nothing else reads (MaxPool's indices): it is computed", async () => {
    const bytes = modelBytes(
      graph(
        [
          node("MaxPool", ["x"], ["p", "idx"], { kernel_shape: [2] }),
          node("Constant", [], ["yes"], { value: { t: { dims: [], bool: 1 } } }),
          node("If", ["yes"], ["y"], {
            then_branch: graph([node("Cast", ["idx"], ["f"], { to: FLOAT })], [], [value("f")], "then"),
            else_branch: graph([node("Identity", ["p"], ["q"])], [], [value("q")], "else"),
          }),
        ],
        [value("x", FLOAT, [1, 1, 6])],
        [value("y")],
      ),
    );
    expect(await againstOrt(bytes, { x: tensor("float32", [1, 1, 6], [3, 1, 4, 1, 5, 9]) })).toBe(0);
  });

  it("names the expansion makes never meet a body's own: a Scan body whose outputs are called output_0 and output_1, a Loop body with a Constant called iteration", async () => {
    const scanBody = graph(
      [node("Add", ["s", "a"], ["output_1"]), node("Sub", ["a", "s"], ["output_0"])],
      [value("s", FLOAT, []), value("a", FLOAT, [])],
      [value("output_1", FLOAT, []), value("output_0", FLOAT, [])],
      "body",
    );
    const scan = modelBytes(
      graph(
        [node("Scan", ["z", "x"], ["s", "o"], { body: scanBody, num_scan_inputs: 1 })],
        [value("z", FLOAT, []), value("x", FLOAT, [4])],
        [value("s"), value("o")],
      ),
    );
    expect(await againstOrt(scan, { z: tensor("float32", [], [0]), x: tensor("float32", [4], [-2, -1, 1, 2]) })).toBe(0);
    const loopBody = graph(
      [
        node("Constant", [], ["iteration"], { value: { t: { dims: [], floats: [100] } } }),
        node("Cast", ["i"], ["fi"], { to: FLOAT }),
        node("Add", ["v", "fi"], ["w"]),
        node("Add", ["w", "iteration"], ["v2"]),
        node("Identity", ["cond"], ["more"]),
      ],
      [value("i", INT64, []), value("cond", BOOL, []), value("v", FLOAT, [])],
      [value("more", BOOL, []), value("v2", FLOAT, [])],
      "body",
    );
    const loop = modelBytes(
      graph(
        [node("Constant", [], ["M"], { value: { t: { dims: [], int64: [3] } } }), node("Loop", ["M", "", "v0"], ["v"], { body: loopBody })],
        [value("v0", FLOAT, [])],
        [value("v")],
      ),
    );
    expect(await againstOrt(loop, { v0: tensor("float32", [], [1]) })).toBe(0);
  });

  it("bounds the unrolling: a Loop past 4,096 iterations, a graph past 200,000 nodes (unsupported.too_large)", async () => {
    const body = (nodes: number) =>
      graph(
        [
          node("Identity", ["cond"], ["more"]),
          ...Array.from({ length: nodes }, (_, k) => node("Identity", [k ? `v${k}` : "v"], [`v${k + 1}`])),
        ],
        [value("i", INT64, []), value("cond", BOOL, []), value("v", FLOAT, [])],
        [value("more", BOOL, []), value(`v${nodes}`, FLOAT, [])],
        "body",
      );
    const loop = (trips: number, nodes: number) =>
      modelBytes(
        graph(
          [
            node("Constant", [], ["M"], { value: { t: { dims: [], int64: [trips] } } }),
            node("Loop", ["M", "", "v0"], ["v"], { body: body(nodes) }),
          ],
          [value("v0", FLOAT, [])],
          [value("v")],
        ),
      );
    const v0 = new Map([["v0", tensor("float32", [], [1])]]);
    const long = await rejectsSeec(async () => evaluateOnnx(await readOnnx(await writeGraph(loop(5000, 1))), v0));
    expect([long.code, long.message]).toEqual(["unsupported.onnx_op", "Loop Loop_v runs past 4096 iterations, the most seec unrolls"]);
    const wide = await rejectsSeec(async () => evaluateOnnx(await readOnnx(await writeGraph(loop(1000, 250))), v0));
    expect(wide.code).toBe("unsupported.too_large");
    expect(wide.message).toMatch(/^unrolling the graph's control flow makes more than 200000 nodes \(at node Loop_v#step_\d+, LoopStep\)$/);
  }, 60_000);

  it("refuses an If on a run-time condition whose branches give shapes that differ", async () => {
    const bytes = modelBytes(
      graph(
        [
          node("If", ["c"], ["y"], {
            then_branch: graph([node("Identity", ["x"], ["i"])], [], [value("i")], "then"),
            else_branch: graph([node("ReduceSum", ["x"], ["r"], { keepdims: 0 })], [], [value("r")], "else"),
          }),
        ],
        [value("c", BOOL, []), value("x", FLOAT, [3, 4])],
        [value("y")],
      ),
    );
    const e = await rejectsSeec(async () =>
      evaluateOnnx(
        await readOnnx(await writeGraph(bytes)),
        new Map([
          ["c", tensor("bool", [], [1])],
          ["x", x34],
        ]),
      ),
    );
    expect(e.message).toContain(
      "If's branches give y as [3, 4] and []: with its condition known only at run time seec computes both, and needs them alike",
    );
  });

  it("Scan: a state and two scan inputs (axis 0 forward, axis 1 reverse), two scan outputs (axis 0, and the last axis reversed)", async () => {
    const body = graph(
      [
        node("Mul", ["a", "b"], ["ab"]),
        node("Add", ["s", "ab"], ["s2"]),
        node("Identity", ["s2"], ["o1"]),
        node("Sub", ["a", "b"], ["o2"]),
      ],
      [value("s", FLOAT, [3]), value("a", FLOAT, [3]), value("b", FLOAT, [3])],
      [value("s2", FLOAT, [3]), value("o1", FLOAT, [3]), value("o2", FLOAT, [3])],
      "body",
    );
    const bytes = modelBytes(
      graph(
        [
          node("Scan", ["s0", "a", "b"], ["s", "o1", "o2"], {
            body,
            num_scan_inputs: 2,
            scan_input_axes: [0, 1],
            scan_input_directions: [0, 1],
            scan_output_axes: [0, -1],
            scan_output_directions: [0, 1],
          }),
        ],
        [value("s0", FLOAT, [3]), value("a", FLOAT, [4, 3]), value("b", FLOAT, [3, 4])],
        [value("s"), value("o1"), value("o2")],
      ),
    );
    const feeds = {
      s0: tensor("float32", [3], randomF32(3, 1)),
      a: tensor("float32", [4, 3], randomF32(12, 2)),
      b: tensor("float32", [3, 4], randomF32(12, 3)),
    };
    expect(await againstOrt(bytes, feeds)).toBeLessThan(1e-6);
  });

  it("Loop: a trip count of 5, ended after three iterations by its body's condition; carried values and a scan output", async () => {
    const body = graph(
      [
        node("Constant", [], ["two"], { value: { t: { dims: [], int64: [2] } } }),
        node("Less", ["i", "two"], ["more"]),
        node("Cast", ["i"], ["fi"], { to: FLOAT }),
        node("Add", ["v", "fi"], ["v2"]),
        node("Mul", ["v2", "v2"], ["sq"]),
      ],
      [value("i", INT64, []), value("cond", BOOL, []), value("v", FLOAT, [2])],
      [value("more", BOOL, []), value("v2", FLOAT, [2]), value("sq", FLOAT, [2])],
      "body",
    );
    const loop = (tripCount: string) =>
      modelBytes(
        graph(
          [
            node("Constant", [], ["M"], { value: { t: { dims: [], int64: [5] } } }),
            node("Constant", [], ["go"], { value: { t: { dims: [], bool: 1 } } }),
            node("Loop", [tripCount, "go", "v0"], ["v", "squares"], { body }),
          ],
          [value("v0", FLOAT, [2]), ...(tripCount === "n" ? [value("n", INT64, [])] : [])],
          [value("v"), value("squares")],
        ),
      );
    const v0 = tensor("float32", [2], [0.5, -1]);
    expect(await againstOrt(loop("M"), { v0 })).toBeLessThan(1e-6);
    const e = await rejectsSeec(async () =>
      evaluateOnnx(
        await readOnnx(await writeGraph(loop("n"))),
        new Map([
          ["v0", v0],
          ["n", tensor("int64", [], [5])],
        ]),
      ),
    );
    expect([e.code, e.message]).toEqual([
      "unsupported.onnx_op",
      'Loop Loop_v reads "n" at run time; seec needs this value at build time to unroll it (a constant, or computed from shapes)',
    ]);
  });
});
