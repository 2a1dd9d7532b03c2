// The ONNX ops seec lowers to other IR ops (lower-spatial.ts, lower-indexing.ts, lower-einsum.ts, lower-signal.ts),
// each as a one-node model built by seec and run through the artifact, against onnxruntime-node on
// the same file and inputs: the forms ONNX's backend node suite leaves out (weights as
// initializers, groups, equations beyond its four, build-time k, pads and axes).
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { load } from "../../runtime/index.js";
import { tmpDir } from "../helpers/compile.js";
import { opFeeds, opGraph, weights, writeGraph, type Attr, type OpCase } from "../helpers/onnx-model.js";
import { rejectsSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";

type Case = OpCase;

/** Largest |seec − ONNX Runtime| over every output; fails beyond 1e-4 absolute and 1e-3 relative. */
async function againstOrt(c: Case): Promise<number> {
  const file = await writeGraph(opGraph(c));
  const feeds: Record<string, Float32Array | BigInt64Array | Int32Array> = Object.fromEntries(
    [...opFeeds(c)].map(([name, t]) => [
      name,
      t.dtype === "int64" ? BigInt64Array.from(t.data, BigInt) : t.dtype === "int32" ? Int32Array.from(t.data) : Float32Array.from(t.data),
    ]),
  );
  const out = join(await tmpDir(), "artifact");
  await build({ model: file, target: "wasm-simd", out, shapes: Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, [...v]])) });
  const model = await load(out, { webgpu: false });
  const got = await model.run(feeds);
  const want: Record<string, { data: ArrayLike<number | bigint> }> = {};
  if (c.reference) for (const [name, data] of Object.entries(c.reference(feeds as Record<string, Float32Array>))) want[name] = { data };
  else {
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
    const feedsOrt = Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [
        k,
        v instanceof BigInt64Array
          ? new ort.Tensor("int64", v, [...c.inputs[k]])
          : v instanceof Int32Array
            ? new ort.Tensor("int32", v, [...c.inputs[k]])
            : new ort.Tensor("float32", v, [...c.inputs[k]]),
      ]),
    );
    Object.assign(want, await session.run(feedsOrt));
  }
  let worst = 0;
  for (const name of Object.keys(want)) {
    const w = Array.from(want[name].data as ArrayLike<number | bigint>, Number);
    const g = Array.from(got[name] as ArrayLike<number | bigint>, Number);
    expect(g.length, name).toBe(w.length);
    for (let i = 0; i < w.length; i++) {
      const d = g[i] === w[i] || (Number.isNaN(g[i]) && Number.isNaN(w[i])) ? 0 : Math.abs(g[i] - w[i]);
      if (!(d <= 1e-4 || d <= 1e-3 * Math.abs(w[i]))) expect.fail(`${c.op} ${name}[${i}]: ${g[i]}, ONNX Runtime ${w[i]}`);
      worst = Math.max(worst, d);
    }
  }
  model.dispose();
  return worst;
}

describe("ONNX ops lowered to other IR ops, against onnxruntime-node", () => {
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
    ["i,j->ij", [[3], [4]]],
    ["ii->i", [[4, 4]]],
    ["bij->bj", [[2, 3, 4]]],
    [
      "...ij,...jk->...ik",
      [
        [2, 3, 4],
        [2, 4, 5],
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
  ];
  for (const [equation, shapes] of einsums)
    it(`Einsum "${equation}"`, async () => {
      const inputs = Object.fromEntries(shapes.map((s, i) => [`x${i}`, s]));
      expect(await againstOrt({ op: "Einsum", inputs, attrs: { equation } })).toBeLessThan(1e-4);
    });

  it("Conv 2-D, weights and bias as initializers, 2 groups, stride 2, padding, dilation 2", async () => {
    const c: Case = {
      op: "Conv",
      inputs: { x: [2, 4, 9, 9] },
      constants: { w: weights([6, 2, 3, 3], 1), b: weights([6], 2) },
      attrs: { group: 2, strides: [2, 2], pads: [1, 2, 1, 0], dilations: [2, 2] },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-4);
  });

  it("Conv 1-D as audio front ends use it (auto_pad SAME_UPPER, stride 2), weights as initializers", async () => {
    const c: Case = {
      op: "Conv",
      inputs: { x: [1, 3, 11] },
      constants: { w: weights([5, 3, 3], 3), b: weights([5], 4) },
      attrs: { auto_pad: "SAME_UPPER", strides: [2] },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-4);
  });

  it("ConvTranspose 2-D, weights and bias as initializers, 2 groups, stride 2, pads, output_padding, dilation", async () => {
    const c: Case = {
      op: "ConvTranspose",
      inputs: { x: [1, 4, 4, 5] },
      constants: { w: weights([4, 3, 3, 2], 5), b: weights([6], 6) },
      attrs: { group: 2, strides: [2, 3], pads: [1, 0, 0, 1], output_padding: [1, 2], dilations: [1, 2] },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-4);
  });

  it("ConvTranspose 1-D with weights at run time and auto_pad SAME_UPPER", async () => {
    const c: Case = { op: "ConvTranspose", inputs: { x: [2, 3, 6], w: [3, 2, 4] }, attrs: { auto_pad: "SAME_UPPER", strides: [2] } };
    expect(await againstOrt(c)).toBeLessThan(1e-4);
  });

  const resizes: [string, Record<string, Attr>, { scales?: number[]; sizes?: number[] }][] = [
    ["linear, half_pixel, 2x up", { mode: "linear" }, { scales: [1, 1, 2, 2] }],
    [
      "nearest, asymmetric, floor (PyTorch's Upsample)",
      { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" },
      { scales: [1, 1, 2, 3] },
    ],
    [
      "cubic, pytorch_half_pixel, to sizes",
      { mode: "cubic", coordinate_transformation_mode: "pytorch_half_pixel" },
      { sizes: [1, 2, 3, 7] },
    ],
    ["linear, align_corners, down to sizes", { mode: "linear", coordinate_transformation_mode: "align_corners" }, { sizes: [1, 2, 3, 4] }],
  ];
  for (const [what, attrs, { scales, sizes }] of resizes)
    it(`Resize ${what}, scales or sizes as initializers`, async () => {
      const c: Case = {
        op: "Resize",
        inputs: { x: [1, 2, 5, 6] },
        constants: scales ? { scales: { dims: [4], floats: scales } } : { sizes: { dims: [4], int64: sizes! } },
        order: scales ? ["x", "", "scales"] : ["x", "", "", "sizes"],
        attrs,
      };
      expect(await againstOrt(c)).toBeLessThan(1e-4);
    });

  describe("com.microsoft ops ONNX Runtime's transformer optimizer writes", () => {
    const ms = "com.microsoft";
    it("FusedMatMul with transA, transB and alpha; with a weight as an initializer", async () => {
      const attrs = { transA: 1, transB: 1, alpha: 0.5 };
      expect(await againstOrt({ op: "FusedMatMul", domain: ms, inputs: { a: [2, 5, 3], b: [2, 4, 5] }, attrs })).toBeLessThan(1e-4);
      const w: Case = {
        op: "FusedMatMul",
        domain: ms,
        inputs: { a: [2, 3, 5] },
        constants: { w: weights([5, 4], 8) },
        attrs: { alpha: 2.5 },
      };
      expect(await againstOrt(w)).toBeLessThan(1e-4);
    });
    it("QuickGelu and Gelu", async () => {
      expect(await againstOrt({ op: "QuickGelu", domain: ms, inputs: { x: [2, 7] }, attrs: { alpha: 1.5 } })).toBeLessThan(1e-5);
      expect(await againstOrt({ op: "Gelu", domain: ms, inputs: { x: [2, 7] } })).toBeLessThan(1e-5);
    });
    // CUDA-only in ONNX Runtime: their definitions, written out here.
    it("BiasAdd and BiasSplitGelu, against their definitions", async () => {
      const biasAdd = ({ x, bias, skip }: Record<string, ArrayLike<number>>) => ({
        y0: Array.from(x, (v, i) => v + bias[i % 4] + skip[i]),
      });
      expect(
        await againstOrt({ op: "BiasAdd", domain: ms, inputs: { x: [1, 2, 4], bias: [4], skip: [1, 2, 4] }, reference: biasAdd }),
      ).toBeLessThan(1e-6);
      const erf = (z: number) => {
        // Abramowitz–Stegun 7.1.26 is too coarse; a series converges fast for the |z| < 1.5 of these inputs.
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
      expect(await againstOrt({ op: "BiasSplitGelu", domain: ms, inputs: { x: [1, 3, 8], bias: [8] }, reference: split })).toBeLessThan(
        1e-5,
      );
    });
  });

  // GenAI's exports sum the int64 attention mask into sequence lengths (GroupQueryAttention's seqlens_k).
  it.each([
    ["ReduceSum", { keepdims: 0 }, [1]],
    ["ReduceMax", { keepdims: 1 }, [0]],
    ["ReduceMin", { keepdims: 0 }, [0, 1]],
    ["ReduceProd", { keepdims: 1 }, [1]],
    ["ReduceL1", { keepdims: 0 }, [1]],
    ["ReduceSumSquare", { keepdims: 1 }, [1]],
  ] as const)("%s of an int64 tensor, axes as an initializer", async (op, attrs, axes) => {
    const c: Case = {
      op,
      inputs: { x: [3, 4] },
      int64: ["x"],
      attrs,
      constants: { axes: { dims: [axes.length], int64: [...axes] } },
    };
    expect(await againstOrt(c)).toBe(0);
  });

  it("ReduceMean of an int64 tensor is refused by name (its mean is no integer)", async () => {
    const file = await writeGraph(opGraph({ op: "ReduceMean", inputs: { x: [3, 4] }, int64: ["x"] }));
    const err = await rejectsSeec(() => build({ model: file, target: "wasm-simd", out: join(file, "..", "a"), shapes: { x: [3, 4] } }));
    expect(err.message).toMatch(/ReduceMean of an integer tensor is not supported/);
  });

  describe("what a review found (each gave a wrong answer without an error)", () => {
    it("Pad of an int64 tensor in constant mode", async () => {
      const c: Case = { op: "Pad", inputs: { x: [2, 3] }, int64: ["x"], constants: { pads: { dims: [4], int64: [0, 1, 0, 1] } } };
      expect(await againstOrt(c)).toBe(0);
    });
    it("TopK over infinities, largest and smallest, their indices distinct", async () => {
      const x = [-Infinity, -Infinity, 1, -Infinity, Infinity, 3, Infinity, Infinity];
      for (const largest of [1, 0]) {
        const c: Case = {
          op: "TopK",
          inputs: { x: [2, 4] },
          values: { x },
          constants: { k: { dims: [1], int64: [4] } },
          attrs: { largest },
          outputs: 2,
        };
        expect(await againstOrt(c)).toBe(0);
      }
    });
    it("CumSum, ScatterND, ScatterElements and Resize keep an infinity where it lands (no 0 · ∞)", async () => {
      const cum: Case = {
        op: "CumSum",
        inputs: { x: [5] },
        values: { x: [1, 2, -Infinity, 3, 4] },
        constants: { axis: { dims: [], int64: [0] } },
      };
      expect(await againstOrt(cum)).toBe(0);
      const nd: Case = {
        op: "ScatterND",
        inputs: { data: [4, 2], updates: [2, 2] },
        values: { updates: [-Infinity, 9, 10, 11] },
        constants: { indices: { dims: [2, 1], int64: [3, 0] } },
        order: ["data", "indices", "updates"],
      };
      expect(await againstOrt(nd)).toBe(0);
      const elements: Case = {
        op: "ScatterElements",
        inputs: { data: [1, 4], updates: [1, 2] },
        values: { updates: [-Infinity, 7] },
        constants: { indices: { dims: [1, 2], int64: [0, 2] } },
        order: ["data", "indices", "updates"],
        attrs: { axis: 1 },
      };
      expect(await againstOrt(elements)).toBe(0);
      const resize: Case = {
        op: "Resize",
        inputs: { x: [1, 1, 1, 4] },
        values: { x: [1, 2, 3, Infinity] },
        constants: { scales: { dims: [4], floats: [1, 1, 1, 2] } },
        order: ["x", "", "scales"],
        attrs: { mode: "linear" },
      };
      expect(await againstOrt(resize)).toBeLessThan(1e-6);
    });
    it("Einsum reads uppercase letters as letters, and refuses ellipsis axes that would broadcast", async () => {
      expect(await againstOrt({ op: "Einsum", inputs: { a: [3, 4], b: [3, 4] }, attrs: { equation: "...i,Ai->..." } })).toBeLessThan(1e-4);
      const broadcast: Case = { op: "Einsum", inputs: { a: [1, 3, 4], b: [2, 4, 5] }, attrs: { equation: "...ij,...jk->...ik" } };
      await expect(againstOrt(broadcast)).rejects.toThrow(/the ellipsis spans axes of sizes 1 and 2/);
    });
    it("ConvTranspose at stride 8 over 1,024 frames (zeros spread by concatenation, not a 8,185 × 1,024 matrix)", async () => {
      const c: Case = {
        op: "ConvTranspose",
        inputs: { x: [1, 4, 1024] },
        constants: { w: weights([4, 4, 16], 10) },
        attrs: { strides: [8], pads: [4, 4] },
      };
      expect(await againstOrt(c)).toBeLessThan(1e-4);
    });
  });

  it("MaxPool and AveragePool 2-D with ceil_mode, padding and strides", async () => {
    const attrs = { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1], ceil_mode: 1 };
    expect(await againstOrt({ op: "MaxPool", inputs: { x: [1, 2, 7, 6] }, attrs })).toBe(0);
    expect(await againstOrt({ op: "AveragePool", inputs: { x: [1, 2, 7, 6] }, attrs })).toBeLessThan(1e-5);
    expect(await againstOrt({ op: "AveragePool", inputs: { x: [1, 2, 7, 6] }, attrs: { ...attrs, count_include_pad: 1 } })).toBeLessThan(
      1e-5,
    );
  });

  for (const mode of ["constant", "edge", "reflect", "wrap"])
    it(`Pad ${mode}, pads and axes as initializers`, async () => {
      const c: Case = {
        op: "Pad",
        inputs: { x: [3, 4, 5] },
        constants: { pads: { dims: [4], int64: [2, 1, 1, 2] }, value: { dims: [], floats: [0.5] }, axes: { dims: [2], int64: [2, 0] } },
        order: ["x", "pads", mode === "constant" ? "value" : "", "axes"],
        attrs: { mode },
      };
      expect(await againstOrt(c)).toBe(0);
    });

  it("TopK, k an initializer, smallest, along axis 1", async () => {
    const c: Case = {
      op: "TopK",
      inputs: { x: [3, 7, 2] },
      constants: { k: { dims: [1], int64: [3] } },
      attrs: { axis: 1, largest: 0 },
      outputs: 2,
    };
    expect(await againstOrt(c)).toBe(0);
  });

  it("CumSum, exclusive and reversed, along axis 0", async () => {
    const c: Case = {
      op: "CumSum",
      inputs: { x: [5, 4] },
      constants: { axis: { dims: [], int64: [0] } },
      attrs: { exclusive: 1, reverse: 1 },
    };
    expect(await againstOrt(c)).toBeLessThan(1e-5);
  });

  it("ScatterND with reduction add, and ScatterElements along axis 1, indices as initializers", async () => {
    const nd: Case = {
      op: "ScatterND",
      inputs: { data: [4, 3], updates: [3, 3] },
      constants: { indices: { dims: [3, 1], int64: [2, -1, 2] } },
      order: ["data", "indices", "updates"],
      attrs: { reduction: "add" },
    };
    expect(await againstOrt(nd)).toBeLessThan(1e-5);
    const elements: Case = {
      op: "ScatterElements",
      inputs: { data: [3, 5], updates: [2, 2] },
      constants: { indices: { dims: [2, 2], int64: [4, 0, -2, 1] } },
      order: ["data", "indices", "updates"],
      attrs: { axis: 1 },
    };
    expect(await againstOrt(elements)).toBe(0);
  });

  it("DFT of real and complex signals: onesided, padded and cut by dft_length, along an inner axis, inverse", async () => {
    const dft = (inputs: Record<string, number[]>, attrs: Record<string, Attr>, length?: number): Case => ({
      op: "DFT",
      opset: 17,
      inputs,
      ...(length ? { constants: { n: { dims: [], int64: [length] } } } : {}),
      attrs,
    });
    const cases: Case[] = [
      dft({ x: [2, 10, 1] }, { onesided: 1 }, 12),
      dft({ x: [1, 3, 8, 2] }, { axis: 2 }, 6),
      dft({ x: [2, 7, 3, 2] }, { axis: 1, inverse: 1 }),
      dft({ x: [3, 16, 1] }, { onesided: 1 }),
    ];
    for (const c of cases) expect(await againstOrt(c), JSON.stringify(c)).toBeLessThan(2e-5);
    // Opset 20: the axis an input (default −2), flags any value but 0.
    const axisInput: Case = {
      op: "DFT",
      opset: 20,
      inputs: { x: [3, 4, 6, 1] },
      constants: { n: { dims: [], int64: [5] }, axis: { dims: [], int64: [2] } },
      attrs: { onesided: 2 },
    };
    expect(await againstOrt(axisInput)).toBeLessThan(2e-5);
    expect(await againstOrt({ op: "DFT", opset: 20, inputs: { x: [3, 4, 6, 2] }, attrs: { inverse: 5 } })).toBeLessThan(2e-5);
  });

  it("keeps the DFT's matrix exact under --quantize (it is no learned weight): an int8 build's STFT equals the f32 build's", async () => {
    const c: Case = {
      op: "STFT",
      opset: 17,
      inputs: { signal: [1, 96, 1] },
      constants: { step: { dims: [], int64: [8] }, length: { dims: [], int64: [32] } },
      order: ["signal", "step", "", "length"],
    };
    const file = await writeGraph(opGraph(c));
    const signal = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i / 3) + (i % 7) / 7);
    const outs = [];
    for (const quantize of [undefined, "int8"] as const) {
      const out = join(await tmpDir(), "artifact");
      await build({ model: file, target: "wasm-simd", out, ...(quantize ? { quantize } : {}) });
      const model = await load(out, { webgpu: false });
      outs.push(Array.from((await model.run({ signal })).y0 as Float32Array));
      model.dispose();
    }
    expect(outs[1]).toEqual(outs[0]);
  });

  it("STFT with a window and frame_length at build time, onesided and not, and the three windows, periodic and symmetric", async () => {
    const stft = (onesided: number): Case => ({
      op: "STFT",
      opset: 17,
      inputs: { signal: [2, 64, 1], window: [16] },
      constants: { step: { dims: [], int64: [6] }, length: { dims: [], int64: [16] } },
      order: ["signal", "step", "window", "length"],
      attrs: { onesided },
    });
    for (const onesided of [1, 0]) expect(await againstOrt(stft(onesided))).toBeLessThan(2e-5);
    // The windows compute from their size alone: a graph with no input, one constant output.
    for (const op of ["HannWindow", "HammingWindow", "BlackmanWindow"])
      for (const periodic of [1, 0]) {
        const c: Case = { op, opset: 17, inputs: {}, constants: { size: { dims: [], int64: [12] } }, attrs: { periodic } };
        expect(await againstOrt(c), `${op} periodic ${periodic}`).toBeLessThan(1e-6);
      }
  });

  it("MelWeightMatrix at build time: Whisper's 80 bands of a 400-point DFT at 16 kHz, and narrow bands where corners share a bin; edges outside the bins refused", async () => {
    const mel = (bins: number, length: number, rate: number, low: number, high: number): Case => ({
      op: "MelWeightMatrix",
      opset: 17,
      inputs: {},
      constants: {
        mels: { dims: [], int64: [bins] },
        length: { dims: [], int64: [length] },
        rate: { dims: [], int64: [rate] },
        low: { dims: [], floats: [low] },
        high: { dims: [], floats: [high] },
      },
    });
    expect(await againstOrt(mel(80, 400, 16000, 0, 8000))).toBeLessThan(1e-6);
    expect(await againstOrt(mel(40, 64, 8000, 100, 3900))).toBeLessThan(1e-6);
    const out = join(await tmpDir(), "a");
    const e = await rejectsSeec(async () =>
      build({ model: await writeGraph(opGraph(mel(8, 16, 8000, 0, 8000))), target: "wasm-simd", out }),
    );
    expect(e.message).toContain("MelWeightMatrix's upper_edge_hertz 8000 falls at bin 17, outside the 9 bins of a 16-point DFT at 8000 Hz");
  });

  it("MaxUnpool over several planes (indices counted over the whole tensor, as MaxPool's are), with pads, and with an output_shape", async () => {
    // X [2, 3, 2, 2] pooled from planes of 4 × 5 (and 4 × 6): each element's index a place in its
    // own plane, offset by the plane's number times the plane's size, as MaxPool counts them.
    const local = [0, 3, 11, 17, 6, 2, 15, 14, 1, 8, 10, 19];
    const unpool = (plane: number, attrs: Record<string, Attr>, constants?: Case["constants"]): Case => ({
      op: "MaxUnpool",
      opset: 11,
      inputs: { x: [2, 3, 2, 2], i: [2, 3, 2, 2] },
      int64: ["i"],
      values: { i: Array.from({ length: 24 }, (_, i) => Math.floor(i / 4) * plane + local[i % 12]) },
      attrs,
      constants,
    });
    // 4 × 5 inferred from kernel 2 × 3, stride 2; then kernel 2, stride 2 and a pad of 1 at the end
    // of the width (3 × 3 inferred) with an output_shape of 4 × 6 that the indices count in.
    expect(await againstOrt(unpool(20, { kernel_shape: [2, 3], strides: [2, 2] }))).toBe(0);
    const padded = { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 1] };
    expect(await againstOrt(unpool(24, padded, { shape: { dims: [4], int64: [2, 3, 4, 6] } }))).toBe(0);
  });

  it("Det over a batch of 5 × 5 matrices: random, permutations odd and even (pivots needed), a singular one, the identity; and 1 × 1", async () => {
    const x = Array.from(randomF32(6 * 25, 91, 2)); // matrices 0 and 1 random
    const permutation = (m: number, order: number[]) =>
      order.forEach((c, r) => {
        for (let j = 0; j < 5; j++) x[m * 25 + r * 5 + j] = j === c ? 1 : 0;
      });
    permutation(2, [2, 0, 4, 1, 3]); // a 5-cycle: +1, every diagonal entry 0 at first
    permutation(3, [1, 0, 2, 3, 4]); // one swap: −1
    for (let j = 0; j < 5; j++) x[4 * 25 + 15 + j] = x[4 * 25 + 5 + j]; // matrix 4: rows 1 and 3 equal
    permutation(5, [0, 1, 2, 3, 4]);
    expect(await againstOrt({ op: "Det", opset: 11, inputs: { x: [2, 3, 5, 5] }, values: { x } })).toBeLessThan(1e-5);
    expect(await againstOrt({ op: "Det", opset: 11, inputs: { x: [3, 1, 1] } })).toBe(0);
  });

  it("ReverseSequence with the batch first and the time second over [3, 5, 2], lengths at run time, 1 to the whole", async () => {
    const c: Case = {
      op: "ReverseSequence",
      opset: 10,
      inputs: { x: [3, 5, 2], lens: [3] },
      int64: ["lens"],
      values: { lens: [1, 5, 3] },
      attrs: { batch_axis: 0, time_axis: 1 },
    };
    expect(await againstOrt(c)).toBe(0);
  });

  describe("RNN, GRU and LSTM in the forms the suite leaves out (it has forward passes with default activations)", () => {
    // X [S = 4, B = 3, I = 5], hidden 6; W, R, B, P as the op's inputs at run time or as initializers.
    // Layout 1 (batch first) only in the suite's batchwise cases: ONNX Runtime's CPU kernels refuse it.
    const [S, B, I, H] = [4, 3, 5, 6];
    const G = { RNN: 1, GRU: 3, LSTM: 4 } as const;
    const recurrent = (
      op: keyof typeof G,
      D: number,
      opts: { constant?: boolean; lens?: number[]; c0?: boolean; peepholes?: boolean; attrs?: Record<string, Attr> },
    ): Case => {
      const [X, state] = [
        [S, B, I],
        [D, B, H],
      ];
      const shapes: Record<string, number[]> = { w: [D, G[op] * H, I], r: [D, G[op] * H, H], b: [D, 2 * G[op] * H] };
      if (opts.peepholes) shapes.p = [D, 3 * H];
      const inputs: Record<string, number[]> = { x: X, ...(opts.constant ? {} : shapes) };
      if (opts.lens) inputs.lens = [B];
      inputs.h0 = state;
      if (opts.c0) inputs.c0 = state;
      const order = ["x", "w", "r", "b", opts.lens ? "lens" : "", "h0", opts.c0 ? "c0" : "", opts.peepholes ? "p" : ""];
      while (order.at(-1) === "") order.pop();
      return {
        op,
        opset: 14,
        inputs,
        int32: opts.lens ? ["lens"] : undefined,
        values: opts.lens ? { lens: opts.lens } : undefined,
        constants: opts.constant ? Object.fromEntries(Object.entries(shapes).map(([k, dims], i) => [k, weights(dims, 40 + i)])) : undefined,
        order,
        attrs: { hidden_size: H, direction: D === 2 ? "bidirectional" : "forward", ...opts.attrs },
        outputs: op === "LSTM" ? 3 : 2,
      };
    };

    it("RNN: both directions, LeakyRelu and ScaledTanh with their alpha and beta, weights as initializers; backwards with lengths", async () => {
      const activations = {
        activations: { strings: ["LeakyRelu", "ScaledTanh"] },
        activation_alpha: { floats: [0.2, 0.9] },
        activation_beta: { floats: [1.3] },
      };
      expect(await againstOrt(recurrent("RNN", 2, { constant: true, attrs: activations }))).toBeLessThan(1e-5);
      expect(await againstOrt(recurrent("RNN", 1, { lens: [4, 1, 3], attrs: { direction: "reverse", clip: { f: 0.4 } } }))).toBeLessThan(
        1e-5,
      );
    });

    it("GRU: backwards with lengths at run time and linear_before_reset, clipped; both directions with HardSigmoid and Softsign", async () => {
      expect(
        await againstOrt(
          recurrent("GRU", 1, { lens: [4, 1, 3], attrs: { direction: "reverse", linear_before_reset: 1, clip: { f: 0.6 } } }),
        ),
      ).toBeLessThan(1e-5);
      const activations = {
        activations: { strings: ["HardSigmoid", "Softsign", "Sigmoid", "Tanh"] },
        activation_alpha: { floats: [0.3] },
        activation_beta: { floats: [0.4] },
      };
      expect(await againstOrt(recurrent("GRU", 2, { constant: true, attrs: activations }))).toBeLessThan(1e-5);
      expect(await againstOrt(recurrent("GRU", 2, { lens: [2, 4, 3], attrs: { linear_before_reset: 1 } }))).toBeLessThan(1e-5);
    });

    it("LSTM: both directions with lengths, peepholes and an initial cell; input_forget and clip; Elu and Softplus", async () => {
      expect(await againstOrt(recurrent("LSTM", 2, { lens: [2, 4, 3], c0: true, peepholes: true }))).toBeLessThan(1e-5);
      expect(
        await againstOrt(recurrent("LSTM", 1, { constant: true, c0: true, attrs: { input_forget: 1, clip: { f: 0.7 } } })),
      ).toBeLessThan(1e-5);
      const activations = {
        direction: "reverse",
        activations: { strings: ["Sigmoid", "Elu", "Softplus"] },
        activation_alpha: { floats: [0.8] },
      };
      expect(await againstOrt(recurrent("LSTM", 1, { constant: true, peepholes: true, attrs: activations }))).toBeLessThan(1e-5);
    });

    it("ships each weight once however many steps it unrolls (an LSTM with its weights as initializers, 2 and 64 steps)", async () => {
      const shipped = async (steps: number) => {
        const c = recurrent("LSTM", 1, { constant: true });
        c.inputs.x = [steps, B, I];
        const out = join(await tmpDir(), "a");
        await build({ model: await writeGraph(opGraph(c)), target: "wasm-simd", out });
        return statSync(join(out, "weights.bin")).size;
      };
      const two = await shipped(2);
      expect(two).toBeGreaterThanOrEqual(4 * (4 * H * I + 4 * H * H + 8 * H));
      expect(await shipped(64)).toBe(two);
    });

    it("ends an entry of length 0 with a state of zeros, as ONNX Runtime does, whatever its initial state", async () => {
      expect(await againstOrt(recurrent("LSTM", 2, { lens: [0, 4, 2], c0: true }))).toBeLessThan(1e-5);
      expect(await againstOrt(recurrent("GRU", 1, { lens: [3, 0, 1], attrs: { direction: "reverse" } }))).toBeLessThan(1e-5);
      expect(await againstOrt(recurrent("RNN", 1, { lens: [0, 0, 4] }))).toBeLessThan(1e-5);
    });

    it("gives each activation the next alpha in order (the forward Tanh takes none, so the backward LeakyRelu takes the first), as ONNX Runtime does", async () => {
      const attrs = { activations: { strings: ["Tanh", "LeakyRelu"] }, activation_alpha: { floats: [0.5, 0.2] } };
      expect(await againstOrt(recurrent("RNN", 2, { attrs }))).toBeLessThan(1e-5);
    });

    it("holds lengths fed at run time within [0, S]: a reverse pass over a length past S is the pass over S", async () => {
      const file = await writeGraph(opGraph(recurrent("LSTM", 1, { lens: [4, 4, 2], attrs: { direction: "reverse" } })));
      const out = join(await tmpDir(), "a");
      await build({ model: file, target: "wasm-simd", out });
      const model = await load(out, { webgpu: false });
      const feeds = Object.fromEntries(
        [...opFeeds(recurrent("LSTM", 1, { lens: [4, 4, 2] }))].map(([k, t]) => [k, Float32Array.from(t.data)]),
      );
      const run = async (lens: number[]) => (await model.run({ ...feeds, lens: Int32Array.from(lens) })).y0 as Float32Array;
      expect(Array.from(await run([9, 4, -3]))).toEqual(Array.from(await run([4, 4, 0])));
      model.dispose();
    });

    it("refuses what it cannot read, naming it", async () => {
      const refusal = async (c: Case) => {
        const out = join(await tmpDir(), "a");
        return (await rejectsSeec(async () => build({ model: await writeGraph(opGraph(c)), target: "wasm-simd", out }))).message;
      };
      expect(await refusal(recurrent("GRU", 1, { attrs: { activations: { strings: ["Sigmoid", "Gelu"] } } }))).toMatch(
        /activation "Gelu" is not one of/,
      );
      expect(await refusal(recurrent("LSTM", 1, { attrs: { clip: 0 } }))).toContain("LSTM's clip 0 must be above 0");
      const thresholded = { activations: { strings: ["Sigmoid", "ThresholdedRelu"] } };
      expect(await refusal(recurrent("GRU", 1, { attrs: thresholded }))).toContain(
        'activation "ThresholdedRelu" needs its alpha in activation_alpha, which has none left for it',
      );
      const lengths = recurrent("RNN", 1, { constant: true });
      lengths.constants!.lens = { dims: [3], int64: [2, 5, 1] };
      lengths.order = ["x", "w", "r", "b", "lens", "h0"];
      expect(await refusal(lengths)).toContain("RNN's sequence_lens holds 5, outside 0 to the sequence's 4 steps");
    });
  });

  it("GridSample in the combinations the suite leaves out: bicubic with reflection and align_corners, nearest with border, a grid past [-1, 1]", async () => {
    for (const [mode, padding_mode, align_corners] of [
      ["bicubic", "reflection", 1],
      ["bicubic", "border", 0],
      ["bicubic", "zeros", 1],
      ["nearest", "border", 1],
      ["nearest", "reflection", 0],
      ["nearest", "reflection", 1],
      ["bilinear", "reflection", 1],
      ["bilinear", "border", 1],
    ] as const) {
      const c: Case = {
        op: "GridSample",
        opset: 16,
        inputs: { x: [2, 3, 5, 4], grid: [2, 3, 6, 2] },
        // A grid from −1.6 to 1.6: places inside, on and past the edges.
        values: { grid: Array.from({ length: 72 }, (_, i) => Math.round(((i * 37) % 33) - 16) / 10) },
        attrs: { mode, padding_mode, align_corners },
      };
      expect(await againstOrt(c), `${mode} ${padding_mode} ${align_corners}`).toBeLessThan(2e-5);
    }
  });

  it("refuses the signal ops' sizes when they are not whole numbers from 1, naming the op", async () => {
    const out = join(await tmpDir(), "artifact");
    const cases: [Case, string][] = [
      [
        { op: "DFT", opset: 17, inputs: { x: [1, 4, 1] }, constants: { n: { dims: [], int64: [0] } } },
        "DFT's dft_length is 0; it must be a whole number, at least 1",
      ],
      [
        { op: "DFT", opset: 17, inputs: { x: [1, 4, 1] }, attrs: { axis: 2 } },
        "DFT's axis 2 is not a signal axis of a rank-3 input (the last holds the parts)",
      ],
      [{ op: "DFT", opset: 17, inputs: { x: [1, 4, 3] } }, "DFT's input ends in a dimension of 3; it must be 1 (real) or 2 (complex)"],
      [{ op: "DFT", opset: 17, inputs: { x: [2, 8, 1] }, int64: ["x"] }, "DFT's input must be a float tensor"],
      [
        { op: "DFT", opset: 17, inputs: { x: [1, 16384, 1] } },
        "DFT of 16384 points over 16384 samples needs a matrix of 536870912 elements; seec holds at most 268435456 (1 GiB of float32) in one tensor",
      ],
      [
        {
          op: "STFT",
          opset: 17,
          inputs: { signal: [1, 8, 1] },
          constants: { step: { dims: [], int64: [2] }, length: { dims: [], int64: [16] } },
          order: ["signal", "step", "", "length"],
        },
        "STFT's frames of 16 samples are longer than the signal's 8",
      ],
    ];
    for (const [c, message] of cases) {
      const file = await writeGraph(opGraph(c));
      const e = await rejectsSeec(() => build({ model: file, target: "wasm-simd", out }));
      expect(e.message, c.op).toBe(message);
    }
  });
});
