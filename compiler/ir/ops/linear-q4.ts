/**
 * Q4Linear: Linear with 4-bit weights in llama.cpp's Q4_0 blocks (`seec build --quantize q4`,
 * passes/quantize-q4.ts). Each weight row of K inputs is cut into ceil(K / 32) groups of 32, and
 * each group is one 18-byte block: an f16 scale d, then 16 bytes whose low nibbles are the group's
 * first 16 values and whose high nibbles its last 16, each stored as q + 8 (q in -8..7):
 * w[n, k] = d · (nibble − 8). A row whose K is not a multiple of 32 ends with a partial group,
 * padded with zeros (nibble 8). The weight is an i8 tensor of the blocks' bytes, [N, ceil(K/32) · 18],
 * so a GGUF Q4_0 tensor is the same bytes.
 *
 * Its own op rather than QLinear with an attribute: the weight is not [N, K] and has no scale
 * input, so QLinear's shape rule, its layouts and every backend's int8 kernel would each need a
 * case for it. The inputs are Linear's (x, w, then an optional bias and residual, with the same
 * epilogue attributes); the weights keep their one layout, as written.
 *
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], the sum over the dequantized weights.
 */
import type { ValueType } from "../graph.js";
import { floatToHalf, halfToFloat } from "../../util/float16.js";
import { Linear, linearOperands } from "./linear.js";
import type { OpDef, Tensor } from "./op.js";
import { expectRank, fail } from "./op.js";

/** Values per block (group), and the bytes a block takes: an f16 scale and 16 bytes of nibbles. */
export const Q4_GROUP = 32;
export const Q4_BLOCK_BYTES = 18;

/** The bytes one weight row of K inputs takes. */
export const q4RowBytes = (K: number): number => Math.ceil(K / Q4_GROUP) * Q4_BLOCK_BYTES;

const f = Math.fround;

/**
 * N × K weights (row-major f32) as N rows of Q4_0 blocks, bit for bit as ggml's
 * quantize_row_q4_0_ref: per group, the value of largest magnitude, with its sign, maps to -8
 * (d = max / -8, stored as f16, so all 16 levels are used), and each value becomes
 * min(15, trunc(x · (1/d) + 8.5)), in f32: round half up. A row's partial last group is padded with zeros.
 * Written into `out` where given (N · q4RowBytes(K) bytes).
 */
export function quantizeQ4Blocks(w: Float32Array, N: number, K: number, out: Uint8Array = new Uint8Array(N * q4RowBytes(K))): Uint8Array {
  const row = q4RowBytes(K),
    view = new DataView(out.buffer, out.byteOffset, out.byteLength),
    x = new Float32Array(Q4_GROUP);
  for (let n = 0; n < N; n++)
    for (let g = 0; g * Q4_GROUP < K; g++) {
      const from = n * K + g * Q4_GROUP;
      x.fill(0).set(w.subarray(from, from + Math.min(Q4_GROUP, K - g * Q4_GROUP)));
      let amax = 0,
        max = 0;
      for (let j = 0; j < Q4_GROUP; j++)
        if (amax < Math.abs(x[j])) {
          amax = Math.abs(x[j]);
          max = x[j];
        }
      const d = f(max / -8),
        id = d ? f(1 / d) : 0,
        at = n * row + g * Q4_BLOCK_BYTES;
      view.setUint16(at, floatToHalf(d), true);
      for (let j = 0; j < 16; j++) {
        const lo = Math.min(15, Math.trunc(f(f(x[j] * id) + 8.5)));
        const hi = Math.min(15, Math.trunc(f(f(x[j + 16] * id) + 8.5)));
        out[at + 2 + j] = lo | (hi << 4);
      }
    }
  return out;
}

/** The N × K weights (row-major f32) of N rows of Q4_0 blocks, as the reference semantics read them (into `out` where given). */
export function dequantizeQ4Blocks(
  blocks: ArrayLike<number>,
  N: number,
  K: number,
  out: Float32Array = new Float32Array(N * K),
): Float32Array {
  const row = q4RowBytes(K);
  for (let n = 0; n < N; n++)
    for (let g = 0; g * Q4_GROUP < K; g++) {
      const at = n * row + g * Q4_BLOCK_BYTES;
      const d = halfToFloat((blocks[at] & 0xff) | ((blocks[at + 1] & 0xff) << 8));
      for (let j = 0; j < 16; j++) {
        const byte = blocks[at + 2 + j] & 0xff,
          k = g * Q4_GROUP + j;
        if (k < K) out[n * K + k] = ((byte & 0xf) - 8) * d;
        if (k + 16 < K) out[n * K + k + 16] = ((byte >> 4) - 8) * d;
      }
    }
  return out;
}

/** Dequantized weights by their blocks' array: the interpreter runs a decoder's step after step. */
const dequantized = new WeakMap<object, Float32Array>();

export const Q4Linear: OpDef = {
  infer(inputs, attrs, node) {
    const { x, w, bias, residual } = linearOperands("Q4Linear", inputs, attrs);
    if (attrs.layout !== undefined) fail(node, "Q4Linear's weights have one layout, as written: no layout attribute");
    expectRank(node, "x", x.shape, 2);
    expectRank(node, "weight", w.shape, 2);
    if (w.dtype !== "i8") fail(node, "weight must be i8 (the bytes of Q4_0 blocks)");
    const [N, bytes] = w.shape,
      K = x.shape[1];
    if (typeof K !== "number" || typeof bytes !== "number")
      fail(node, "Q4Linear needs its input's features and the weight's size known at build time");
    if (bytes !== q4RowBytes(K as number))
      fail(node, `x has ${K} features, which take ${q4RowBytes(K as number)} bytes of Q4_0 blocks a row; the weight has ${bytes}`);
    // Linear's rule for the rest (bias, residual, activation), on the weight's logical shape.
    const logical: ValueType = { dtype: "f32", shape: [N, K] };
    return Linear.infer([x, logical, ...(bias ? [bias] : []), ...(residual ? [residual] : [])], attrs, node);
  },
  run(inputs, attrs) {
    const { x, w } = linearOperands<Tensor>("Q4Linear", inputs, attrs);
    const N = w.shape[0],
      K = x.shape[1];
    let wf = dequantized.get(w.data);
    if (!wf || wf.length !== N * K) dequantized.set(w.data, (wf = dequantizeQ4Blocks(w.data, N, K)));
    return Linear.run([x, { shape: [N, K], data: wf }, ...inputs.slice(2)], attrs);
  },
};
