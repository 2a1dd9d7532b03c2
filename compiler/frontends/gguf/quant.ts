/**
 * Conversions between f32 and the GGUF tensor types seec reads and writes, bit for bit as ggml's
 * reference rows do (ggml-quants.c: quantize_row_q8_0_ref, quantize_row_q4_0_ref, dequantize_row_*),
 * so a file seec writes holds what llama.cpp's own tools would write for the same numbers.
 */
import { BLOCKS, GGML, bf16ToFloat, floatToHalf, halfToFloat } from "./tensor-types.js";

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
      for (let blk = 0, at = 0; blk < count / 32; blk++, at += 18) {
        const d = halfToFloat(view.getUint16(at, true));
        for (let j = 0; j < 16; j++) {
          const q = data[at + 2 + j];
          out[blk * 32 + j] = ((q & 0xf) - 8) * d;
          out[blk * 32 + j + 16] = ((q >> 4) - 8) * d;
        }
      }
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
        for (let j = 0; j < 32; j++) view.setInt8(at + 2 + j, roundAway(f(x[blk * 32 + j] * id)));
      }
      break;
    case GGML.Q4_0:
      for (let blk = 0, at = 0; blk < x.length / 32; blk++, at += 18) {
        // The scale maps the value of largest magnitude, with its sign, to -8: the full 16 levels are used.
        let amax = 0,
          max = 0;
        for (let j = 0; j < 32; j++) {
          const v = x[blk * 32 + j];
          if (amax < Math.abs(v)) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const d = f(max / -8);
        const id = d ? f(1 / d) : 0;
        view.setUint16(at, floatToHalf(d), true);
        for (let j = 0; j < 16; j++) {
          const lo = Math.min(15, Math.trunc(f(f(x[blk * 32 + j] * id) + 8.5)));
          const hi = Math.min(15, Math.trunc(f(f(x[blk * 32 + j + 16] * id) + 8.5)));
          out[at + 2 + j] = lo | (hi << 4);
        }
      }
      break;
    default:
      throw new Error(`quantize: type ${type} is not supported`);
  }
  return out;
}

function roundAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}
