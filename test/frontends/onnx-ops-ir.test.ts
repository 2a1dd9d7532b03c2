// ONNX ops that seec lowers to other IR ops (lower-einsum.ts, lower-indexing.ts, lower-resize.ts),
// each as a one-node model lowered to IR and run by the IR's reference interpreter (evaluateOnnx),
// against onnxruntime-node on the same model and inputs; and each refusal's message. What
// test/frontends/onnx-lowerings.test.ts checks of the wasm build, without compiling wasm (the whole
// file in about a second), with the forms ONNX's backend node suite leaves out: the cases a
// mutation run (docs/MUTATION.md) found no test for.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { lowerOnnx } from "../../compiler/frontends/onnx/index.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { floats, graphBytes, int64, opFeeds, opGraph, weights, writeGraph, type Attr, type OpCase } from "../helpers/onnx-model.js";
import { sharedPath } from "../helpers/shared.js";

type Case = OpCase;

/** The case as seec reads it: written to a temporary file and read back. */
async function seecModel(c: Case) {
  return readOnnx(await writeGraph(opGraph(c)));
}

/**
 * The largest |seec − ONNX Runtime| / (1 + |ONNX Runtime|) over every output, after checking each
 * output's shape and that an infinity or NaN is where ONNX Runtime has it.
 */
async function againstOrt(c: Case): Promise<number> {
  const feeds = opFeeds(c);
  const ours = evaluateOnnx(await seecModel(c), feeds);
  const theirs: Record<string, { dims: readonly number[]; data: unknown }> = {};
  if (c.reference)
    for (const [name, data] of Object.entries(c.reference(Object.fromEntries([...feeds].map(([k, t]) => [k, t.data])))))
      theirs[name] = { dims: ours.get(name)!.shape, data };
  else {
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(graphBytes(opGraph(c)), { intraOpNumThreads: 1, logSeverityLevel: 3 });
    const ortTensor = (t: OnnxTensor) =>
      t.dtype === "int64"
        ? new ort.Tensor("int64", BigInt64Array.from(t.data, BigInt), t.shape)
        : t.dtype === "int32"
          ? new ort.Tensor("int32", Int32Array.from(t.data), t.shape)
          : new ort.Tensor("float32", Float32Array.from(t.data), t.shape);
    Object.assign(theirs, await session.run(Object.fromEntries([...feeds].map(([k, t]) => [k, ortTensor(t)]))));
  }
  let worst = 0;
  for (const [name, want] of Object.entries(theirs)) {
    const got = ours.get(name)!;
    expect(got.shape, name).toEqual([...want.dims]);
    const w = Array.from(want.data as ArrayLike<number | bigint>, Number);
    for (let i = 0; i < w.length; i++) {
      if (Object.is(got.data[i], w[i]) || got.data[i] === w[i]) continue;
      if (!Number.isFinite(w[i])) expect.fail(`${c.op} ${name}[${i}]: ${got.data[i]}, ONNX Runtime ${w[i]}`);
      worst = Math.max(worst, Math.abs(got.data[i] - w[i]) / (1 + Math.abs(w[i])));
    }
  }
  return worst;
}

/** What seec says when it refuses the case: `<code>: <message> @ <at>`. */
async function refusal(c: Case): Promise<string> {
  const model = await seecModel(c);
  try {
    lowerOnnx(model, "case", Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, [...v]])));
  } catch (e) {
    const err = e as { code: string; message: string; at?: string; file?: string };
    expect(err.file).toBe(model.file);
    return `${err.code}: ${err.message} @ ${err.at}`;
  }
  return "accepted";
}

describe("Einsum through the interpreter, against onnxruntime-node", () => {
  const einsums: [string, number[][]][] = [
    [
      "bhqd,bhkd->bhqk",
      [
        [2, 3, 4, 5],
        [2, 3, 6, 5],
      ],
    ],
    [
      "ij,jk",
      [
        [3, 4],
        [4, 5],
      ],
    ],
    ["ji", [[4, 3]]],
    ["i,j->ij", [[3], [4]]],
    ["ii->i", [[4, 4]]],
    ["bii->bi", [[2, 3, 3]]],
    ["bij->bj", [[2, 3, 4]]],
    [
      "ij,jk->i",
      [
        [3, 4],
        [4, 5],
      ],
    ],
    [
      "ji,jk->ik",
      [
        [4, 3],
        [4, 5],
      ],
    ],
    [
      "...ij,...jk->...ik",
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      "...ij,...jk->...ik",
      [
        [2, 3, 4, 5],
        [2, 3, 5, 6],
      ],
    ],
    [
      "b...i,b...i->b...",
      [
        [2, 3, 4],
        [2, 3, 4],
      ],
    ],
    [
      "ij,jk,kl->il",
      [
        [2, 3],
        [3, 4],
        [4, 5],
      ],
    ],
    [
      "bid,bjd->",
      [
        [2, 3, 4],
        [2, 5, 4],
      ],
    ],
    [
      "...i,Ai->...",
      [
        [3, 4],
        [3, 4],
      ],
    ],
  ];
  it.each(einsums)("%s of %j", async (equation, shapes) => {
    const inputs = Object.fromEntries(shapes.map((s, i) => [`x${i}`, s]));
    expect(await againstOrt({ op: "Einsum", inputs, attrs: { equation } })).toBeLessThan(1e-6);
  });

  it.each([
    [
      "ij,jk,kl->il",
      [
        [2, 3],
        [3, 4],
      ],
      'Einsum "ij,jk,kl->il" names 3 operands; the node has 2',
    ],
    ["ijk->i", [[2, 3]], 'Einsum operand 0 "ijk" has 3 letters for a tensor of rank 2'],
    [
      "...i,...i->...",
      [
        [2, 3],
        [2, 3, 3],
      ],
      'Einsum "...i,...i->...": the ellipsis spans different ranks in different operands',
    ],
    ["...ij->...", [[3]], 'Einsum "...ij->...": the ellipsis spans different ranks in different operands'],
    ["ii->i", [[3, 4]], 'Einsum "ii->i": letter "i" spans axes of sizes 3 and 4 (broadcasting is not supported)'],
    [
      "ij,jk",
      [
        [3, 4],
        [5, 6],
      ],
      'Einsum "ij,jk": letter "j" spans axes of sizes 4 and 5 (broadcasting is not supported)',
    ],
    [
      "...ij,...jk->...ik",
      [
        [1, 3, 4],
        [2, 4, 5],
      ],
      'Einsum "...ij,...jk->...ik": the ellipsis spans axes of sizes 1 and 2 (broadcasting is not supported)',
    ],
    ["ij->ik", [[3, 4]], 'Einsum "ij->ik": the output names a letter no operand has'],
  ])("refuses %s of %j", async (equation, shapes, message) => {
    const inputs = Object.fromEntries(shapes.map((s, i) => [`x${i}`, s]));
    expect(await refusal({ op: "Einsum", inputs, attrs: { equation } })).toBe(`unsupported.onnx_op: ${message} @ node n (Einsum)`);
  });

  // ONNX Runtime refuses an ellipsis the output leaves out; numpy (ONNX's reference) sums over its axes.
  it("sums over the ellipsis's axes where the output leaves them out, as numpy does", async () => {
    const x = [1, 2, 3, 10, 20, 30];
    const y = evaluateOnnx(
      await seecModel({ op: "Einsum", inputs: { x: [2, 3] }, attrs: { equation: "...i->i" } }),
      new Map([["x", tensor("float32", [2, 3], x)]]),
    );
    expect(y.get("y0")).toEqual(tensor("float32", [3], [11, 22, 33]));
  });

  it("refuses integer operands and a node without its equation", async () => {
    expect(await refusal({ op: "Einsum", inputs: { a: [2] }, int64: ["a"], attrs: { equation: "i->" } })).toBe(
      "unsupported.onnx_op: Einsum of integer tensors is not supported @ node n (Einsum)",
    );
    expect(await refusal({ op: "Einsum", inputs: { a: [2] } })).toBe("unsupported.onnx_op: Einsum needs its equation @ node n (Einsum)");
  });
});

describe("CumSum, OneHot, GatherND, ScatterND, ScatterElements and TopK through the interpreter, against onnxruntime-node", () => {
  it.each([
    ["exclusive, reversed, along axis 0", [5, 4], 0, { exclusive: 1, reverse: 1 }],
    ["exclusive along axis -1", [2, 7], -1, { exclusive: 1 }],
    ["along a length-1 axis, exclusive", [3, 1], 1, { exclusive: 1 }],
    ["along 9 elements (four rounds)", [9], 0, {}],
  ] as const)("CumSum %s", async (_, shape, axisValue, attrs) => {
    const c: Case = { op: "CumSum", inputs: { x: [...shape] }, constants: { axis: int64([], [axisValue]) }, attrs };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it("CumSum keeps an infinity where it belongs", async () => {
    const c: Case = { op: "CumSum", inputs: { x: [5] }, values: { x: [1, 2, -Infinity, 3, 4] }, constants: { axis: int64([], [0]) } };
    expect(await againstOrt(c)).toBe(0);
  });

  it.each([
    ["without axis, indices [2, 3]", { indices: [2, 3] }, {}],
    ["on axis 0, indices [2, 3]", { indices: [2, 3] }, { axis: 0 }],
    ["on axis -2", { indices: [4] }, { axis: -2 }],
  ] as const)("OneHot %s", async (_, inputs, attrs) => {
    const c: Case = {
      op: "OneHot",
      inputs: { ...inputs },
      int64: ["indices"],
      values: {
        indices: [0, 3, -1, 2, 4, -5].slice(
          0,
          inputs.indices.reduce((a, b) => a * b, 1),
        ),
      },
      constants: { depth: floats([], [4]), values: floats([2], [-2, 5]) },
      order: ["indices", "depth", "values"],
      attrs,
    };
    expect(await againstOrt(c)).toBe(0);
  });

  it.each([
    ["one index a tuple", { data: [3, 4] }, [2, 1], [2, -1], 0],
    ["two indices a tuple, in [2, 2, 2] indices", { data: [3, 4] }, [2, 2, 2], [0, 1, 2, 3, -1, -4, 1, 0], 0],
    ["batch_dims 1", { data: [2, 3, 4] }, [2, 2, 1], [0, 2, 1, -1], 1],
    ["batch_dims 1, a whole batch row", { data: [2, 3, 4] }, [2, 1, 2], [0, 2, 1, -1], 1],
  ] as const)("GatherND, %s", async (_, inputs, indexShape, values, batch_dims) => {
    const c: Case = {
      op: "GatherND",
      inputs: { ...inputs, indices: [...indexShape] },
      int64: ["indices"],
      values: { indices: [...values] },
      attrs: { batch_dims },
    };
    expect(await againstOrt(c)).toBe(0);
  });

  it.each([
    ["indices as initializers, none", {}, int64([3, 1], [2, -1, 0])],
    ["indices as initializers, add, one row twice", { reduction: "add" }, int64([3, 1], [2, -1, 2])],
  ] as const)("ScatterND, %s", async (_, attrs, indices) => {
    const c: Case = {
      op: "ScatterND",
      inputs: { data: [4, 3], updates: [3, 3] },
      constants: { indices },
      order: ["data", "indices", "updates"],
      attrs,
    };
    expect(await againstOrt(c)).toBe(0);
  });

  it.each([
    ["constant", true],
    ["at run time", false],
  ])("ScatterND of single elements by [2, 2, 2] indices (tuples of two), indices %s", async (_, constant) => {
    const idx = [0, 1, 3, 2, -1, 0, 1, 1];
    const c: Case = constant
      ? {
          op: "ScatterND",
          inputs: { data: [4, 3], updates: [2, 2] },
          constants: { indices: int64([2, 2, 2], idx) },
          order: ["data", "indices", "updates"],
        }
      : { op: "ScatterND", inputs: { data: [4, 3], indices: [2, 2, 2], updates: [2, 2] }, int64: ["indices"], values: { indices: idx } };
    expect(await againstOrt(c)).toBe(0);
  });

  // Opset 16's mul and opset 18's max and min, with a row (an element) that two updates land on and one none does.
  it.each(["mul", "max", "min"] as const)(
    "ScatterND and ScatterElements with reduction %s, indices constant and at run time",
    async (reduction) => {
      const ndIndices = [2, 0, 2];
      for (const constant of [true, false]) {
        const nd: Case = constant
          ? {
              op: "ScatterND",
              inputs: { data: [4, 3], updates: [3, 3] },
              constants: { indices: int64([3, 1], ndIndices) },
              order: ["data", "indices", "updates"],
              attrs: { reduction },
            }
          : {
              op: "ScatterND",
              inputs: { data: [4, 3], indices: [3, 1], updates: [3, 3] },
              int64: ["indices"],
              values: { indices: ndIndices },
              attrs: { reduction },
            };
        expect(await againstOrt(nd), `ScatterND, indices ${constant ? "constant" : "at run time"}`).toBeLessThan(1e-6);
      }
      const elements: Case = {
        op: "ScatterElements",
        inputs: { data: [2, 4], updates: [2, 3] },
        constants: { indices: int64([2, 3], [3, 3, 0, 1, -3, 1]) },
        order: ["data", "indices", "updates"],
        attrs: { axis: 1, reduction },
      };
      expect(await againstOrt(elements), "ScatterElements").toBeLessThan(1e-6);
    },
  );

  it("ScatterND and ScatterElements keep an infinity where it lands", async () => {
    const nd: Case = {
      op: "ScatterND",
      inputs: { data: [4, 2], updates: [2, 2] },
      values: { updates: [-Infinity, 9, 10, 11] },
      constants: { indices: int64([2, 1], [3, 0]) },
      order: ["data", "indices", "updates"],
    };
    expect(await againstOrt(nd)).toBe(0);
    const elements: Case = {
      op: "ScatterElements",
      inputs: { data: [1, 4], updates: [1, 2] },
      values: { updates: [-Infinity, 7] },
      constants: { indices: int64([1, 2], [0, 2]) },
      order: ["data", "indices", "updates"],
      attrs: { axis: 1 },
    };
    expect(await againstOrt(elements)).toBe(0);
  });

  it.each([
    ["along axis 1, updates smaller than the data on both axes", [3, 5], [2, 2], [4, 0, -2, 1], { axis: 1 }],
    ["along axis 0 by default, updates narrower", [3, 4], [2, 3], [2, 0, 1, 1, 2, 0], {}],
    ["along axis -1, add", [2, 4], [2, 3], [3, 3, 0, 1, 1, 1], { axis: -1, reduction: "add" }],
  ] as const)("ScatterElements %s", async (_, data, shape, idx, attrs) => {
    const c: Case = {
      op: "ScatterElements",
      inputs: { data: [...data], updates: [...shape] },
      constants: { indices: int64([...shape], [...idx]) },
      order: ["data", "indices", "updates"],
      attrs,
    };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it.each([
    ["k an initializer, smallest, along axis 1", [3, 7, 2], 3, { axis: 1, largest: 0 }],
    ["along the last axis by default, of a rank-3 tensor", [2, 3, 5], 2, {}],
    ["k = K", [2, 4], 4, {}],
  ] as const)("TopK, %s", async (_, shape, k, attrs) => {
    const c: Case = { op: "TopK", inputs: { x: [...shape] }, constants: { k: int64([1], [k]) }, attrs, outputs: 2 };
    expect(await againstOrt(c)).toBe(0);
  });

  it("TopK over infinities and ties, largest and smallest, their indices distinct", async () => {
    const x = [-Infinity, -Infinity, 1, -Infinity, Infinity, 3, Infinity, Infinity, 2, 2, 2, 1];
    for (const largest of [1, 0]) {
      const c: Case = {
        op: "TopK",
        inputs: { x: [3, 4] },
        values: { x },
        constants: { k: int64([1], [4]) },
        attrs: { largest },
        outputs: 2,
      };
      expect(await againstOrt(c)).toBe(0);
    }
  });

  it("refuses integer data, bad depths, k and axes, and scatters past 2^26 pairs, each by name", async () => {
    const at = (op: string) => ` @ node n (${op})`;
    const refused = async (c: Case) => (await refusal(c)).replace(/^unsupported\.onnx_op: /, "");
    expect(await refused({ op: "CumSum", inputs: { x: [3] }, int64: ["x"], constants: { axis: int64([], [0]) } })).toBe(
      "CumSum of an integer tensor is not supported" + at("CumSum"),
    );
    expect(await refused({ op: "CumSum", inputs: { x: [3] }, constants: { axis: int64([], [1]) } })).toMatch(
      /axis 1 is out of range for a tensor of rank 1/,
    );
    const oneHot = (depth: number): Case => ({
      op: "OneHot",
      inputs: { indices: [2] },
      int64: ["indices"],
      constants: { depth: floats([], [depth]), values: floats([2], [0, 1]) },
      order: ["indices", "depth", "values"],
    });
    expect(await refused(oneHot(0.5))).toBe("OneHot's depth must be at least 1, got 0" + at("OneHot"));
    expect(await refused(oneHot(1))).toBe("accepted");
    expect(await refused({ ...oneHot(3), attrs: { axis: 2 } })).toMatch(/axis 2 is out of range for a tensor of rank 2/);
    expect(await refused({ op: "GatherND", inputs: { data: [3, 4], indices: [2, 3] }, int64: ["indices"] })).toBe(
      "GatherND: 3 indices per tuple after 0 batch axes exceed the data's rank 2" + at("GatherND"),
    );
    expect(
      await refused({ op: "GatherND", inputs: { data: [2, 3, 4], indices: [2, 3] }, int64: ["indices"], attrs: { batch_dims: 1 } }),
    ).toBe("GatherND: 3 indices per tuple after 1 batch axes exceed the data's rank 3" + at("GatherND"));
    const order = ["data", "indices", "updates"];
    expect(
      await refused({ op: "ScatterND", inputs: { data: [3], indices: [1, 1], updates: [1] }, int64: ["data", "indices"], order }),
    ).toBe("ScatterND of an integer tensor is not supported" + at("ScatterND"));
    expect(
      await refused({
        op: "ScatterND",
        inputs: { data: [3], indices: [1, 1], updates: [1] },
        int64: ["indices"],
        order,
        attrs: { reduction: "mean" },
      }),
    ).toBe('reduction "mean" is not supported (none, add, mul, max, min are)' + at("ScatterND"));
    // 4096 rows of 256 and 65 updates: 68,157,440 pairs; 64 updates, exactly 2^26, are taken.
    const big = (m: number): Case => ({
      op: "ScatterND",
      inputs: { data: [4096, 256], indices: [m, 1], updates: [m, 256] },
      int64: ["indices"],
      order,
    });
    expect(await refused(big(65))).toBe(
      "ScatterND with indices known only at run time pairs 4096 rows with 65 updates of 256: past 67108864 elements" + at("ScatterND"),
    );
    expect(await refused(big(64))).toBe("accepted");
    expect(
      await refused({ op: "ScatterElements", inputs: { data: [2], indices: [1], updates: [1] }, int64: ["data", "indices"], order }),
    ).toBe("ScatterElements of an integer tensor is not supported" + at("ScatterElements"));
    expect(
      await refused({
        op: "ScatterElements",
        inputs: { data: [2], indices: [1], updates: [1] },
        int64: ["indices"],
        order,
        attrs: { axis: 1 },
      }),
    ).toMatch(/axis 1 is out of range for a tensor of rank 1/);
    // 256 rows of 4096 positions, 65 updates each along the axis.
    const wide = (m: number): Case => ({
      op: "ScatterElements",
      inputs: { data: [256, 4096], indices: [256, m], updates: [256, m] },
      int64: ["indices"],
      order,
      attrs: { axis: 1 },
    });
    expect(await refused(wide(65))).toBe(
      "ScatterElements pairs 1048576 positions with 65 updates each: past 67108864 elements" + at("ScatterElements"),
    );
    expect(await refused(wide(64))).toBe("accepted");
    const topK = (k: number, attrs: Record<string, Attr> = {}): Case => ({
      op: "TopK",
      inputs: { x: [2, 4] },
      constants: { k: int64([1], [k]) },
      attrs,
      outputs: 2,
    });
    expect(await refused(topK(0))).toBe("TopK's k must be in [1, 4], got 0" + at("TopK"));
    expect(await refused(topK(5))).toBe("TopK's k must be in [1, 4], got 5" + at("TopK"));
    expect(await refused(topK(1))).toBe("accepted");
    expect(await refused(topK(2, { axis: 2 }))).toMatch(/axis 2 is out of range for a tensor of rank 2/);
    expect(await refused({ ...topK(1), inputs: { x: [4] }, int64: ["x"] })).toBe("TopK of an integer tensor is not supported" + at("TopK"));
  });
});

describe("MaxPool's Indices through the interpreter, against onnxruntime-node", () => {
  it.each<[string, number[], Record<string, Attr>]>([
    ["1-D, padded, strided and dilated", [2, 3, 11], { kernel_shape: [3], pads: [2, 1], strides: [2], dilations: [2] }],
    ["2-D, storage_order 1, ceil_mode", [1, 2, 5, 6], { kernel_shape: [2, 3], strides: [2, 2], ceil_mode: 1, storage_order: 1 }],
    ["3-D, same_upper", [1, 1, 3, 4, 5], { kernel_shape: [2, 2, 2], auto_pad: "SAME_UPPER" }],
  ])("%s: the values and each window's first largest element's flat index", async (_, shape, attrs) => {
    // Whole numbers from a few values, so that windows hold ties: the first largest must be picked.
    const count = shape.reduce((a, b) => a * b, 1);
    const c: Case = {
      op: "MaxPool",
      inputs: { x: shape },
      values: { x: Array.from({ length: count }, (_, i) => (i * 7) % 5) },
      attrs,
      outputs: 2,
    };
    expect(await againstOrt(c)).toBe(0);
  });
});

describe("Resize through the interpreter, against onnxruntime-node", () => {
  const resize = (
    attrs: Record<string, Attr>,
    given: { scales?: readonly number[]; sizes?: readonly number[]; roi?: readonly number[] },
    x = [1, 2, 5, 6],
  ): Case => ({
    op: "Resize",
    inputs: { x },
    constants: {
      ...(given.roi ? { roi: floats([given.roi.length], given.roi) } : {}),
      ...(given.scales ? { scales: floats([given.scales.length], given.scales) } : {}),
      ...(given.sizes ? { sizes: int64([given.sizes.length], given.sizes) } : {}),
    },
    order: ["x", given.roi ? "roi" : "", given.scales ? "scales" : "", ...(given.sizes ? ["sizes"] : [])],
    attrs,
  });
  it.each([
    ["linear, half_pixel, 2x up", { mode: "linear" }, { scales: [1, 1, 2, 2] }],
    ["nearest by default (round_prefer_floor, half_pixel), 2.5x up", {}, { scales: [1, 1, 2.5, 1.5] }],
    [
      "nearest, asymmetric, floor (PyTorch's Upsample)",
      { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" },
      { scales: [1, 1, 2, 3] },
    ],
    ["nearest, round_prefer_ceil, to sizes", { nearest_mode: "round_prefer_ceil" }, { sizes: [1, 2, 7, 9] }],
    ["nearest, ceil, down", { nearest_mode: "ceil" }, { sizes: [1, 2, 3, 4] }],
    ["nearest, tf_half_pixel_for_nn", { coordinate_transformation_mode: "tf_half_pixel_for_nn" }, { scales: [1, 1, 1.6, 0.5] }],
    [
      "cubic, pytorch_half_pixel, to sizes",
      { mode: "cubic", coordinate_transformation_mode: "pytorch_half_pixel" },
      { sizes: [1, 2, 3, 7] },
    ],
    ["cubic, exclude_outside, a = -0.5, 2x up", { mode: "cubic", exclude_outside: 1, cubic_coeff_a: -0.5 }, { scales: [1, 1, 2, 2] }],
    ["cubic, asymmetric, down", { mode: "cubic", coordinate_transformation_mode: "asymmetric" }, { scales: [1, 1, 0.6, 0.5] }],
    ["linear, align_corners, down to sizes", { mode: "linear", coordinate_transformation_mode: "align_corners" }, { sizes: [1, 2, 3, 4] }],
    ["linear, align_corners, to one column", { mode: "linear", coordinate_transformation_mode: "align_corners" }, { sizes: [1, 2, 4, 1] }],
    [
      "linear, tf_crop_and_resize with an roi and an extrapolation value",
      { mode: "linear", coordinate_transformation_mode: "tf_crop_and_resize", extrapolation_value: { f: 10 } },
      { roi: [0, 0, 0.2, -0.25, 1, 1, 1.2, 0.95], sizes: [1, 2, 4, 5] },
    ],
    [
      "nearest, tf_crop_and_resize to one row, the axes kept",
      { coordinate_transformation_mode: "tf_crop_and_resize" },
      { roi: [0, 0, 0.4, 0, 1, 1, 0.6, 1], sizes: [1, 2, 1, 6] },
    ],
  ] as const)("Resize %s", async (_, attrs, given) => {
    expect(await againstOrt(resize({ ...attrs }, { ...given }))).toBeLessThan(1e-6);
  });

  it("Resize at opset 10: scales as the second input, asymmetric, floor", async () => {
    const c: Case = { op: "Resize", opset: 10, inputs: { x: [1, 1, 3, 4] }, constants: { scales: floats([4], [1, 1, 2, 1.5]) } };
    expect(await againstOrt(c)).toBe(0);
    expect(await againstOrt({ ...c, attrs: { mode: "linear" } })).toBeLessThan(1e-6);
  });

  // Not cubic: ONNX Runtime's bicubic weighs the unchanged axis's rows by 0 as well, so an infinity gives NaN there.
  it("Resize keeps an infinity where it lands (no 0 · ∞)", async () => {
    const c = resize({ mode: "linear" }, { scales: [1, 1, 1, 2] }, [1, 1, 1, 4]);
    expect(await againstOrt({ ...c, values: { x: [1, 2, 3, Infinity] } })).toBeLessThan(1e-6);
  });

  it("refuses what it does not support, by name", async () => {
    const refused = async (c: Case) => (await refusal(c)).replace(/^unsupported\.onnx_op: /, "").replace(/ @ node n \(Resize\)$/, "");
    expect(await refused({ ...resize({}, { scales: [1, 1, 2, 2] }), int64: ["x"] })).toBe("Resize of an integer tensor is not supported");
    expect(await refused(resize({ antialias: 1 }, { scales: [1, 1, 2, 2] }))).toBe("Resize with antialias is not supported");
    expect(await refused(resize({ axes: [2, 3] }, { scales: [2, 2] }))).toBe("Resize with axes is not supported");
    expect(await refused(resize({ keep_aspect_ratio_policy: "not_larger" }, { sizes: [1, 2, 4, 4] }))).toBe(
      'Resize\'s keep_aspect_ratio_policy "not_larger" is not supported',
    );
    expect(await refused(resize({ keep_aspect_ratio_policy: "stretch" }, { sizes: [1, 2, 4, 4] }))).toBe("accepted");
    expect(await refused(resize({ mode: "area" }, { scales: [1, 1, 2, 2] }))).toBe('Resize mode "area" is not nearest, linear or cubic');
    expect(await refused(resize({}, {}))).toBe("Resize needs scales or sizes");
    expect(
      await refused({
        ...resize({}, { scales: [1, 1, 2, 2] }),
        constants: { scales: floats([0], []), sizes: int64([4], [1, 2, 3, 3]) },
        order: ["x", "", "scales", "sizes"],
      }),
    ).toBe("accepted");
    expect(await refused(resize({}, { scales: [1, 2, 2] }))).toBe("Resize's scales has 3 values for an input of rank 4");
    expect(await refused(resize({}, { sizes: [2, 2] }))).toBe("Resize's sizes has 2 values for an input of rank 4");
    expect(await refused(resize({}, { scales: [1, 1, 0.1, 1] }))).toBe("Resize gives axis 2 a size of 0");
  });
});

const ONNX = sharedPath("onnx");

describe.skipIf(!ONNX)("what lowerOnnx reports of the shared exporters' graphs (../shared/onnx)", () => {
  it.each([
    [
      "bert_distilbert_tiny_hf_pt110",
      { LayerNormalization: 5, Gelu: 2, Attention: 2 },
      ["batch", "sequence"],
      ["Copy", "Gather", "Map", "LayerNorm", "Linear", "ScaledAttention"],
    ],
    [
      "seq2seq_nn_transformer_pt113/encoder",
      { LayerNormalization: 2, Attention: 1 },
      ["batch", "tokens"],
      ["Map", "Copy", "Gather", "Linear", "ScaledAttention", "LayerNorm"],
    ],
    ["onnx_node_tests/test_gelu_default_2_expanded", { Gelu: 1 }, [], ["Map", "Copy"]],
    ["onnx_node_tests/test_rms_normalization_3d_axis_negative_1_epsilon_expanded", { RMSNormalization: 1 }, [], ["Copy", "RMSNorm"]],
  ])("%s: the patterns fused, the dimensions set to 1, the IR ops, a graph model", async (dir, fused, defaulted, ops) => {
    const load = lowerOnnx(await readOnnx(join(ONNX!, dir, "model.onnx")), "m", {});
    expect(load.fused).toStrictEqual(fused);
    expect(load.defaulted).toEqual(defaulted);
    expect([...new Set(load.graph.nodes.map((n) => n.op))]).toEqual(ops);
    expect(load.graph.model).toStrictEqual({ family: "graph", config: {} });
  });
});

describe("com.microsoft ops and fused ONNX ops through the interpreter, against onnxruntime-node", () => {
  const ms = "com.microsoft";
  it.each([
    ["transA, transB and alpha", { inputs: { a: [2, 5, 3], b: [2, 4, 5] }, attrs: { transA: 1, transB: 1, alpha: 0.5 } }],
    ["a weight as an initializer", { inputs: { a: [2, 3, 5] }, constants: { w: weights([5, 4], 8) }, attrs: { alpha: 2.5 } }],
    ["transB of a weight, alpha 1 by default", { inputs: { a: [3, 5] }, constants: { w: weights([4, 5], 9) }, attrs: { transB: 1 } }],
  ] as const)("FusedMatMul, %s", async (_, c) => {
    expect(await againstOrt({ op: "FusedMatMul", domain: ms, ...c })).toBeLessThan(1e-6);
  });

  it.each([
    ["QuickGelu, alpha 1.5", { op: "QuickGelu", inputs: { x: [2, 7] }, attrs: { alpha: 1.5 } }],
    ["QuickGelu, alpha by default", { op: "QuickGelu", inputs: { x: [2, 7] } }],
    ["Gelu", { op: "Gelu", inputs: { x: [2, 7] } }],
    ["FastGelu", { op: "FastGelu", inputs: { x: [2, 8] } }],
    ["FastGelu with a bias", { op: "FastGelu", inputs: { x: [2, 3, 8], bias: [8] } }],
    ["BiasGelu", { op: "BiasGelu", inputs: { x: [2, 3, 8], bias: [8] } }],
  ] as const)("%s", async (_, c) => {
    expect(await againstOrt({ domain: ms, ...c })).toBeLessThan(1e-6);
  });

  // CUDA-only in ONNX Runtime: their definitions, written out here.
  it("BiasAdd and BiasSplitGelu, against their definitions", async () => {
    const biasAdd = ({ x, bias, skip }: Record<string, ArrayLike<number>>) => ({ y0: Array.from(x, (v, i) => v + bias[i % 4] + skip[i]) });
    expect(
      await againstOrt({ op: "BiasAdd", domain: ms, inputs: { x: [1, 2, 4], bias: [4], skip: [1, 2, 4] }, reference: biasAdd }),
    ).toBeLessThan(1e-6);
    const erf = (z: number) => {
      let sum = 0,
        term = z;
      for (let k = 0; k < 40; k++) {
        sum += term / (2 * k + 1);
        term *= (-z * z) / (k + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
    const split = ({ x, bias }: Record<string, ArrayLike<number>>) => {
      const y: number[] = [];
      for (let r = 0; r < 3; r++) for (let j = 0; j < 4; j++) y.push((x[r * 8 + j] + bias[j]) * gelu(x[r * 8 + 4 + j] + bias[4 + j]));
      return { y0: y };
    };
    expect(await againstOrt({ op: "BiasSplitGelu", domain: ms, inputs: { x: [1, 3, 8], bias: [8] }, reference: split })).toBeLessThan(1e-6);
  });

  it.each([
    [
      "with beta and bias, epsilon 1e-3",
      {
        inputs: { x: [2, 3, 8], skip: [2, 3, 8] },
        constants: { gamma: weights([8], 1), beta: weights([8], 2), bias: weights([8], 3) },
        attrs: { epsilon: 1e-3 },
      },
    ],
    ["gamma only", { inputs: { x: [2, 3, 8], skip: [2, 3, 8] }, constants: { gamma: weights([8], 1) } }],
    [
      "a skip broadcast over the batch",
      { inputs: { x: [2, 3, 8], skip: [3, 8] }, constants: { gamma: weights([8], 1), beta: weights([8], 2) } },
    ],
  ] as const)("SkipLayerNormalization %s", async (_, c) => {
    expect(await againstOrt({ op: "SkipLayerNormalization", domain: ms, ...c })).toBeLessThan(1e-6);
  });

  it("SkipSimplifiedLayerNormalization with a bias", async () => {
    const c: Case = {
      op: "SkipSimplifiedLayerNormalization",
      domain: ms,
      inputs: { x: [2, 3, 8], skip: [2, 3, 8] },
      constants: { gamma: weights([8], 1), bias: weights([8], 3) },
      order: ["x", "skip", "gamma", "bias"],
      attrs: { epsilon: 1e-4 },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it("SkipLayerNormalization's mean and inverse standard deviation outputs are refused", async () => {
    const c: Case = {
      op: "SkipLayerNormalization",
      domain: ms,
      inputs: { x: [2, 8], skip: [2, 8] },
      constants: { gamma: weights([8], 1) },
      outputs: 2,
    };
    expect(await refusal(c)).toBe(
      "unsupported.onnx_op: the mean and inverse standard deviation outputs are not supported @ node n (SkipLayerNormalization)",
    );
  });

  it("EmbedLayerNormalization: words, positions and segments summed and normalized, the mask's lengths", async () => {
    const c: Case = {
      op: "EmbedLayerNormalization",
      domain: ms,
      inputs: { ids: [2, 4], segments: [2, 4], mask: [2, 4] },
      int32: ["ids", "segments", "mask"],
      values: { ids: [1, 5, 9, 0, 2, 2, 7, 3], segments: [0, 0, 1, 1, 0, 1, 0, 1], mask: [1, 1, 1, 0, 1, 1, 1, 1] },
      constants: {
        words: weights([10, 8], 1),
        positions: weights([6, 8], 2),
        segs: weights([2, 8], 3),
        gamma: weights([8], 4),
        beta: weights([8], 5),
      },
      order: ["ids", "segments", "words", "positions", "segs", "gamma", "beta", "mask"],
      attrs: { epsilon: 1e-5 },
      outputs: 2,
    };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it.each([
    ["3-D input, not interleaved", [1, 3, 16], false],
    ["3-D input, interleaved", [2, 3, 16], true],
  ] as const)("com.microsoft RotaryEmbedding, %s", async (_, x, interleaved) => {
    const c: Case = {
      op: "RotaryEmbedding",
      domain: ms,
      inputs: { x: [...x], positions: [x[0], x[1]] },
      int64: ["positions"],
      values: { positions: x[0] === 1 ? [4, 5, 6] : [0, 1, 2, 7, 3, 5] },
      constants: { cos: weights([8, 4], 1), sin: weights([8, 4], 2) },
      attrs: { interleaved: +interleaved, num_heads: 2 },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it.each([
    ["4-D input with position_ids", { x: [1, 2, 3, 8], positions: [1, 3] }, {}],
    ["4-D input, interleaved, rotating half the head", { x: [1, 2, 3, 8], positions: [1, 3] }, { interleaved: 1, rotary_embedding_dim: 4 }],
    ["3-D input with num_heads", { x: [1, 3, 16], positions: [1, 3] }, { num_heads: 2 }],
  ] as const)("ONNX RotaryEmbedding (opset 23), %s", async (_, inputs, attrs) => {
    const half = "rotary_embedding_dim" in attrs ? 2 : 4;
    const c: Case = {
      op: "RotaryEmbedding",
      opset: 23,
      inputs: { ...inputs },
      int64: ["positions"],
      values: { positions: [4, 5, 6] },
      constants: { cos: weights([8, half], 1), sin: weights([8, half], 2) },
      order: ["x", "cos", "sin", "positions"],
      attrs,
    };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it.each([
    ["q, k, v [B, S, N·H]", { q: [2, 3, 16], k: [2, 4, 16], v: [2, 4, 16] }],
    ["q, k, v of one token", { q: [1, 1, 8], k: [1, 1, 8], v: [1, 1, 8] }],
  ] as const)("MultiHeadAttention, %s", async (_, inputs) => {
    expect(await againstOrt({ op: "MultiHeadAttention", domain: ms, inputs: { ...inputs }, attrs: { num_heads: 2 } })).toBeLessThan(1e-6);
  });

  it("MultiHeadAttention with a packed bias input is refused", async () => {
    const c: Case = {
      op: "MultiHeadAttention",
      domain: ms,
      inputs: { q: [1, 2, 8], k: [1, 2, 8], v: [1, 2, 8] },
      constants: { bias: weights([24], 1) },
      attrs: { num_heads: 2 },
    };
    expect(await refusal(c)).toBe(
      "unsupported.onnx_op: MultiHeadAttention with a packed bias input is not supported @ node n (MultiHeadAttention)",
    );
  });

  it.each([
    ["bidirectional", {}, undefined],
    ["unidirectional", { unidirectional: 1 }, undefined],
    ["with a [batch, total] mask of ones", {}, [1, 1, 1, 1, 1, 1]],
    ["with a [batch, total] mask hiding a key", {}, [1, 1, 0, 1, 1, 1]],
  ] as const)("com.microsoft Attention, %s", async (_, attrs, mask) => {
    const c: Case = {
      op: "Attention",
      domain: ms,
      inputs: { x: [2, 3, 8], ...(mask ? { mask: [2, 3] } : {}) },
      int32: ["mask"],
      values: mask ? { mask: [...mask] } : {},
      constants: { w: weights([8, 24], 1), b: weights([24], 2) },
      order: ["x", "w", "b", ...(mask ? ["mask"] : [])],
      attrs: { num_heads: 2, ...attrs },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-6);
  });

  it.each([
    ["4-D, grouped heads", { q: [1, 4, 3, 4], k: [1, 2, 5, 4], v: [1, 2, 5, 4] }, {}],
    ["4-D, causal, a scale", { q: [2, 2, 3, 4], k: [2, 2, 3, 4], v: [2, 2, 3, 4] }, { is_causal: 1, scale: 0.3 }],
    ["3-D with head counts", { q: [1, 3, 8], k: [1, 5, 8], v: [1, 5, 8] }, { q_num_heads: 2, kv_num_heads: 2 }],
  ] as const)("ONNX Attention (opset 23), %s", async (_, inputs, attrs) => {
    expect(await againstOrt({ op: "Attention", opset: 23, inputs: { ...inputs }, attrs })).toBeLessThan(1e-6);
  });

  it("ONNX Attention's softcap and qk_matmul_output are refused", async () => {
    const c: Case = { op: "Attention", opset: 23, inputs: { q: [1, 2, 3, 4], k: [1, 2, 3, 4], v: [1, 2, 3, 4] } };
    expect(await refusal({ ...c, attrs: { softcap: 30 } })).toBe(
      "unsupported.onnx_op: Attention with softcap is not supported @ node n (Attention)",
    );
    expect(await refusal({ ...c, outputs: 4 })).toBe(
      "unsupported.onnx_op: the qk_matmul_output output is not supported @ node n (Attention)",
    );
  });

  it("FusedMatMul's transBatchA and a transposed rank-1 operand are refused", async () => {
    expect(await refusal({ op: "FusedMatMul", domain: ms, inputs: { a: [2, 3, 5], b: [2, 5, 4] }, attrs: { transBatchA: 1 } })).toBe(
      "unsupported.onnx_op: FusedMatMul with transBatchA or transBatchB is not supported @ node n (FusedMatMul)",
    );
    expect(await refusal({ op: "FusedMatMul", domain: ms, inputs: { a: [5], b: [5, 4] }, attrs: { transA: 1 } })).toBe(
      "unsupported.onnx_op: FusedMatMul transposes an operand of rank 1 @ node n (FusedMatMul)",
    );
  });
});

describe("MatMul and Gemm through the interpreter, against onnxruntime-node", () => {
  // Operands of one dimension (promoted, multiplied, the added axis dropped), and a weight (a Linear).
  const matmuls: [string, Record<string, number[]>, Case["constants"]?][] = [
    ["[3] · [3, 2]", { a: [3], b: [3, 2] }],
    ["[2, 3] · [3]", { a: [2, 3], b: [3] }],
    ["[3] · [3]", { a: [3], b: [3] }],
    ["[2, 2, 3] · [3]", { a: [2, 2, 3], b: [3] }],
    ["[3] · [2, 3, 4]", { a: [3], b: [2, 3, 4] }],
    ["[2, 3] · a [3, 4] weight", { a: [2, 3] }, { b: weights([3, 4], 3) }],
    ["[2, 2, 3] · a [2, 3, 4] constant", { a: [2, 2, 3] }, { b: weights([2, 3, 4], 4) }],
  ];
  it.each(matmuls)("MatMul %s", async (_, inputs, constants) => {
    expect(await againstOrt({ op: "MatMul", inputs, ...(constants ? { constants } : {}) })).toBeLessThan(1e-6);
  });

  // A weight B (a Linear, alpha and beta folded in) or a fed one, transposed or not, a bias per
  // column, one value, or a whole [M, N] matrix; beta 0 drops the bias.
  const gemms: [string, Partial<Case>][] = [
    [
      "a weight, alpha and beta, a bias per column",
      { constants: { b: weights([3, 4], 5), c: weights([4], 6) }, attrs: { alpha: { f: 0.5 }, beta: { f: 2 } } },
    ],
    [
      "a weight transposed, one bias value",
      { constants: { b: weights([4, 3], 7), c: weights([1], 8) }, attrs: { transB: 1, beta: { f: 3 } } },
    ],
    ["a weight, a [2, 4] bias", { constants: { b: weights([3, 4], 9), c: weights([2, 4], 10) }, attrs: { beta: { f: 0.5 } } }],
    ["a weight, beta 0", { constants: { b: weights([3, 4], 11), c: weights([4], 12) }, attrs: { beta: { f: 0 } } }],
    [
      "a weight, A transposed, no bias",
      { inputs: { a: [3, 2] }, constants: { b: weights([3, 4], 13) }, attrs: { transA: 1, alpha: { f: -1 } } },
    ],
    [
      "B fed, transposed, alpha, a bias scaled",
      { inputs: { a: [2, 3], b: [4, 3] }, constants: { c: weights([4], 14) }, attrs: { transB: 1, alpha: { f: 2 }, beta: { f: 0.25 } } },
    ],
    ["B fed, no bias", { inputs: { a: [2, 3], b: [3, 4] } }],
    ["B fed, a bias of beta 1", { inputs: { a: [2, 3], b: [3, 4], c: [4] } }],
  ];
  it.each(gemms)("Gemm: %s", async (_, c) => {
    expect(await againstOrt({ op: "Gemm", inputs: { a: [2, 3] }, ...c } as Case)).toBeLessThan(1e-6);
  });
});

describe("the spatial ops' refusals (lower-spatial.ts), each naming the node", () => {
  const refused: [string, Case, string][] = [
    [
      "Pad reflecting past the axis",
      { op: "Pad", inputs: { x: [2, 3] }, constants: { pads: int64([4], [0, 3, 0, 0]) }, attrs: { mode: "reflect" } },
      "reflect padding of 3 needs an axis longer than that (axis 1 has 3)",
    ],
    [
      "Pad reflecting past the axis at its end",
      { op: "Pad", inputs: { x: [2, 3] }, constants: { pads: int64([4], [0, 0, 0, 4]) }, attrs: { mode: "reflect" } },
      "reflect padding of 4 needs an axis longer than that (axis 1 has 3)",
    ],
    [
      "Pad of another mode",
      { op: "Pad", inputs: { x: [2, 3] }, constants: { pads: int64([4], [0, 1, 0, 0]) }, attrs: { mode: "mirror" } },
      'Pad mode "mirror" is not constant, edge, reflect or wrap',
    ],
    [
      "Pad with pads not twice the axes",
      { op: "Pad", inputs: { x: [2, 3] }, constants: { pads: int64([3], [0, 1, 0]) } },
      "Pad has 3 pads for 2 axes",
    ],
    [
      "Conv with another auto_pad",
      { op: "Conv", inputs: { x: [1, 1, 4, 4] }, constants: { w: weights([1, 1, 2, 2], 1) }, attrs: { auto_pad: "SAME" } },
      'auto_pad "SAME" is not NOTSET, SAME_UPPER, SAME_LOWER or VALID',
    ],
    [
      "Conv with a kernel larger than the input",
      { op: "Conv", inputs: { x: [1, 1, 2, 2] }, constants: { w: weights([1, 1, 3, 3], 1) } },
      "the kernel (3 with dilation) is larger than the padded input (2) on spatial axis 0",
    ],
    [
      "Conv of integers",
      { op: "Conv", inputs: { x: [1, 1, 4, 4] }, int64: ["x"], constants: { w: weights([1, 1, 2, 2], 1) } },
      "Conv of an integer tensor is not supported",
    ],
    [
      "Conv whose weight fits no grouping",
      { op: "Conv", inputs: { x: [1, 4, 4, 4] }, constants: { w: weights([3, 2, 2, 2], 1) }, attrs: { group: 2 } },
      "Conv's weight [3, 2, 2, 2] does not fit 4 input channels in 2 group(s)",
    ],
    [
      "Conv whose weight has too few channels",
      { op: "Conv", inputs: { x: [1, 4, 4, 4] }, constants: { w: weights([2, 2, 2, 2], 1) } },
      "Conv's weight [2, 2, 2, 2] does not fit 4 input channels in 1 group(s)",
    ],
    [
      "ConvTranspose of integers",
      { op: "ConvTranspose", inputs: { x: [1, 1, 3, 3] }, int64: ["x"], constants: { w: weights([1, 1, 2, 2], 1) } },
      "ConvTranspose of an integer tensor is not supported",
    ],
    [
      "ConvTranspose whose weight fits no grouping",
      { op: "ConvTranspose", inputs: { x: [1, 3, 3, 3] }, constants: { w: weights([3, 1, 2, 2], 1) }, attrs: { group: 2 } },
      "ConvTranspose's weight [3, 1, 2, 2] does not fit 3 input channels in 2 group(s)",
    ],
    [
      "ConvTranspose whose weight has other channels",
      { op: "ConvTranspose", inputs: { x: [1, 2, 3, 3] }, constants: { w: weights([3, 1, 2, 2], 1) } },
      "ConvTranspose's weight [3, 1, 2, 2] does not fit 2 input channels in 1 group(s)",
    ],
    ["MaxPool without kernel_shape", { op: "MaxPool", inputs: { x: [1, 1, 4, 4] } }, "kernel_shape is required"],
    [
      "MaxPool of int64",
      { op: "MaxPool", inputs: { x: [1, 1, 4, 4] }, int64: ["x"], attrs: { kernel_shape: [2, 2] } },
      "MaxPool of an integer tensor other than int8 and uint8 is not supported",
    ],
    [
      "AveragePool of integers",
      { op: "AveragePool", inputs: { x: [1, 1, 4, 4] }, int64: ["x"], attrs: { kernel_shape: [2, 2] } },
      "AveragePool of an integer tensor is not supported",
    ],
    [
      "GlobalAveragePool of integers",
      { op: "GlobalAveragePool", inputs: { x: [1, 1, 4, 4] }, int64: ["x"] },
      "a global pool of an integer tensor is not supported",
    ],
    [
      "BatchNormalization in training mode",
      {
        op: "BatchNormalization",
        inputs: { x: [1, 2, 3] },
        constants: { s: weights([2], 1), b: weights([2], 2), m: weights([2], 3), v: floats([2], [1, 2]) },
        attrs: { training_mode: 1 },
      },
      "BatchNormalization in training mode (running statistics as outputs) is not supported",
    ],
    ["LRN of size 0", { op: "LRN", inputs: { x: [1, 2, 3, 3] }, attrs: { size: 0 } }, "LRN needs a size of at least 1"],
    [
      "DepthToSpace of a blocksize that does not divide the channels",
      { op: "DepthToSpace", inputs: { x: [1, 8, 2, 2] }, attrs: { blocksize: 3 } },
      "blocksize 3 does not divide 8 channels into b² blocks",
    ],
    [
      "DepthToSpace of blocksize 0",
      { op: "DepthToSpace", inputs: { x: [1, 8, 2, 2] }, attrs: { blocksize: 0 } },
      "blocksize 0 does not divide 8 channels into b² blocks",
    ],
    [
      "SpaceToDepth of a blocksize that does not divide the width",
      { op: "SpaceToDepth", inputs: { x: [1, 1, 4, 6] }, attrs: { blocksize: 4 } },
      "blocksize 4 does not divide the 4 × 6 image",
    ],
    [
      "SpaceToDepth of a blocksize that does not divide the height",
      { op: "SpaceToDepth", inputs: { x: [1, 1, 6, 4] }, attrs: { blocksize: 4 } },
      "blocksize 4 does not divide the 6 × 4 image",
    ],
    [
      "SpaceToDepth of blocksize 0",
      { op: "SpaceToDepth", inputs: { x: [1, 1, 4, 4] }, attrs: { blocksize: 0 } },
      "blocksize 0 does not divide the 4 × 4 image",
    ],
  ];
  it.each(refused)("%s", async (_, c, message) => {
    expect(await refusal(c)).toBe(`unsupported.onnx_op: ${message} @ node n (${c.op})`);
  });
});

describe("Pad, convolutions and pools at their edges (lower-spatial.ts), against onnxruntime-node", () => {
  // Pads larger than one, on both ends, cropped (negative), on chosen axes; wrap past the axis's length.
  const pads: [string, Partial<Case>][] = [
    ["reflect, 2 before and 1 after on both axes", { constants: { pads: int64([4], [2, 1, 1, 2]) }, attrs: { mode: "reflect" } }],
    ["edge, 3 and 0, 1 and 4", { constants: { pads: int64([4], [3, 1, 0, 4]) }, attrs: { mode: "edge" } }],
    // ONNX Runtime 1.30 fills the first row with zeros here; ONNX's reference (numpy's pad) wraps on.
    [
      "wrap, past the axis's length, as numpy wraps",
      {
        opset: 19,
        constants: { pads: int64([4], [4, 2, 5, 3]) },
        attrs: { mode: "wrap" },
        reference: ({ x }) => ({
          y0: Array.from({ length: 12 * 9 }, (_, i) => x[((((Math.floor(i / 9) - 4) % 3) + 3) % 3) * 4 + (((((i % 9) - 2) % 4) + 4) % 4)]),
        }),
      },
    ],
    ["wrap, 1 and 2", { opset: 19, constants: { pads: int64([4], [1, 0, 2, 1]) }, attrs: { mode: "wrap" } }],
    ["constant, cropped at one end, padded at the other", { constants: { pads: int64([4], [-1, 2, 1, -2]), v: floats([], [7]) } }],
    ["reflect, cropped and padded", { constants: { pads: int64([4], [-1, 2, 1, -1]) }, attrs: { mode: "reflect" } }],
    ["edge on the last axis only, named −1", { constants: { pads: int64([2], [2, 1]), v: floats([], [0]), axes: int64([1], [-1]) } }],
  ];
  it.each(pads)("Pad: %s", async (_, c) => {
    const inputs = { x: [3, 4] };
    expect(await againstOrt({ op: "Pad", inputs, ...c } as Case)).toBe(0);
  });

  it("Pad of integers, edge", async () => {
    const c: Case = {
      op: "Pad",
      inputs: { x: [2, 3] },
      int64: ["x"],
      constants: { pads: int64([4], [1, 2, 0, 1]) },
      attrs: { mode: "edge" },
    };
    expect(await againstOrt(c)).toBe(0);
  });

  // Weights and biases fed at run time (the MatMul path) or constant (a Linear, the bias folded in
  // unless it is fed), one group or several.
  const convs: [string, Partial<Case>][] = [
    ["a fed weight in two groups", { inputs: { x: [1, 4, 5, 5], w: [6, 2, 3, 3] }, attrs: { group: 2, pads: [1, 0, 1, 2] } }],
    ["a fed weight and a fed bias", { inputs: { x: [2, 3, 6], w: [4, 3, 2], b: [4] }, attrs: { strides: [2] } }],
    [
      "a constant weight, a fed bias",
      { inputs: { x: [1, 2, 4, 4], b: [3] }, constants: { w: weights([3, 2, 2, 2], 3) }, order: ["x", "w", "b"] },
    ],
    [
      "a constant weight and bias in two groups",
      { inputs: { x: [1, 4, 4, 4] }, constants: { w: weights([4, 2, 2, 2], 4), b: weights([4], 5) }, attrs: { group: 2 } },
    ],
    [
      "SAME_LOWER, strided",
      {
        inputs: { x: [1, 1, 7, 6] },
        constants: { w: weights([2, 1, 3, 2], 6) },
        attrs: { auto_pad: "SAME_LOWER", strides: [2, 3] },
      },
    ],
  ];
  it.each(convs)("Conv: %s", async (_, c) => {
    expect(await againstOrt({ op: "Conv", inputs: {}, ...c } as Case)).toBeLessThan(1e-6);
  });

  const transposed: [string, Partial<Case>][] = [
    [
      "a constant weight in two groups, strided",
      { inputs: { x: [1, 4, 3, 3] }, constants: { w: weights([4, 3, 2, 3], 7) }, attrs: { group: 2, strides: [2, 1] } },
    ],
    [
      "a fed weight in two groups, a bias",
      { inputs: { x: [1, 4, 3, 3], w: [4, 1, 3, 2] }, constants: { b: weights([2], 8) }, attrs: { group: 2 } },
    ],
    [
      "pads, dilations and output_padding",
      {
        inputs: { x: [1, 2, 4] },
        constants: { w: weights([2, 3, 3], 9) },
        attrs: { strides: [3], pads: [1, 2], dilations: [2], output_padding: [1] },
      },
    ],
    [
      "output_shape",
      { inputs: { x: [1, 1, 3, 3] }, constants: { w: weights([1, 2, 3, 3], 10) }, attrs: { strides: [2, 2], output_shape: [6, 7] } },
    ],
    [
      "SAME_UPPER",
      { inputs: { x: [1, 1, 3, 4] }, constants: { w: weights([1, 1, 2, 3], 11) }, attrs: { strides: [2, 2], auto_pad: "SAME_UPPER" } },
    ],
    [
      "SAME_LOWER",
      { inputs: { x: [1, 1, 3, 4] }, constants: { w: weights([1, 1, 2, 3], 11) }, attrs: { strides: [2, 2], auto_pad: "SAME_LOWER" } },
    ],
  ];
  it.each(transposed)("ConvTranspose: %s", async (_, c) => {
    expect(await againstOrt({ op: "ConvTranspose", inputs: {}, ...c } as Case)).toBeLessThan(1e-6);
  });

  // Each output divided by its window's elements inside the input (or, with count_include_pad, inside
  // the declared padding too, never ceil_mode's overhang).
  const pools: [string, Record<string, Attr>, number?][] = [
    ["padded, counting only the input", { kernel_shape: [3, 2], pads: [1, 1, 2, 1] }],
    ["padded, counting the padding", { kernel_shape: [3, 2], pads: [1, 1, 2, 1], count_include_pad: 1 }],
    [
      "ceil_mode, counting the padding but not the overhang",
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 0], ceil_mode: 1, count_include_pad: 1 },
    ],
    ["strided and dilated, padded", { kernel_shape: [2, 2], strides: [2, 1], dilations: [2, 2], pads: [1, 1, 1, 0] }, 19],
    ["SAME_LOWER", { kernel_shape: [2, 3], strides: [2, 2], auto_pad: "SAME_LOWER" }],
  ];
  it.each(pools)("AveragePool: %s", async (_, attrs, opset) => {
    expect(await againstOrt({ op: "AveragePool", inputs: { x: [1, 2, 5, 6] }, attrs, ...(opset ? { opset } : {}) })).toBeLessThan(1e-6);
  });
});

describe("lower-ops.ts: refusals, integer reductions and the older opsets' axes", () => {
  const refused: [string, Case, string][] = [
    ["ArgMax of integers", { op: "ArgMax", inputs: { x: [2, 3] }, int64: ["x"] }, "ArgMax of an integer tensor is not supported"],
    ["ArgMin of integers", { op: "ArgMin", inputs: { x: [2, 3] }, int64: ["x"] }, "ArgMin of an integer tensor is not supported"],
    ["Hardmax of integers", { op: "Hardmax", inputs: { x: [2, 3] }, int64: ["x"] }, "Hardmax of an integer tensor is not supported"],
    [
      "ReduceL2 of integers",
      { op: "ReduceL2", inputs: { x: [2, 3] }, int64: ["x"] },
      "ReduceL2 of an integer tensor is not supported (its result is not an integer)",
    ],
    [
      "NegativeLogLikelihoodLoss of another reduction",
      { op: "NegativeLogLikelihoodLoss", inputs: { x: [2, 3], t: [2] }, int64: ["t"], values: { t: [0, 2] }, attrs: { reduction: "max" } },
      'reduction "max" is not none, sum or mean',
    ],
    [
      "InstanceNormalization of rank 2",
      { op: "InstanceNormalization", inputs: { x: [2, 3] }, constants: { s: weights([3], 1), b: weights([3], 2) } },
      "InstanceNormalization needs an input of rank 3 or more",
    ],
    [
      "Concat of empty tensors only",
      { op: "Concat", inputs: { x: [0, 3], y: [0, 3] }, attrs: { axis: 0 } },
      "Concat of empty tensors only is not supported",
    ],
    [
      "Gather of integers along axis 1 at indices fed at run time",
      { op: "Gather", inputs: { x: [3, 4], i: [2] }, int64: ["x", "i"], values: { i: [0, 3] }, attrs: { axis: 1 } },
      "Gather of an integer tensor with indices computed at run time is not supported",
    ],
    [
      "GatherElements of integers",
      { op: "GatherElements", inputs: { x: [3, 4], i: [3, 2] }, int64: ["x", "i"], values: { i: [0, 1, 2, 3, 1, 0] }, attrs: { axis: 1 } },
      "GatherElements of an integer tensor is not supported",
    ],
    [
      "LayerNormalization with a scale of the wrong length",
      { op: "LayerNormalization", inputs: { x: [2, 4] }, constants: { s: weights([3], 1) } },
      "a norm's scale and bias must have 4 elements",
    ],
  ];
  it.each(refused)("refuses %s", async (_, c, message) => {
    expect(await refusal(c)).toBe(`unsupported.onnx_op: ${message} @ node n (${c.op})`);
  });

  // Integers reduce in f32 and come back as integers, exactly (the sums here stay far within 2^24).
  it.each(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1"])("%s of integers", async (op) => {
    const c: Case = { op, opset: 13, inputs: { x: [2, 3, 4] }, int64: ["x"], attrs: op === "ReduceSum" ? {} : { axes: [1, 2] } };
    if (op === "ReduceSum") c.constants = { axes: int64([1], [1]) };
    expect(await againstOrt(c)).toBe(0);
  });

  // Before opset 13, Softmax, LogSoftmax and Hardmax read the axes from `axis` on as one (default 1).
  it.each(["Softmax", "LogSoftmax", "Hardmax"])("%s at opset 12: the axes from 1 on, and from 2", async (op) => {
    expect(await againstOrt({ op, opset: 12, inputs: { x: [2, 3, 4] } })).toBeLessThan(1e-6);
    expect(await againstOrt({ op, opset: 12, inputs: { x: [2, 3, 4] }, attrs: { axis: 2 } })).toBeLessThan(1e-6);
    expect(await againstOrt({ op, opset: 12, inputs: { x: [2, 3, 4] }, attrs: { axis: -3 } })).toBeLessThan(1e-6);
  });
});
