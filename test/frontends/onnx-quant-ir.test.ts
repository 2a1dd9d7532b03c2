// The quantization ops (compiler/frontends/onnx/lower-quant.ts) lowered to IR and run by the IR's
// reference interpreter (evaluateOnnx), against onnxruntime-node on the same model bytes and
// inputs, without compiling wasm (test/frontends/onnx-quant.test.ts builds the same ops' graphs to
// wasm): per-tensor and per-axis scales and zero points on every axis form, saturation at both
// ends, halves rounded to even, the Linear path of a constant B and the MatMul path of a fed one,
// zero points per row and per column, grouped integer convolutions; and each refusal's message.
// Integer outputs must match exactly, float outputs to 1e-6 relative.
import { describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { isFloat, tensor, type OnnxDType, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { catchSeec } from "../helpers/errors.js";
import { feed } from "../helpers/onnx.js";
import { graphBytes, writeGraph } from "../helpers/onnx-model.js";

/** A tensor of the test: its element type, shape and values. */
type T = { dtype: OnnxDType; shape: number[]; values: number[] };
const t = (dtype: OnnxDType, shape: number[], values: number[]): T => ({ dtype, shape, values });
const f32 = (shape: number[], values: number[]) => t("float32", shape, values);
const u8 = (shape: number[], values: number[]) => t("uint8", shape, values);
const i8 = (shape: number[], values: number[]) => t("int8", shape, values);

interface Case {
  op: string;
  /** The node's inputs in order: fed tensors, constants, or "" for an absent optional one. */
  inputs: (["fed" | "constant", T] | "")[];
  attrs?: Record<string, number>;
  outputs?: number;
  opset?: number;
}

function modelBytes(c: Case): Uint8Array {
  const names = c.inputs.map((x, i) => (x ? `x${i}` : ""));
  const outputs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`);
  const of = (kind: "fed" | "constant") => c.inputs.flatMap((x, i) => (x && x[0] === kind ? [[names[i], x[1]] as const] : []));
  return graphBytes({
    name: c.op,
    irVersion: 9,
    opset: c.opset ?? 19,
    nodes: [{ op: c.op, name: "n", inputs: names, outputs, attrs: c.attrs }],
    constants: Object.fromEntries(of("constant").map(([name, v]) => [name, { dims: v.shape, dtype: v.dtype, values: v.values }])),
    inputs: Object.fromEntries(of("fed").map(([name, v]) => [name, v.shape])),
    inputTypes: Object.fromEntries(of("fed").map(([name, v]) => [name, v.dtype])),
    outputs,
  });
}

async function seecModel(c: Case) {
  return readOnnx(await writeGraph(modelBytes(c)));
}

const fedOf = (c: Case) =>
  new Map(c.inputs.flatMap((x, i) => (x && x[0] === "fed" ? [[`x${i}`, tensor(x[1].dtype, x[1].shape, x[1].values)] as const] : [])));

/** The int32 output of a 2-D MatMulInteger, written out: zero points one, one per row of A ([M]) or one per column of B ([N]). */
function matMulInteger(a: T, b: T, aZp: number[], bZp: number[]): T {
  const [M, K] = a.shape,
    N = b.shape[1];
  const at = (z: number[], i: number) => z[z.length === 1 ? 0 : i];
  const out: number[] = [];
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (a.values[i * K + k] - at(aZp, i)) * (b.values[k * N + j] - at(bZp, j));
      out.push(s);
    }
  return t("int32", [M, N], out);
}

/** The int32 output of ConvInteger on one image [1, C, H, W] (stride 1, no padding, one group), written out: w's zero point per output channel. */
function convInteger(x: T, w: T, xZp: number, wZp: number[]): T {
  const [, C, H, W] = x.shape,
    [M, , KH, KW] = w.shape;
  const out: number[] = [];
  for (let m = 0; m < M; m++)
    for (let i = 0; i + KH <= H; i++)
      for (let j = 0; j + KW <= W; j++) {
        let s = 0;
        for (let c = 0; c < C; c++)
          for (let p = 0; p < KH; p++)
            for (let q = 0; q < KW; q++)
              s += (x.values[(c * H + i + p) * W + j + q] - xZp) * (w.values[((m * C + c) * KH + p) * KW + q] - wZp[m]);
        out.push(s);
      }
  return t("int32", [1, M, H - KH + 1, W - KW + 1], out);
}

/** seec's one output, which must be `want` exactly: the forms ONNX Runtime's CPU kernels do not take. */
async function against(c: Case, want: T): Promise<void> {
  const got = evaluateOnnx(await seecModel(c), fedOf(c)).get("y0")!;
  expect([got.dtype, got.shape, Array.from(got.data)]).toEqual([want.dtype, want.shape, want.values]);
}

/** seec's outputs, after checking them against ONNX Runtime's: integers exactly, floats to 1e-6 relative. */
async function againstOrt(c: Case): Promise<OnnxTensor[]> {
  const feeds = fedOf(c);
  const ours = evaluateOnnx(await seecModel(c), feeds);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(modelBytes(c), { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const theirs = await session.run(
    Object.fromEntries([...feeds].map(([k, v]) => [k, new ort.Tensor(v.dtype as "float32", feed(v) as never, v.shape)])),
  );
  return Array.from({ length: c.outputs ?? 1 }, (_, k) => {
    const got = ours.get(`y${k}`)!,
      want = theirs[`y${k}`];
    expect(got.shape, `y${k}'s shape`).toEqual([...want.dims]);
    expect(got.dtype, `y${k}'s type`).toBe(want.type === "float32" ? "float32" : want.type);
    const w = Array.from(want.data as ArrayLike<number>, Number);
    if (isFloat(got.dtype))
      w.forEach((x, i) => expect(Math.abs(got.data[i] - x), `y${k}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(x))));
    else expect(Array.from(got.data), `y${k}`).toEqual(w);
    return got;
  });
}

const refusal = async (c: Case) => {
  const m = await seecModel(c);
  const e = catchSeec(() => evaluateOnnx(m, fedOf(c)));
  return [e.code, e.message, e.at];
};

// x / scale lands on halves (2.5, 3.5, -2.5, -0.5), past both ends of uint8 and int8, and on 0.
const X = f32([2, 4], [5, 7, -5, -1, 1000, -1000, 0, 2.6]);

describe("QuantizeLinear and DequantizeLinear, against ONNX Runtime", () => {
  it("per tensor: uint8 with a zero point, int8 with one, none (uint8), rounding halves to even and saturating", async () => {
    const [q] = await againstOrt({
      op: "QuantizeLinear",
      inputs: [
        ["fed", X],
        ["constant", f32([], [2])],
        ["constant", u8([], [3])],
      ],
    });
    expect(Array.from(q.data)).toEqual([5, 7, 1, 3, 255, 0, 3, 4]);
    await againstOrt({
      op: "QuantizeLinear",
      inputs: [
        ["fed", X],
        ["constant", f32([1], [2])],
        ["constant", i8([1], [-1])],
      ],
    });
    const [none] = await againstOrt({
      op: "QuantizeLinear",
      inputs: [
        ["fed", X],
        ["constant", f32([], [2])],
      ],
    });
    expect(none.dtype).toBe("uint8");
    await againstOrt({ op: "QuantizeLinear", inputs: [["fed", X], ["constant", f32([], [0.5])], ""] });
  });

  it("per axis: the default axis 1, axis 0 and a negative axis, scales and zero points fed or constant", async () => {
    const x3 = f32([2, 3, 2], [1, -2, 3.5, 4, -5, 60, 7, 8, -9, 10.5, 11, -120]);
    await againstOrt({
      op: "QuantizeLinear",
      inputs: [
        ["fed", x3],
        ["constant", f32([3], [0.5, 1, 2])],
        ["constant", i8([3], [0, 5, -7])],
      ],
    });
    await againstOrt({
      op: "QuantizeLinear",
      inputs: [
        ["fed", x3],
        ["constant", f32([2], [0.25, 3])],
        ["constant", u8([2], [128, 9])],
      ],
      attrs: { axis: 0 },
    });
    await againstOrt({
      op: "QuantizeLinear",
      inputs: [
        ["fed", x3],
        ["fed", f32([2], [1.5, 0.5])],
        ["fed", i8([2], [1, -1])],
      ],
      attrs: { axis: -1 },
    });
    await againstOrt({
      op: "DequantizeLinear",
      inputs: [
        ["fed", i8([2, 3, 2], [-128, 127, 0, 1, -1, 5, 6, 7, 8, 9, -10, 11])],
        ["constant", f32([3], [0.5, 2, 0.125])],
        ["constant", i8([3], [1, -2, 3])],
      ],
    });
    await againstOrt({
      op: "DequantizeLinear",
      inputs: [
        ["fed", u8([2, 3, 2], [0, 255, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])],
        ["fed", f32([2], [0.5, 4])],
        ["fed", u8([2], [128, 0])],
      ],
      attrs: { axis: -1 },
    });
  });

  it("DequantizeLinear without a zero point, of uint8, int8 and int32", async () => {
    for (const x of [u8([4], [0, 1, 254, 255]), i8([4], [-128, -1, 0, 127]), t("int32", [4], [-70000, 0, 3, 1 << 20])]) {
      const [y] = await againstOrt({
        op: "DequantizeLinear",
        inputs: [
          ["fed", x],
          ["constant", f32([], [0.25])],
        ],
      });
      expect(y.dtype).toBe("float32");
    }
  });

  it("refuses blocked quantization, a scale that fits no axis, an output_dtype other than uint8 or int8, and an int16 zero point", async () => {
    // Two-dimensional, though its first dimension is the axis's size.
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([4, 2], Array(8).fill(1))],
        ],
      }),
    ).toEqual([
      "unsupported.onnx_op",
      "a scale or zero point of shape [4, 2] fits neither per-tensor nor per-axis quantization of [2, 4] along axis 1",
      "node n (QuantizeLinear)",
    ]);
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([2, 2], [1, 1, 1, 1])],
        ],
        attrs: { axis: 1, block_size: 2 },
        opset: 21,
      }),
    ).toEqual(["unsupported.onnx_op", "blocked quantization (block_size) is not supported", "node n (QuantizeLinear)"]);
    expect(
      await refusal({
        op: "DequantizeLinear",
        inputs: [
          ["fed", u8([2], [1, 2])],
          ["constant", f32([2], [1, 1])],
        ],
        attrs: { block_size: 1 },
        opset: 21,
      }),
    ).toEqual(["unsupported.onnx_op", "blocked quantization (block_size) is not supported", "node n (DequantizeLinear)"]);
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([3], [1, 1, 1])],
        ],
      }),
    ).toEqual([
      "unsupported.onnx_op",
      "a scale or zero point of shape [3] fits neither per-tensor nor per-axis quantization of [2, 4] along axis 1",
      "node n (QuantizeLinear)",
    ]);
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([4], [1, 1, 1, 1])],
        ],
        attrs: { axis: 2 },
      }),
    ).toEqual([
      "unsupported.onnx_op",
      "a scale or zero point of shape [4] fits neither per-tensor nor per-axis quantization of [2, 4] along axis 2",
      "node n (QuantizeLinear)",
    ]);
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([1, 4], [1, 1, 1, 1])],
        ],
      }),
    ).toEqual([
      "unsupported.onnx_op",
      "a scale or zero point of shape [1, 4] fits neither per-tensor nor per-axis quantization of [2, 4] along axis 1",
      "node n (QuantizeLinear)",
    ]);
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([], [1])],
        ],
        attrs: { output_dtype: 5 },
        opset: 21,
      }),
    ).toEqual(["unsupported.onnx_op", "output_dtype 5 is not uint8 or int8", "node n (QuantizeLinear)"]);
    expect(
      await refusal({
        op: "QuantizeLinear",
        inputs: [
          ["fed", X],
          ["constant", f32([], [1])],
          ["constant", t("int16", [], [0])],
        ],
        opset: 21,
      }),
    ).toEqual(["unsupported.onnx_op", "quantizing to int16 is not supported (uint8 and int8 are)", "node n (QuantizeLinear)"]);
  });

  it("writes int8 for output_dtype 3 and uint8 for 2 or none (opset 21)", async () => {
    const m = async (attrs: Record<string, number>) =>
      evaluateOnnx(
        await seecModel({
          op: "QuantizeLinear",
          inputs: [
            ["fed", X],
            ["constant", f32([], [2])],
          ],
          attrs,
          opset: 21,
        }),
        fedOf({ op: "", inputs: [["fed", X]] }),
      ).get("y0")!;
    expect((await m({ output_dtype: 3 })).dtype).toBe("int8");
    expect(Array.from((await m({ output_dtype: 3 })).data)).toEqual([2, 4, -2, 0, 127, -128, 0, 1]);
    expect((await m({ output_dtype: 2 })).dtype).toBe("uint8");
    expect(Array.from((await m({})).data)).toEqual([2, 4, 0, 0, 255, 0, 0, 1]);
  });
});

describe("DynamicQuantizeLinear, against ONNX Runtime", () => {
  it("a range across 0, one above it and one below (widened to hold 0), and an empty one (scale 1)", async () => {
    for (const x of [
      f32([2, 3], [-1.5, 0.2, 3.75, 2, -0.7, 1]),
      f32([4], [0.5, 2, 3.3, 1]),
      f32([4], [-0.5, -2, -3.3, -1]),
      f32([3], [0, 0, 0]),
    ]) {
      const [y, scale, zp] = await againstOrt({ op: "DynamicQuantizeLinear", inputs: [["fed", x]], outputs: 3 });
      expect([y.dtype, scale.dtype, zp.dtype]).toEqual(["uint8", "float32", "uint8"]);
    }
  });
});

describe("MatMulInteger and QLinearMatMul, against ONNX Runtime", () => {
  const A = u8([2, 3], [0, 17, 255, 128, 3, 90]);
  const B = i8([3, 2], [-128, 127, 5, -6, 0, 33]);
  const mm = (...inputs: Case["inputs"]): Case => ({ op: "MatMulInteger", inputs });

  it("MatMulInteger: B constant (a Linear) or fed (a MatMul), zero points per tensor and per column of B", async () => {
    await againstOrt(mm(["fed", A], ["constant", B]));
    await againstOrt(mm(["fed", A], ["fed", B]));
    await againstOrt(mm(["fed", A], ["constant", B], ["constant", u8([], [128])], ["constant", i8([], [-3])]));
    await againstOrt(mm(["fed", A], ["fed", B], ["fed", u8([1], [128])], ["fed", i8([1], [-3])]));
    await againstOrt(mm(["fed", A], ["constant", B], "", ["constant", i8([2], [4, 1])]));
    await againstOrt(mm(["fed", u8([2, 2, 3], [1, 2, 3, 4, 5, 6, 250, 251, 252, 0, 0, 1])], ["constant", B]));
  });

  it("MatMulInteger with a zero point per row of A (ONNX allows it, ONNX Runtime's CPU kernel does not: written out here)", async () => {
    const want = matMulInteger(A, B, [100, 7], [2, -9]);
    await against(mm(["fed", A], ["constant", B], ["constant", u8([2], [100, 7])], ["constant", i8([2], [2, -9])]), want);
    await against(mm(["fed", A], ["fed", B], ["fed", u8([2], [100, 7])], ["fed", i8([2], [2, -9])]), want);
  });

  it("refuses a constant B's zero point that is neither one nor one per column", async () => {
    expect(await refusal(mm(["fed", A], ["constant", B], "", ["constant", i8([3], [1, 2, 3])]))).toEqual([
      "unsupported.onnx_op",
      "b_zero_point has 3 elements for 2 columns",
      "node n (MatMulInteger)",
    ]);
  });

  it("MatMulInteger: a constant B with a fed zero point, and a constant B of three dimensions (a MatMul, not a Linear)", async () => {
    await againstOrt(mm(["fed", A], ["constant", B], "", ["fed", i8([2], [4, 1])]));
    await againstOrt(
      mm(
        ["fed", u8([2, 2, 3], [1, 2, 3, 4, 5, 6, 250, 251, 252, 0, 0, 1])],
        ["constant", i8([2, 3, 2], [1, -2, 3, -4, 5, -6, 7, 8, 9, 10, 11, 127])],
      ),
    );
  });

  it("QLinearMatMul and QLinearConv write y_zero_point's type, whatever a's is", async () => {
    const scalar = (v: number): ["constant", T] => ["constant", f32([], [v])];
    const ys = await Promise.all(
      [
        {
          op: "QLinearMatMul",
          inputs: [
            ["fed", i8([1, 2], [-100, 100])],
            scalar(1),
            ["constant", i8([], [0])],
            ["constant", i8([2, 1], [1, 1])],
            scalar(1),
            ["constant", i8([], [0])],
            scalar(1),
            ["constant", u8([], [3])],
          ],
        },
        {
          op: "QLinearConv",
          inputs: [
            ["fed", u8([1, 1, 2, 2], [0, 100, 200, 255])],
            scalar(1),
            ["constant", u8([], [0])],
            ["constant", u8([1, 1, 1, 1], [1])],
            scalar(1),
            ["constant", u8([], [0])],
            scalar(1),
            ["constant", i8([], [-3])],
          ],
        },
      ].map(async (c) => evaluateOnnx(await seecModel(c as Case), fedOf(c as Case)).get("y0")!),
    );
    expect(ys.map((y) => [y.dtype, Array.from(y.data)])).toEqual([
      ["uint8", [3]],
      ["int8", [-3, 97, 127, 127]],
    ]);
  });

  it("QLinearMatMul: scales per tensor and per column of B, B constant or fed, uint8 and int8", async () => {
    const scalar = (v: number): ["constant", T] => ["constant", f32([], [v])];
    // A batch of two: b's scale per column along the last axis, not the second (values near the
    // zero points, so that no output saturates).
    await againstOrt({
      op: "QLinearMatMul",
      inputs: [
        ["fed", u8([2, 2, 3], [118, 121, 125, 120, 116, 123, 119, 122, 117, 124, 120, 115])],
        scalar(0.05),
        ["constant", u8([], [120])],
        ["constant", u8([3, 2], [0, 4, 5, 6, 3, 2])],
        ["constant", f32([2], [0.02, 0.3])],
        ["constant", u8([], [1])],
        scalar(0.1),
        ["constant", u8([], [128])],
      ],
    });
    const B8 = u8([3, 2], [0, 255, 5, 6, 200, 33]);
    await againstOrt({
      op: "QLinearMatMul",
      inputs: [
        ["fed", A],
        scalar(0.05),
        ["constant", u8([], [120])],
        ["constant", B8],
        scalar(0.02),
        ["constant", u8([], [1])],
        scalar(0.1),
        ["constant", u8([], [128])],
      ],
    });
    const [y] = await againstOrt({
      op: "QLinearMatMul",
      inputs: [
        ["fed", i8([2, 3], [-128, 17, 127, 0, 3, -90])],
        scalar(0.05),
        ["constant", i8([], [-2])],
        ["fed", B],
        ["constant", f32([2], [0.02, 0.3])],
        ["constant", i8([2], [0, 0])],
        scalar(0.07),
        ["constant", i8([], [-5])],
      ],
    });
    expect(y.dtype).toBe("int8");
  });
});

describe("ConvInteger and QLinearConv, against ONNX Runtime", () => {
  const x = u8([1, 2, 3, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 250, 9, 128, 17, 33, 200, 0, 1, 255]);
  const w = u8([2, 2, 2, 2], [1, 2, 3, 4, 0, 255, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  const conv = (inputs: Case["inputs"], attrs?: Case["attrs"]): Case => ({ op: "ConvInteger", inputs, ...(attrs ? { attrs } : {}) });

  it("ConvInteger: zero points for x and w (constant or fed), none, and two groups", async () => {
    await againstOrt(conv([["fed", x], ["fed", w], "", ["constant", u8([], [9])]]));
    await againstOrt(
      conv([
        ["fed", x],
        ["constant", w],
      ]),
    );
    await againstOrt(
      conv([
        ["fed", x],
        ["fed", w],
      ]),
    );
    await againstOrt(
      conv([
        ["fed", x],
        ["fed", w],
        ["constant", u8([], [1])],
        ["fed", u8([], [7])],
      ]),
    );
    await againstOrt(
      conv([
        ["fed", x],
        ["constant", w],
        ["constant", u8([], [128])],
        ["constant", u8([], [3])],
      ]),
    );
    await againstOrt(
      conv(
        [
          ["fed", x],
          ["constant", u8([2, 1, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])],
          ["constant", u8([], [2])],
        ],
        { group: 2 },
      ),
    );
  });

  it("ConvInteger with w's zero point per output channel (ONNX allows it, ONNX Runtime's CPU kernel does not: written out here)", async () => {
    const want = convInteger(x, w, 128, [3, 250]);
    await against(
      conv([
        ["fed", x],
        ["constant", w],
        ["constant", u8([], [128])],
        ["constant", u8([2], [3, 250])],
      ]),
      want,
    );
    await against(
      conv([
        ["fed", x],
        ["fed", w],
        ["constant", u8([], [128])],
        ["fed", u8([2], [3, 250])],
      ]),
      want,
    );
  });

  it("refuses a weight that does not fit the channels and groups", async () => {
    expect(
      await refusal(
        conv(
          [
            ["fed", x],
            ["constant", u8([3, 1, 2, 2], Array(12).fill(1))],
          ],
          { group: 2 },
        ),
      ),
    ).toEqual(["unsupported.onnx_op", "the weight [3, 1, 2, 2] does not fit 2 input channels in 2 group(s)", "node n (ConvInteger)"]);
    expect(
      await refusal(
        conv([
          ["fed", x],
          ["constant", u8([2, 1, 2, 2], Array(8).fill(1))],
        ]),
      ),
    ).toEqual(["unsupported.onnx_op", "the weight [2, 1, 2, 2] does not fit 2 input channels in 1 group(s)", "node n (ConvInteger)"]);
  });

  it("QLinearConv: a weight scaled per output channel with an int32 bias (uint8), and per tensor (int8)", async () => {
    const scalar = (v: number): ["constant", T] => ["constant", f32([], [v])];
    await againstOrt({
      op: "QLinearConv",
      inputs: [
        ["fed", x],
        scalar(0.04),
        ["constant", u8([], [10])],
        ["constant", w],
        ["constant", f32([2], [0.01, 0.03])],
        ["constant", u8([], [0])],
        scalar(0.5),
        ["constant", u8([], [100])],
        ["constant", t("int32", [2], [-400, 1234])],
      ],
    });
    const [y] = await againstOrt({
      op: "QLinearConv",
      inputs: [
        ["fed", i8([1, 2, 3, 3], [0, 1, 2, 3, -4, 5, 6, 7, 8, -128, 9, 127, 17, 33, -100, 0, 1, -1])],
        scalar(0.04),
        ["constant", i8([], [10])],
        ["constant", i8([2, 2, 2, 2], [1, 2, 3, 4, 0, -128, 7, 8, 9, 10, 11, 12, 13, -14, 15, 16])],
        scalar(0.02),
        ["constant", i8([], [0])],
        scalar(0.3),
        ["constant", i8([], [-20])],
      ],
    });
    expect(y.dtype).toBe("int8");
  });
});
