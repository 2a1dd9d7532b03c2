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
 * epilogue attributes). Attribute `layout` (Q4Layout): the blocks as written, or each four rows'
 * interleaved (passes/weight-layout.ts, on the SIMD targets).
 *
 * y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n], the sum over the dequantized weights.
 */
import type { Attrs, ValueType } from "../graph.js";
import { floatToHalf, halfToFloat } from "../../util/float16.js";
import { Linear, linearOperands } from "./linear.js";
import type { OpDef, Tensor } from "./op.js";
import { expectRank, fail } from "./op.js";

/** Values per block (group), and the bytes a block takes: an f16 scale and 16 bytes of nibbles. */
export const Q4_GROUP = 32;
export const Q4_BLOCK_BYTES = 18;

/** The bytes one weight row of K inputs takes. */
export const q4RowBytes = (K: number): number => Math.ceil(K / Q4_GROUP) * Q4_BLOCK_BYTES;

/**
 * How a Q4Linear's blocks are stored. "nk": N rows of blocks, as written (a GGUF Q4_0 tensor's
 * bytes). "n4": each group of four rows (N a multiple of 4) interleaved block by block: per 32
 * inputs the four rows' f16 scales (8 bytes), then their four runs of 16 bytes of nibbles, 72
 * bytes in all. Rows 4i..4i+3 take the same bytes either way; read one after another, the four
 * rows are one stream for the hardware prefetcher rather than four, and their scales convert as one
 * vector (kernels/linear-q4.ts).
 */
export type Q4Layout = "nk" | "n4";

/** Where row n's block g sits among N rows of K inputs stored in `layout`: the byte of its f16 scale, and the first of its 16 bytes of nibbles. */
export function q4BlockIndex(layout: Q4Layout, K: number): (n: number, g: number) => [scale: number, nibbles: number] {
  const row = q4RowBytes(K);
  if (layout === "n4")
    return (n, g) => {
      const at = (n & ~3) * row + g * 4 * Q4_BLOCK_BYTES;
      return [at + 2 * (n & 3), at + 8 + 16 * (n & 3)];
    };
  return (n, g) => [n * row + g * Q4_BLOCK_BYTES, n * row + g * Q4_BLOCK_BYTES + 2];
}

/** N rows of Q4_0 blocks as written, stored in `layout` (a new array; the same where layout is "nk"). */
export function storeQ4Blocks<T extends Uint8Array | Int8Array>(written: T, N: number, K: number, layout: Q4Layout): T {
  if (layout === "nk") return written;
  const out = new (written.constructor as new (length: number) => T)(written.length),
    row = q4RowBytes(K),
    G = row / Q4_BLOCK_BYTES;
  // q4BlockIndex's "n4", without an array a block: a 1.1B checkpoint has 20 million of them.
  for (let n = 0; n < N; n++)
    for (let g = 0, from = n * row, to = (n & ~3) * row; g < G; g++, from += Q4_BLOCK_BYTES, to += 4 * Q4_BLOCK_BYTES) {
      const scale = to + 2 * (n & 3),
        nibbles = to + 8 + 16 * (n & 3);
      out[scale] = written[from];
      out[scale + 1] = written[from + 1];
      for (let j = 0; j < 16; j++) out[nibbles + j] = written[from + 2 + j];
    }
  return out;
}

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

/** The N × K weights (row-major f32) of N rows of Q4_0 blocks stored in `layout`, as the reference semantics read them (into `out` where given). */
export function dequantizeQ4Blocks(
  blocks: ArrayLike<number>,
  N: number,
  K: number,
  out: Float32Array = new Float32Array(N * K),
  layout: Q4Layout = "nk",
): Float32Array {
  const block = q4BlockIndex(layout, K);
  for (let n = 0; n < N; n++)
    for (let g = 0; g * Q4_GROUP < K; g++) {
      const [s, q] = block(n, g);
      const d = halfToFloat((blocks[s] & 0xff) | ((blocks[s + 1] & 0xff) << 8));
      for (let j = 0; j < 16; j++) {
        const byte = blocks[q + j] & 0xff,
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
    const layout = q4Layout(attrs, node);
    expectRank(node, "x", x.shape, 2);
    expectRank(node, "weight", w.shape, 2);
    if (w.dtype !== "i8") fail(node, "weight must be i8 (the bytes of Q4_0 blocks)");
    const [N, bytes] = w.shape,
      K = x.shape[1];
    if (typeof K !== "number" || typeof bytes !== "number")
      fail(node, "Q4Linear needs its input's features and the weight's size known at build time");
    if (bytes !== q4RowBytes(K as number))
      fail(node, `x has ${K} features, which take ${q4RowBytes(K as number)} bytes of Q4_0 blocks a row; the weight has ${bytes}`);
    if (layout === "n4" && (typeof N !== "number" || N % 4)) fail(node, `weight layout "n4" needs N a multiple of 4, got ${N}`);
    // Linear's rule for the rest (bias, residual, activation), on the weight's logical shape.
    const logical: ValueType = { dtype: "f32", shape: [N, K] };
    const { layout: _, ...linear } = attrs;
    return Linear.infer([x, logical, ...(bias ? [bias] : []), ...(residual ? [residual] : [])], linear, node);
  },
  run(inputs, attrs) {
    const { x, w } = linearOperands<Tensor>("Q4Linear", inputs, attrs);
    const N = w.shape[0],
      K = x.shape[1];
    let wf = dequantized.get(w.data);
    if (!wf || wf.length !== N * K) dequantized.set(w.data, (wf = dequantizeQ4Blocks(w.data, N, K, undefined, q4Layout(attrs))));
    const { layout: _, ...linear } = attrs;
    return Linear.run([x, { shape: [N, K], data: wf }, ...inputs.slice(2)], linear);
  },
};

/** A Q4Linear's layout attribute ("nk" where absent). */
export function q4Layout(attrs: Attrs, node = "Q4Linear"): Q4Layout {
  const layout = attrs.layout ?? "nk";
  if (layout !== "nk" && layout !== "n4") fail(node, `Q4Linear's weight layout is "nk" or "n4", not ${JSON.stringify(layout)}`);
  return layout;
}
