/**
 * Conversions between f32 and the GGUF tensor types seec reads and writes, bit for bit as ggml's
 * reference rows do (ggml-quants.c: quantize_row_q8_0_ref, quantize_row_q4_0_ref, dequantize_row_*),
 * so a file seec writes holds what llama.cpp's own tools would write for the same numbers.
 */
import { bf16ToFloat, floatToHalf, halfToFloat } from "../../util/float16.js";
import { roundHalfAway } from "../../util/round.js";
import { BLOCKS, GGML } from "./tensor-types.js";
import { dequantizeQ4Blocks, quantizeQ4Blocks } from "../../ir/ops/linear-q4.js";

const f = Math.fround;

/** The bytes `count` values of `type` take; count must fill whole blocks (checked by the caller). */
export function tensorBytes(type: number, count: number): number {
  const b = BLOCKS[type];
  return (count / b.values) * b.bytes;
}

/** `count` values of a supported type, as f32. */
export function dequantize(type: number, data: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (type) {
    case GGML.F32:
      new Uint8Array(out.buffer).set(data.subarray(0, count * 4)); // copied: the source may be unaligned
      break;
    case GGML.F16:
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case GGML.BF16:
      for (let i = 0; i < count; i++) out[i] = bf16ToFloat(view.getUint16(2 * i, true));
      break;
    case GGML.Q8_0:
      for (let blk = 0, at = 0; blk < count / 32; blk++, at += 34) {
        const d = halfToFloat(view.getUint16(at, true));
        for (let j = 0; j < 32; j++) out[blk * 32 + j] = view.getInt8(at + 2 + j) * d;
      }
      break;
    case GGML.Q4_0:
      out.set(dequantizeQ4Blocks(data, count / 32, 32));
      break;
    case GGML.Q4_K:
      for (let blk = 0; blk < count / 256; blk++) dequantizeQ4K(data.subarray(blk * 144), view, blk * 144, out.subarray(blk * 256));
      break;
    case GGML.Q6_K:
      for (let blk = 0; blk < count / 256; blk++) dequantizeQ6K(data.subarray(blk * 210), view, blk * 210, out.subarray(blk * 256));
      break;
    default:
      throw new Error(`dequantize: type ${type} is not supported`); // the reader refuses such tensors first
  }
  return out;
}

/** f32 values as `type` (F32, F16, Q8_0 or Q4_0); block types need a multiple of 32 values. */
export function quantize(type: number, x: Float32Array): Uint8Array {
  const out = new Uint8Array(tensorBytes(type, x.length));
  const view = new DataView(out.buffer);
  switch (type) {
    case GGML.F32:
      out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
      break;
    case GGML.F16:
      for (let i = 0; i < x.length; i++) view.setUint16(2 * i, floatToHalf(x[i]), true);
      break;
    case GGML.Q8_0:
      for (let blk = 0, at = 0; blk < x.length / 32; blk++, at += 34) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[blk * 32 + j]));
        const d = f(amax / 127);
        const id = d ? f(1 / d) : 0;
        view.setUint16(at, floatToHalf(d), true);
        // roundf: halves away from zero
        for (let j = 0; j < 32; j++) view.setInt8(at + 2 + j, roundHalfAway(f(x[blk * 32 + j] * id)));
      }
      break;
    case GGML.Q4_0:
      // The one Q4_0 quantizer, which --quantize q4 also uses (rows of 32 values: the same blocks).
      out.set(quantizeQ4Blocks(x, x.length / 32, 32));
      break;
    default:
      throw new Error(`quantize: type ${type} is not supported`);
  }
  return out;
}

/**
 * Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes packing eight 6-bit scales and mins, 128 bytes of
 * nibbles. Each 64 values take 32 bytes: low nibbles the first 32 (sub-block 2j), high the next 32;
 * x = d·scale·q − dmin·min, in f32 as ggml's dequantize_row_q4_K.
 */
function dequantizeQ4K(b: Uint8Array, view: DataView, at: number, out: Float32Array): void {
  const d = halfToFloat(view.getUint16(at, true));
  const dmin = halfToFloat(view.getUint16(at + 2, true));
  const s = b.subarray(4, 16);
  // get_scale_min_k4: sub-blocks 0-3 in the low 6 bits of bytes 0-7; 4-7 split across bytes 8-11 and the top bits of 0-7
  const scaleMin = (j: number): [number, number] =>
    j < 4 ? [s[j] & 63, s[j + 4] & 63] : [(s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)];
  for (let j = 0; j < 4; j++) {
    const [sc1, m1] = scaleMin(2 * j);
    const [sc2, m2] = scaleMin(2 * j + 1);
    const d1 = f(d * sc1),
      min1 = f(dmin * m1),
      d2 = f(d * sc2),
      min2 = f(dmin * m2);
    for (let l = 0; l < 32; l++) {
      const q = b[16 + 32 * j + l];
      out[64 * j + l] = f(d1 * (q & 0xf)) - min1;
      out[64 * j + 32 + l] = f(d2 * (q >> 4)) - min2;
    }
  }
}

/**
 * Q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales (one per
 * 16 values), f16 d; x = d·scale·(q − 32), in f32 as ggml's dequantize_row_q6_K.
 */
function dequantizeQ6K(b: Uint8Array, view: DataView, at: number, out: Float32Array): void {
  const d = halfToFloat(view.getUint16(at + 208, true));
  const scale = (i: number) => f(d * view.getInt8(at + 192 + i));
  for (let half = 0; half < 2; half++) {
    const ql = 64 * half,
      qh = 128 + 32 * half,
      sc = 8 * half,
      y = 128 * half;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = b[qh + l];
      out[y + l] = scale(sc + is) * (((b[ql + l] & 0xf) | ((h & 3) << 4)) - 32);
      out[y + l + 32] = scale(sc + is + 2) * (((b[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32);
      out[y + l + 64] = scale(sc + is + 4) * (((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32);
      out[y + l + 96] = scale(sc + is + 6) * (((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32);
    }
  }
}
