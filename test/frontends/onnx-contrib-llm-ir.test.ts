// The com.microsoft ops ONNX Runtime's model builder writes into LLM exports (lower-contrib-llm.ts):
// MatMulNBits and GroupQueryAttention, each as a one-node model lowered to IR and run by the IR's
// reference interpreter (evaluateOnnx), against onnxruntime-node on the same file and inputs: the
// cases of test/frontends/onnx-contrib-llm.test.ts without compiling wasm (about a second), fast
// enough for mutation testing (docs/MUTATION.md).
import { describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { lowerOnnx } from "../../compiler/frontends/onnx/index.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tensor } from "../../compiler/frontends/onnx/tensor.js";
import { gqaCase, lengthsFromMask, nbitsCase, typed, writeModel, type Case, type Gqa, type NBits } from "../helpers/contrib-llm-cases.js";

/** Largest |seec − ONNX Runtime| / (1 + |ONNX Runtime|) over every output. */
async function againstOrt(c: Case): Promise<number> {
  const file = await writeModel(c);
  const model = await readOnnx(file);
  const got = evaluateOnnx(model, new Map(Object.entries(c.inputs).map(([k, t]) => [k, tensor(t.dtype, t.dims, Array.from(t.data))])));
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const want = await session.run(
    Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, new ort.Tensor(t.dtype, typed(t), t.dims)])),
  );
  let worst = 0;
  for (let o = 0; o < c.outputs; o++) {
    const name = `y${o}`;
    const w = want[name].data as Float32Array,
      g = got.get(name)!;
    expect(g.shape, name).toEqual([...want[name].dims]);
    for (let i = 0; i < w.length; i++)
      worst = Math.max(worst, Math.abs(g.data[i] - w[i]) / (1 + Math.abs(w[i])), Number.isNaN(g.data[i]) ? Infinity : 0);
  }
  return worst;
}

describe("com.microsoft LLM ops through the interpreter, against onnxruntime-node", () => {
  const nbits: [string, NBits][] = [
    [
      "4 bits, blocks of 32, no zero points, f16 scales, K not a multiple of 32",
      { K: 80, N: 24, bits: 4, block: 32, a: [2, 3, 80], halfScales: true, bias: "constant" },
    ],
    [
      "4 bits, blocks of 16, packed zero points, f32 scales, bias at run time",
      { K: 40, N: 12, bits: 4, block: 16, a: [3, 40], zeros: "packed", bias: "input" },
    ],
    ["8 bits, blocks of 32, packed zero points", { K: 64, N: 10, bits: 8, block: 32, a: [2, 2, 64], zeros: "packed" }],
    ["2 bits, blocks of 32, packed zero points", { K: 96, N: 8, bits: 2, block: 32, a: [2, 96], zeros: "packed" }],
    ["8 bits, blocks of 16, no zero points", { K: 48, N: 8, bits: 8, block: 16, a: [2, 48] }],
    ["4 bits, blocks of 32, float zero points", { K: 64, N: 8, bits: 4, block: 32, a: [2, 64], zeros: "float", bias: "constant" }],
  ];
  it.each(nbits)("MatMulNBits, %s", async (_, spec) => {
    expect(await againstOrt(nbitsCase(spec, 31))).toBeLessThan(2e-6);
  });

  /** The IR ops of the case's graph. */
  const ops = async (c: Case) =>
    lowerOnnx(
      await readOnnx(await writeModel(c)),
      "m",
      Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, t.dims])),
    ).graph.nodes.map((x) => x.op);

  it("MatMulNBits keeps Q4_0-shaped weights (4 bits, blocks of 32, zero point 8, f16 scales) as Q4Linear, else a Linear of the dequantized ones", async () => {
    const q4: NBits = { K: 64, N: 8, bits: 4, block: 32, a: [2, 64], halfScales: true };
    expect(await ops(nbitsCase(q4, 5))).toContain("Q4Linear");
    // Packed zero points that are all 8 are Q4_0's too.
    const eights = nbitsCase({ ...q4, zeros: "packed" }, 5);
    eights.constants!.zp.data = Array.from(eights.constants!.zp.data, () => 0x88);
    expect(await ops(eights)).toContain("Q4Linear");
    expect(await againstOrt(eights)).toBeLessThan(2e-6);
    // One zero point off 8, one scale off f16, an infinite scale, blocks of 16 or 8 bits: dequantized.
    const offZero = nbitsCase({ ...q4, zeros: "packed" }, 5);
    offZero.constants!.zp.data = Array.from(offZero.constants!.zp.data, (_, i) =>
      i === offZero.constants!.zp.data.length - 1 ? 0x87 : 0x88,
    );
    const offHalf = nbitsCase(q4, 5);
    offHalf.constants!.scales.data = Array.from(offHalf.constants!.scales.data, (v, i) =>
      i === offHalf.constants!.scales.data.length - 1 ? Math.fround(v * (1 + 2 ** -20)) : v,
    );
    const infinite = nbitsCase(q4, 5);
    infinite.constants!.scales.data = Array.from(infinite.constants!.scales.data, (v, i) => (i === 3 ? Infinity : v));
    for (const c of [offZero, offHalf, infinite, nbitsCase({ ...q4, block: 16 }, 5), nbitsCase({ ...q4, bits: 8 }, 5)]) {
      const o = await ops(c);
      expect(o).toContain("Linear");
      expect(o).not.toContain("Q4Linear");
    }
    expect(await againstOrt(offZero)).toBeLessThan(2e-6);
    expect(await againstOrt(offHalf)).toBeLessThan(2e-6);
  });

  it("MatMulNBits refuses inputs that do not fit its attributes, by name", async () => {
    const base: NBits = { K: 64, N: 4, bits: 4, block: 32, a: [1, 64] };
    const refuses = async (c: Case, message: string) => expect(againstOrt(c)).rejects.toThrow(message);
    const block = nbitsCase({ ...base, block: 32 }, 3);
    block.attrs.block_size = 24;
    await refuses(block, "MatMulNBits's block_size must be a power of 2 from 16, not 24");
    const small = nbitsCase({ K: 64, N: 4, bits: 4, block: 16, a: [1, 64] }, 3);
    small.attrs.block_size = 8;
    await refuses(small, "MatMulNBits's block_size must be a power of 2 from 16, not 8");
    const features = nbitsCase(base, 3);
    features.inputs.A = { ...features.inputs.A, dims: [1, 32], data: Array.from(features.inputs.A.data).slice(0, 32) };
    await refuses(features, "MatMulNBits's input A has 32 features; K is 64");
    const shape = nbitsCase(base, 3);
    shape.attrs.N = 5;
    await refuses(shape, "MatMulNBits's B has shape [4, 2, 16]; N, K, bits and block_size make it [5, 2, 16]");
    const scales = nbitsCase(base, 3);
    scales.constants!.scales = { ...scales.constants!.scales, dims: [7], data: Array.from(scales.constants!.scales.data).slice(0, 7) };
    await refuses(scales, "MatMulNBits's scales have 7 values; the weight has 8 blocks");
    const floatZeros = nbitsCase({ ...base, zeros: "float" }, 3);
    floatZeros.constants!.zp = { ...floatZeros.constants!.zp, dims: [5], data: Array.from(floatZeros.constants!.zp.data).slice(0, 5) };
    await refuses(floatZeros, "MatMulNBits's float zero points have 5 values, not 8");
    const packedZeros = nbitsCase({ ...base, zeros: "packed" }, 3);
    packedZeros.constants!.zp = { ...packedZeros.constants!.zp, dims: [3], data: Array.from(packedZeros.constants!.zp.data).slice(0, 3) };
    await refuses(packedZeros, "MatMulNBits's packed zero points have 3 bytes, not 4");
    const runtimeScales = nbitsCase(base, 3);
    runtimeScales.inputs.scales = runtimeScales.constants!.scales;
    delete runtimeScales.constants!.scales;
    await refuses(runtimeScales, "MatMulNBits reads the scales at run time");
    const runtimeZeros = nbitsCase({ ...base, zeros: "float" }, 3);
    runtimeZeros.inputs.zp = runtimeZeros.constants!.zp;
    delete runtimeZeros.constants!.zp;
    await refuses(runtimeZeros, "MatMulNBits reads the zero points at run time");
    const noK = nbitsCase(base, 3);
    delete noK.attrs.K;
    await refuses(noK, "MatMulNBits needs the attribute K");
  });

  it("MatMulNBits takes a g_idx that keeps the blocks in order, and refuses one that reorders them", async () => {
    const withIdx = (idx: number[]) => {
      const c = nbitsCase({ K: 64, N: 4, bits: 4, block: 32, a: [2, 64] }, 13);
      c.constants!.g = { dtype: "int32", dims: [64], data: idx };
      c.order = ["A", "B", "scales", "", "g"];
      return c;
    };
    const inOrder = Array.from({ length: 64 }, (_, k) => Math.floor(k / 32));
    await expect(ops(withIdx(inOrder))).resolves.toContain("Linear");
    const swapped = inOrder.map((b, k) => (k === 0 ? 1 : b));
    await expect(againstOrt(withIdx(swapped))).rejects.toThrow(
      "MatMulNBits with a g_idx that reorders the blocks (act-order) is not supported",
    );
  });

  it("MatMulNBits refuses 3 bits, by name", async () => {
    await expect(againstOrt(nbitsCase({ K: 48, N: 6, bits: 3, block: 16, a: [2, 48] }, 31))).rejects.toThrow(
      "MatMulNBits with bits = 3 is not supported (2, 4 and 8 are)",
    );
  });

  it("MatMulNBits refuses B at run time, by name", async () => {
    const c = nbitsCase({ K: 32, N: 4, bits: 4, block: 32, a: [1, 32] }, 41);
    c.inputs.B = c.constants!.B;
    delete c.constants!.B;
    await expect(againstOrt(c)).rejects.toThrow(/MatMulNBits reads the quantized weight B at run time/);
  });

  const gqa: [string, Gqa][] = [
    ["the prompt, no past, 2 query heads per kv head", { B: 2, S: 5, heads: 4, kvHeads: 2, head: 16, total: 5, seqlens: [4, 4] }],
    [
      "the prompt, packed QKV, 4 query heads per kv head, a scale",
      { B: 1, S: 4, heads: 4, kvHeads: 1, head: 16, total: 4, seqlens: [3], packed: true, attrs: { scale: 0.3 } },
    ],
    ["a decode step over a past of 6", { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 6, total: 7, seqlens: [6, 6] }],
    ["a decode step with batches of different lengths", { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 6, total: 7, seqlens: [6, 3] }],
    [
      "a decode step into a cache buffer longer than the sequence",
      { B: 2, S: 1, heads: 2, kvHeads: 1, head: 16, past: 8, total: 5, seqlens: [4, 2] },
    ],
    ["a second prompt chunk after a past (batch 1)", { B: 1, S: 3, heads: 4, kvHeads: 2, head: 16, past: 4, total: 7, seqlens: [6] }],
    [
      "the prompt with rotary caches",
      { B: 2, S: 4, heads: 4, kvHeads: 2, head: 16, total: 4, seqlens: [3, 3], rotary: { rows: 10, half: 8 } },
    ],
    [
      "a decode step with interleaved rotary over part of the head",
      { B: 2, S: 1, heads: 4, kvHeads: 2, head: 32, past: 5, total: 6, seqlens: [5, 2], rotary: { rows: 10, half: 8, interleaved: true } },
    ],
    [
      "a decode step with rotary, packed QKV",
      { B: 1, S: 1, heads: 4, kvHeads: 2, head: 16, past: 3, total: 4, seqlens: [3], packed: true, rotary: { rows: 8, half: 8 } },
    ],
    [
      "the prompt with a local window of 2",
      { B: 1, S: 6, heads: 2, kvHeads: 1, head: 16, total: 6, seqlens: [5], attrs: { local_window_size: 2 } },
    ],
    [
      "a decode step with a local window of 3",
      { B: 2, S: 1, heads: 2, kvHeads: 1, head: 16, past: 6, total: 7, seqlens: [6, 4], attrs: { local_window_size: 3 } },
    ],
    [
      "a decode step with rotary at given position_ids",
      { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 5, total: 6, seqlens: [5, 5], rotary: { rows: 12, half: 8 }, positions: [9, 2] },
    ],
    [
      "the prompt with an attention_bias per batch",
      { B: 2, S: 4, heads: 4, kvHeads: 2, head: 16, total: 4, seqlens: [3, 3], bias: [2, 1, 4, 4] },
    ],
    [
      "a decode step with an attention_bias per head, a softcap and a local window",
      {
        B: 2,
        S: 1,
        heads: 4,
        kvHeads: 2,
        head: 16,
        past: 5,
        total: 6,
        seqlens: [5, 3],
        bias: [1, 4, 1, 6],
        attrs: { softcap: 1.2, local_window_size: 3 },
      },
    ],
    ["the prompt with a softcap", { B: 1, S: 5, heads: 4, kvHeads: 2, head: 16, total: 5, seqlens: [4], attrs: { softcap: 0.8 } }],
    [
      "a decode step with a softcap and a local window",
      { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 5, total: 6, seqlens: [5, 5], attrs: { softcap: 1.5, local_window_size: 2 } },
    ],
  ];
  it.each(gqa)("GroupQueryAttention, %s", async (_, spec) => {
    expect(await againstOrt(gqaCase(spec, 51))).toBeLessThan(1e-6);
  });

  it("GroupQueryAttention with seqlens_k and total_sequence_length computed from an attention mask, as GenAI's exports do", async () => {
    for (const [B, S, past, lengths] of [
      [1, 4, undefined, [4]],
      [2, 1, 5, [6, 4]],
    ] as const) {
      const total = Math.max(...lengths);
      const c = gqaCase({ B, S, heads: 4, kvHeads: 2, head: 16, past, total, seqlens: [], rotary: { rows: 8, half: 8 } }, 71);
      lengthsFromMask(c, total, lengths);
      expect(await againstOrt(c)).toBeLessThan(1e-6);
    }
  });

  it.each([
    [
      "smooth_softmax",
      { smooth_softmax: 1 },
      "GroupQueryAttention with smooth_softmax or head_sink (a softmax with an extra term) is not supported",
    ],
    ["local_window_size 0", { local_window_size: 0 }, "GroupQueryAttention with local_window_size 0 (no key seen) is not supported"],
    [
      "kv_cache_bit_width",
      { kv_cache_bit_width: 8 },
      "GroupQueryAttention with a quantized KV cache (k_scale, v_scale, kv_cache_bit_width) is not supported",
    ],
    [
      "k_quant_type",
      { k_quant_type: "PER_TENSOR" },
      "GroupQueryAttention with a quantized KV cache (k_scale, v_scale, kv_cache_bit_width) is not supported",
    ],
    ["sliding_window_cache", { sliding_window_cache: 1 }, "GroupQueryAttention with sliding_window_cache is not supported"],
  ] as const)("GroupQueryAttention refuses %s, by name", async (_, attrs, message) => {
    const c = gqaCase({ B: 1, S: 2, heads: 2, kvHeads: 1, head: 16, total: 2, seqlens: [1], attrs }, 61);
    await expect(againstOrt(c)).rejects.toThrow(message);
  });

  it("GroupQueryAttention takes k_quant_type NONE and local_window_size -1, and refuses head_sink, k_scale and output_qk", async () => {
    const plain = gqaCase(
      { B: 1, S: 2, heads: 2, kvHeads: 1, head: 16, total: 2, seqlens: [1], attrs: { k_quant_type: "NONE", local_window_size: -1 } },
      61,
    );
    expect(await againstOrt(plain)).toBeLessThan(1e-6);
    const extra = (k: number, outputs = 3) => {
      const c = gqaCase({ B: 1, S: 2, heads: 2, kvHeads: 1, head: 16, total: 2, seqlens: [1] }, 61);
      while (c.order.length < k) c.order.push("");
      c.constants!.extra = { dtype: "float32", dims: [2], data: [1, 1] };
      c.order[k] = "extra";
      c.outputs = outputs;
      return c;
    };
    await expect(againstOrt(extra(11))).rejects.toThrow("GroupQueryAttention with smooth_softmax or head_sink");
    await expect(againstOrt(extra(12))).rejects.toThrow("GroupQueryAttention with a quantized KV cache");
    await expect(againstOrt(extra(13))).rejects.toThrow("GroupQueryAttention with a quantized KV cache");
    const qk = gqaCase({ B: 1, S: 2, heads: 2, kvHeads: 1, head: 16, total: 2, seqlens: [1] }, 61);
    qk.outputs = 4;
    await expect(againstOrt(qk)).rejects.toThrow("GroupQueryAttention's output_qk output is not supported");
  });

  it("GroupQueryAttention refuses total_sequence_length at run time, by name", async () => {
    const c = gqaCase({ B: 1, S: 2, heads: 2, kvHeads: 1, head: 16, total: 2, seqlens: [1] }, 61);
    c.inputs.total = c.constants!.total;
    delete c.constants!.total;
    await expect(againstOrt(c)).rejects.toThrow(/total_sequence_length arrives at run time/);
  });
});
