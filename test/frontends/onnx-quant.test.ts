// The quantization ops (compiler/frontends/onnx/lower-quant.ts) in the graphs ONNX Runtime's
// quantizer writes, built by seec and run through the artifact, against onnxruntime-node on the
// same file and inputs: the shared GPT-2 of ORT's transformer optimizer rewritten as `quantize_dynamic` rewrites a model
// (DynamicQuantizeLinear → MatMulInteger → Cast → Mul for every MatMul by a weight), a QDQ graph
// (quantized weights and activations between DequantizeLinear and QuantizeLinear, per axis), and
// the integer products by themselves (QLinearMatMul, MatMulInteger, ConvInteger, QLinearConv).
// ONNX's own backend node cases of these ops run in test/conformance.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { readOnnx, readTensorFile } from "../../compiler/frontends/onnx/read.js";
import { fromProto } from "../../compiler/frontends/onnx/tensor.js";
import { load } from "../../runtime/index.js";
import { tmpDir } from "../helpers/compile.js";
import { feed } from "../helpers/onnx.js";
import { rejectsSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";
import { sharedPath } from "../helpers/shared.js";

const { onnx } = onnxProto;
type Proto = import("onnx-proto").onnx.IModelProto;
const DT = onnx.TensorProto.DataType;
type Elem = "float32" | "uint8" | "int8" | "int32";
const ELEM = { float32: DT.FLOAT, uint8: DT.UINT8, int8: DT.INT8, int32: DT.INT32 } as const;
type Fed = Float32Array | Uint8Array | Int8Array | Int32Array;

interface Tensor {
  elem: Elem;
  dims: number[];
  data: ArrayLike<number>;
}

const tensor = (elem: Elem, dims: number[], data: ArrayLike<number>): Tensor => ({ elem, dims, data });

/** An initializer of any element type, its values in raw little-endian bytes. */
function initializer(name: string, t: Tensor): import("onnx-proto").onnx.ITensorProto {
  const array = { float32: Float32Array, uint8: Uint8Array, int8: Int8Array, int32: Int32Array }[t.elem].from(t.data);
  return { name, dims: t.dims, dataType: ELEM[t.elem], rawData: new Uint8Array(array.buffer) };
}

interface Graph {
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number> }[];
  inputs: Record<string, { elem: Elem; dims: number[] }>;
  constants?: Record<string, Tensor>;
  /** Each output and the element type the graph declares for it. */
  outputs: Record<string, Elem>;
  opset?: number;
}

function model(g: Graph): Proto {
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: g.opset ?? 13 }],
    graph: {
      name: "quant",
      node: g.nodes.map((n, i) => ({
        opType: n.op,
        name: `${n.op}_${i}`,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([name, v]) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v })),
      })),
      initializer: Object.entries(g.constants ?? {}).map(([name, t]) => initializer(name, t)),
      input: Object.entries(g.inputs).map(([name, t]) => ({
        name,
        type: { tensorType: { elemType: ELEM[t.elem], shape: { dim: t.dims.map((d) => ({ dimValue: d })) } } },
      })),
      output: Object.entries(g.outputs).map(([name, elem]) => ({ name, type: { tensorType: { elemType: ELEM[elem] } } })),
    },
  });
}

async function write(m: Proto): Promise<string> {
  const file = join(await tmpDir(), "model.onnx");
  writeFileSync(file, onnx.ModelProto.encode(m).finish());
  return file;
}

/** Every output of the model by seec (wasm-simd) and by ONNX Runtime on the same feeds. */
async function bothRuns(file: string, feeds: Record<string, Fed>, shapes: Record<string, number[]>) {
  const out = join(await tmpDir(), "artifact");
  await build({ model: file, target: "wasm-simd", out, shapes });
  const artifact = await load(out, { webgpu: false });
  const seec = await artifact.run(feeds);
  artifact.dispose();
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const type = (v: Fed) =>
    v instanceof Float32Array ? "float32" : v instanceof Uint8Array ? "uint8" : v instanceof Int8Array ? "int8" : "int32";
  const want = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(type(v), v, shapes[k])])));
  return { seec, want };
}

/**
 * Largest |seec − ONNX Runtime| of an output, failing beyond `tolerance` (integers: exactly equal
 * unless a tolerance is given); checks that seec hands out the element type ONNX Runtime does.
 */
function compare(got: unknown, want: { data: unknown; type: string }, name: string, tolerance = 0): number {
  const g = got as ArrayLike<number>,
    w = want.data as ArrayLike<number>;
  const arrays: Record<string, unknown> = { float32: Float32Array, uint8: Uint8Array, int8: Int8Array, int32: Int32Array };
  expect(got, `${name}'s array type`).toBeInstanceOf(arrays[want.type] as never);
  expect(g.length, name).toBe(w.length);
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const d = Math.abs(g[i] - w[i]);
    if (!(d <= tolerance)) expect.fail(`${name}[${i}]: seec ${g[i]}, ONNX Runtime ${w[i]}`);
    worst = Math.max(worst, d);
  }
  return worst;
}

const bytes = (n: number, seed: number, lo: number, hi: number) =>
  Array.from(randomF32(n, seed), (v) => Math.max(lo, Math.min(hi, Math.round(((v + 1) / 2) * (hi - lo) + lo))));

const GPT2 = sharedPath("onnx/gpt2_tiny_ort_fused_contrib");

/**
 * The model as onnxruntime.quantization.quantize_dynamic rewrites it: every MatMul by a 2-D float
 * weight becomes DynamicQuantizeLinear of its input (uint8, the scale and zero point from the
 * activations' own range), MatMulInteger by the weight quantized to int8 (symmetric, per tensor,
 * zero point 0), and the int32 product cast to float and scaled by the two scales' product.
 */
function quantizeDynamic(m: Proto): { model: Proto; rewritten: number } {
  const g = m.graph!;
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const nodes: import("onnx-proto").onnx.INodeProto[] = [];
  let rewritten = 0;
  for (const n of g.node!) {
    const w = n.opType === "MatMul" ? inits.get(n.input![1]) : undefined;
    if (!w || w.dims!.length !== 2 || w.dataType !== DT.FLOAT) {
      nodes.push(n);
      continue;
    }
    const values = fromProto(w, "model.onnx").data;
    const scale = Math.fround(Math.max(...Array.from(values, Math.abs)) / 127);
    const name = n.name!;
    g.initializer!.push(
      initializer(
        `${name}_Wq`,
        tensor(
          "int8",
          w.dims!.map(Number),
          Array.from(values, (v) => Math.round(v / scale)),
        ),
      ),
      initializer(`${name}_Ws`, tensor("float32", [], [scale])),
      initializer(`${name}_Wz`, tensor("int8", [], [0])),
    );
    const [x] = n.input!;
    const t = (s: string) => `${name}_${s}`;
    nodes.push(
      { opType: "DynamicQuantizeLinear", name: t("quant"), input: [x], output: [t("xq"), t("xs"), t("xz")] },
      { opType: "MatMulInteger", name: t("matmul"), input: [t("xq"), t("Wq"), t("xz"), t("Wz")], output: [t("acc")] },
      { opType: "Mul", name: t("scales"), input: [t("xs"), t("Ws")], output: [t("scale")] },
      {
        opType: "Cast",
        name: t("cast"),
        input: [t("acc")],
        output: [t("accf")],
        attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT }],
      },
      { opType: "Mul", name: t("scaled"), input: [t("accf"), t("scale")], output: n.output },
    );
    rewritten++;
  }
  g.node = nodes;
  return { model: m, rewritten };
}

describe("ONNX quantization ops, against onnxruntime-node", () => {
  it.skipIf(!GPT2)(
    "runs the shared GPT-2 (ORT's transformer optimizer) as quantize_dynamic rewrites it (16 MatMuls through DynamicQuantizeLinear and MatMulInteger) as ONNX Runtime does",
    async () => {
      const { model: quantized, rewritten } = quantizeDynamic(onnx.ModelProto.decode(readFileSync(join(GPT2!, "model.onnx"))));
      expect(rewritten).toBe(16);
      const file = await write(quantized);
      const read = await readOnnx(file);
      const data = join(GPT2!, "test_data_set_0");
      const inputs = await Promise.all(read.inputs.map((_, k) => readTensorFile(join(data, `input_${k}.pb`))));
      const shapes = Object.fromEntries(read.inputs.map((input, k) => [input.name, inputs[k].shape]));
      const feeds = Object.fromEntries(read.inputs.map((input, k) => [input.name, feed(inputs[k])]));
      const out = join(await tmpDir(), "artifact");
      await build({ model: file, target: "wasm-simd", out, shapes });
      const artifact = await load(out, { webgpu: false });
      const got = await artifact.run(feeds);
      artifact.dispose();
      const ort = await import("onnxruntime-node");
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
      const ortFeeds = Object.fromEntries(
        read.inputs.map((input, k) => {
          const v = feeds[input.name];
          return [
            input.name,
            new ort.Tensor(
              v instanceof BigInt64Array ? "int64" : v instanceof Int32Array ? "int32" : "float32",
              v as Float32Array,
              shapes[input.name],
            ),
          ];
        }),
      );
      const want = await session.run(ortFeeds);
      const logits = read.outputs[0].name;
      const g = got[logits] as Float32Array,
        w = want[logits].data as Float32Array;
      expect(g.length).toBe(w.length);
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
      // Measured 6.0e-8 (the logits' f32 rounding): every activation quantized to the same uint8 values as ONNX Runtime.
      expect(worst).toBeLessThanOrEqual(1e-6);
      // And it is the quantized model that ran: the float model's logits differ from these.
      const dense = await readTensorFile(join(data, "output_0.pb"));
      let moved = 0;
      for (let i = 0; i < w.length; i++) moved = Math.max(moved, Math.abs(dense.data[i] - g[i]));
      // Measured 6.8e-3.
      expect(moved).toBeGreaterThan(1e-3);
    },
    120_000,
  );

  it("runs a QDQ graph: int8 weights per output column dequantized at build time, activations quantized to uint8 and back", async () => {
    const [K, N] = [6, 4];
    const g: Graph = {
      nodes: [
        { op: "DequantizeLinear", inputs: ["Wq", "Ws", "Wz"], outputs: ["W"], attrs: { axis: 1 } },
        { op: "MatMul", inputs: ["x", "W"], outputs: ["y"] },
        { op: "QuantizeLinear", inputs: ["y", "ys", "yz"], outputs: ["yq"] },
        { op: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["yd"] },
        { op: "DequantizeLinear", inputs: ["a", "as", "az"], outputs: ["ad"], attrs: { axis: 1 } },
      ],
      inputs: { x: { elem: "float32", dims: [3, K] }, a: { elem: "uint8", dims: [2, 3, 5] } },
      constants: {
        Wq: tensor("int8", [K, N], bytes(K * N, 1, -128, 127)),
        Ws: tensor("float32", [N], [0.01, 0.02, 0.005, 0.03]),
        Wz: tensor("int8", [N], [0, 3, -2, 1]),
        ys: tensor("float32", [], [0.05]),
        yz: tensor("uint8", [], [128]),
        as: tensor("float32", [3], [0.1, 0.25, 0.02]),
        az: tensor("uint8", [3], [0, 128, 255]),
      },
      outputs: { y: "float32", yq: "uint8", yd: "float32", ad: "float32" },
    };
    const feeds = { x: Float32Array.from(randomF32(3 * K, 2, 4)), a: Uint8Array.from(bytes(30, 3, 0, 255)) };
    const { seec, want } = await bothRuns(await write(model(g)), feeds, { x: [3, K], a: [2, 3, 5] });
    expect(compare(seec.y, want.y, "y", 1e-5)).toBeLessThan(1e-5);
    compare(seec.yq, want.yq, "yq");
    compare(seec.yd, want.yd, "yd", 1e-6);
    compare(seec.ad, want.ad, "ad", 1e-6);
    // y spans well over the uint8 range at scale 0.05 (±6.4 around 0): both ends saturate.
    const yq = Array.from(seec.yq as Uint8Array);
    expect(yq).toContain(0);
    expect(yq).toContain(255);
  });

  it("QuantizeLinear to int8 per axis, rounding halves to even", async () => {
    const g: Graph = {
      nodes: [{ op: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"], attrs: { axis: 0 } }],
      inputs: { x: { elem: "float32", dims: [2, 6] } },
      constants: { s: tensor("float32", [2], [0.5, 2]), z: tensor("int8", [2], [-3, 4]) },
      outputs: { q: "int8" },
    };
    // x / s lands on halves: 0.25 / 0.5 = 0.5 → 0, 0.75 / 0.5 = 1.5 → 2, 5 / 2 = 2.5 → 2, -3 / 2 = -1.5 → -2.
    const x = Float32Array.of(0.25, 0.75, -0.25, 100, -100, 1.2, 5, -3, 3, 255, -300, 7.1);
    const { seec, want } = await bothRuns(await write(model(g)), { x }, { x: [2, 6] });
    compare(seec.q, want.q, "q");
    expect(Array.from(seec.q as Int8Array)).toEqual([-3, -1, -3, 127, -128, -1, 6, 2, 6, 127, -128, 8]);
  });

  it("QLinearMatMul with an int8 weight scaled per column, and MatMulInteger with B fed at run time", async () => {
    const [M, K, N] = [3, 7, 5];
    const g: Graph = {
      nodes: [
        { op: "QLinearMatMul", inputs: ["a", "as", "az", "B", "bs", "bz", "ys", "yz"], outputs: ["y"] },
        { op: "MatMulInteger", inputs: ["a", "b", "az", "bz2"], outputs: ["i"] },
      ],
      inputs: { a: { elem: "uint8", dims: [M, K] }, b: { elem: "uint8", dims: [K, N] } },
      constants: {
        as: tensor("float32", [], [0.02]),
        az: tensor("uint8", [], [120]),
        B: tensor("int8", [K, N], bytes(K * N, 4, -128, 127)),
        bs: tensor("float32", [N], [0.01, 0.003, 0.02, 0.007, 0.05]),
        bz: tensor("int8", [N], [0, 0, 0, 0, 0]),
        ys: tensor("float32", [], [0.04]),
        yz: tensor("uint8", [], [100]),
        bz2: tensor("uint8", [N], [0, 10, 128, 200, 255]),
      },
      outputs: { y: "uint8", i: "int32" },
    };
    const feeds = { a: Uint8Array.from(bytes(M * K, 5, 0, 255)), b: Uint8Array.from(bytes(K * N, 6, 0, 255)) };
    const { seec, want } = await bothRuns(await write(model(g)), feeds, { a: [M, K], b: [K, N] });
    compare(seec.y, want.y, "y");
    compare(seec.i, want.i, "i");
  });

  it("ConvInteger and QLinearConv (a weight scaled per output channel, an int32 bias)", async () => {
    const [C, M] = [3, 4];
    const g: Graph = {
      nodes: [
        { op: "ConvInteger", inputs: ["x", "w", "xz", "wz"], outputs: ["c"], attrs: {} },
        { op: "QLinearConv", inputs: ["x", "xs", "xz", "w8", "ws", "wz8", "ys", "yz", "bias"], outputs: ["y"] },
      ],
      inputs: { x: { elem: "uint8", dims: [1, C, 5, 5] } },
      constants: {
        xz: tensor("uint8", [], [128]),
        w: tensor("uint8", [M, C, 3, 3], bytes(M * C * 9, 7, 0, 255)),
        wz: tensor("uint8", [], [130]),
        xs: tensor("float32", [], [0.03]),
        w8: tensor("int8", [M, C, 3, 3], bytes(M * C * 9, 8, -128, 127)),
        ws: tensor("float32", [M], [0.01, 0.002, 0.005, 0.02]),
        wz8: tensor("int8", [M], [0, 0, 0, 0]),
        ys: tensor("float32", [], [0.5]),
        yz: tensor("uint8", [], [64]),
        bias: tensor("int32", [M], [1000, -2000, 0, 5]),
      },
      outputs: { c: "int32", y: "uint8" },
    };
    const feeds = { x: Uint8Array.from(bytes(C * 25, 9, 0, 255)) };
    const { seec, want } = await bothRuns(await write(model(g)), feeds, { x: [1, C, 5, 5] });
    compare(seec.c, want.c, "c");
    compare(seec.y, want.y, "y");
  });

  it("hands out the element type folding finds for outputs the graph declares no type for (int8, uint8), as ONNX Runtime does", async () => {
    const g: Graph = {
      nodes: [
        { op: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"] },
        { op: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["y", "ys", "yz"] },
      ],
      inputs: { x: { elem: "float32", dims: [5] } },
      constants: { s: tensor("float32", [], [0.1]), z: tensor("int8", [], [-4]) },
      outputs: { q: "int8", y: "uint8", ys: "float32", yz: "uint8" },
    };
    const m = model(g);
    for (const o of m.graph!.output!) delete o.type;
    const x = Float32Array.of(-1, 0.3, 2, 7, -20);
    const { seec, want } = await bothRuns(await write(m), { x }, { x: [5] });
    for (const name of ["q", "y", "ys", "yz"]) compare(seec[name], want[name], name, name === "ys" ? 1e-7 : 0);
  });

  it("refuses blocked quantization and a scale that fits no axis, naming the node", async () => {
    const blocked: Graph = {
      nodes: [{ op: "DequantizeLinear", inputs: ["a", "s"], outputs: ["y"], attrs: { axis: 1, block_size: 2 } }],
      inputs: { a: { elem: "uint8", dims: [2, 4] } },
      constants: { s: tensor("float32", [2, 2], [1, 2, 3, 4]) },
      outputs: { y: "float32" },
      opset: 21,
    };
    const out = join(await tmpDir(), "artifact");
    const b = await rejectsSeec(async () => build({ model: await write(model(blocked)), target: "wasm-simd", out }));
    expect([b.code, b.message, b.at]).toEqual([
      "unsupported.onnx_op",
      "blocked quantization (block_size) is not supported",
      "node DequantizeLinear_0 (DequantizeLinear)",
    ]);
    const misfit: Graph = {
      nodes: [{ op: "QuantizeLinear", inputs: ["x", "s"], outputs: ["y"], attrs: { axis: 1 } }],
      inputs: { x: { elem: "float32", dims: [2, 4] } },
      constants: { s: tensor("float32", [3], [1, 2, 3]) },
      outputs: { y: "uint8" },
    };
    const m = await rejectsSeec(async () => build({ model: await write(model(misfit)), target: "wasm-simd", out }));
    expect([m.code, m.message, m.at]).toEqual([
      "unsupported.onnx_op",
      "a scale or zero point of shape [3] fits neither per-tensor nor per-axis quantization of [2, 4] along axis 1",
      "node QuantizeLinear_0 (QuantizeLinear)",
    ]);
  });
});
