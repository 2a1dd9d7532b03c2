/**
 * One-node models of the com.microsoft ops ONNX Runtime's model builder writes into LLM exports
 * (MatMulNBits, GroupQueryAttention), written with onnx-proto: what test/frontends/onnx-contrib-llm.test.ts
 * builds to wasm and test/frontends/onnx-contrib-llm-ir.test.ts runs on the interpreter, both
 * against onnxruntime-node on the same file and inputs.
 */
import { DATA_TYPE_NUMBERS } from "../../compiler/frontends/onnx/tensor.js";
import { floatToHalf, halfToFloat } from "../../compiler/util/float16.js";
import { writeGraph, type Attr, type NodeSpec } from "./onnx-model.js";
import { randomF32, rng } from "./random.js";

export type { Attr } from "./onnx-model.js";
export type DType = "float32" | "int32" | "int64" | "uint8";

export interface Tensor {
  dtype: DType;
  dims: number[];
  data: ArrayLike<number>;
}

export interface Case {
  op: string;
  /** Run-time inputs: their values. */
  inputs: Record<string, Tensor>;
  /** Initializers. */
  constants?: Record<string, Tensor>;
  /** The node's inputs in order, "" for an absent optional one. */
  order: string[];
  attrs: Record<string, Attr>;
  outputs: number;
  /** Nodes before the op's, in the default domain (what computes its inputs). */
  before?: NodeSpec[];
}

export async function writeModel(c: Case): Promise<string> {
  const outputs = Array.from({ length: c.outputs }, (_, i) => `y${i}`);
  const entries = (m: Record<string, Tensor>) => Object.entries(m);
  return writeGraph({
    name: c.op,
    nodes: [...(c.before ?? []), { op: c.op, domain: "com.microsoft", name: "n", inputs: c.order, outputs, attrs: c.attrs }],
    constants: Object.fromEntries(
      entries(c.constants ?? {}).map(([name, t]) => [name, { dims: t.dims, dtype: t.dtype, values: Array.from(t.data) }]),
    ),
    inputs: Object.fromEntries(entries(c.inputs).map(([name, t]) => [name, t.dims])),
    inputTypes: Object.fromEntries(entries(c.inputs).map(([name, t]) => [name, t.dtype])),
    outputs,
  });
}

/**
 * GroupQueryAttention's seqlens_k and total_sequence_length computed in the graph from an int64
 * attention mask [B, total] of rows `lengths` long (right-padded), as ONNX Runtime GenAI's exports
 * do: the mask summed, less one, and its width.
 */
export function lengthsFromMask(c: Case, total: number, lengths: readonly number[]): void {
  delete c.inputs.seqlens;
  delete c.constants!.total;
  const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
  c.inputs.mask = { dtype: "int64", dims: [lengths.length, total], data: lengths.flatMap((n) => iota(total).map((t) => +(t < n))) };
  c.constants!.one = { dtype: "int64", dims: [], data: [1] };
  c.constants!.axes = { dtype: "int64", dims: [1], data: [1] };
  const toInt32 = { to: DATA_TYPE_NUMBERS.int32 };
  c.before = [
    { op: "ReduceSum", inputs: ["mask", "axes"], outputs: ["sum"], attrs: { keepdims: 0 } },
    { op: "Sub", inputs: ["sum", "one"], outputs: ["last"] },
    { op: "Cast", inputs: ["last"], outputs: ["seqlens"], attrs: toInt32 },
    { op: "Shape", inputs: ["mask"], outputs: ["shape"] },
    { op: "Gather", inputs: ["shape", "one"], outputs: ["width"], attrs: { axis: 0 } },
    { op: "Cast", inputs: ["width"], outputs: ["total"], attrs: toInt32 },
  ];
}

export const typed = (t: Tensor) =>
  t.dtype === "float32"
    ? Float32Array.from(t.data)
    : t.dtype === "int32"
      ? Int32Array.from(t.data)
      : t.dtype === "int64"
        ? BigInt64Array.from(Array.from(t.data), BigInt)
        : Uint8Array.from(t.data);

export const f32 = (dims: number[], seed: number, scale = 1): Tensor => ({
  dtype: "float32",
  dims,
  data: randomF32(
    dims.reduce((a, b) => a * b, 1),
    seed,
    scale,
  ),
});
export const bytes = (dims: number[], seed: number, max = 256): Tensor => {
  const r = rng(seed);
  return { dtype: "uint8", dims, data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * max)) };
};
export const i32 = (dims: number[], data: number[]): Tensor => ({ dtype: "int32", dims, data });

// MatMulNBits.

export interface NBits {
  K: number;
  N: number;
  bits: number;
  block: number;
  a: number[];
  /** Zero points: packed uint8, float (one per block), or none. */
  zeros?: "packed" | "float";
  /** Scales f16 values (the form the 4-bit path keeps). */
  halfScales?: boolean;
  bias?: "constant" | "input";
}

export function nbitsCase({ K, N, bits, block, a, zeros, halfScales, bias }: NBits, seed: number): Case {
  const blocks = Math.ceil(K / block),
    blob = (block * bits) / 8;
  const scales = f32([N * blocks], seed + 1, 0.1);
  if (halfScales) scales.data = Array.from(scales.data, (s) => halfToFloat(floatToHalf(s)));
  const constants: Record<string, Tensor> = { B: bytes([N, blocks, blob], seed), scales };
  if (zeros === "packed") constants.zp = bytes([N * Math.ceil((blocks * bits) / 8)], seed + 2);
  if (zeros === "float")
    constants.zp = { dtype: "float32", dims: [N * blocks], data: Array.from(bytes([N * blocks], seed + 2, 2 ** bits).data) };
  const inputs: Record<string, Tensor> = { A: f32(a, seed + 3) };
  if (bias === "constant") constants.bias = f32([N], seed + 4);
  if (bias === "input") inputs.bias = f32([N], seed + 4);
  return {
    op: "MatMulNBits",
    inputs,
    constants,
    order: ["A", "B", "scales", zeros ? "zp" : "", ...(bias ? ["", "bias"] : [])],
    attrs: { K, N, bits, block_size: block },
    outputs: 1,
  };
}

// GroupQueryAttention.

export interface Gqa {
  B: number;
  S: number;
  heads: number;
  kvHeads: number;
  head: number;
  /** Past cache length (none: no past inputs). */
  past?: number;
  total: number;
  seqlens: number[];
  packed?: boolean;
  /** Rotary caches of this many rows, half-width `rotaryHalf`. */
  rotary?: { rows: number; half: number; interleaved?: boolean };
  /** position_ids (int64 [B, S]) for the rotary embedding. */
  positions?: number[];
  /** attention_bias's shape ([B or 1, heads or 1, S, total]), random. */
  bias?: number[];
  attrs?: Record<string, Attr>;
}

export function gqaCase(g: Gqa, seed: number): Case {
  const { B, S, heads, kvHeads, head } = g;
  const inputs: Record<string, Tensor> = {};
  const constants: Record<string, Tensor> = { total: i32([], [g.total]) };
  if (g.packed) inputs.qkv = f32([B, S, (heads + 2 * kvHeads) * head], seed);
  else {
    inputs.q = f32([B, S, heads * head], seed);
    inputs.k = f32([B, S, kvHeads * head], seed + 1);
    inputs.v = f32([B, S, kvHeads * head], seed + 2);
  }
  if (g.past !== undefined) {
    inputs.past_k = f32([B, kvHeads, g.past, head], seed + 3);
    inputs.past_v = f32([B, kvHeads, g.past, head], seed + 4);
  }
  inputs.seqlens = i32([B], g.seqlens);
  if (g.rotary) {
    const r = rng(seed + 5);
    const angle = Array.from({ length: g.rotary.rows * g.rotary.half }, () => r() * 6);
    constants.cos = { dtype: "float32", dims: [g.rotary.rows, g.rotary.half], data: angle.map(Math.cos) };
    constants.sin = { dtype: "float32", dims: [g.rotary.rows, g.rotary.half], data: angle.map(Math.sin) };
  }
  if (g.positions) inputs.positions = { dtype: "int64", dims: [B, S], data: g.positions };
  if (g.bias) inputs.bias = f32(g.bias, seed + 6);
  const past = g.past !== undefined;
  const rest = [...(g.rotary ? ["cos", "sin"] : ["", ""]), g.positions ? "positions" : "", g.bias ? "bias" : ""];
  while (rest.at(-1) === "") rest.pop();
  return {
    op: "GroupQueryAttention",
    inputs,
    constants,
    order: [
      g.packed ? "qkv" : "q",
      g.packed ? "" : "k",
      g.packed ? "" : "v",
      past ? "past_k" : "",
      past ? "past_v" : "",
      "seqlens",
      "total",
      ...rest,
    ],
    attrs: {
      num_heads: heads,
      kv_num_heads: kvHeads,
      ...(g.rotary ? { do_rotary: 1, rotary_interleaved: g.rotary.interleaved ? 1 : 0 } : {}),
      ...g.attrs,
    },
    outputs: 3,
  };
}
