// gguf/quant.ts and gguf/tensor-types.ts: each tensor type's bytes, written and read, against ggml's
// reference rows (ggml-quants.c's quantize_row_q8_0_ref / dequantize_row_q8_0 and the Q4_0 pair)
// re-derived here value by value, from arrays at odd byte offsets too.
import { describe, expect, it } from "vitest";
import { dequantize, quantize, tensorBytes } from "../../compiler/frontends/gguf/quant.js";
import { BLOCKS, GGML, GGML_TYPE_NAMES, ggmlTypeName } from "../../compiler/frontends/gguf/tensor-types.js";
import { bf16ToFloat } from "../../compiler/util/float16.js";
import { floatToHalf, halfToFloat } from "../../compiler/util/float16.js";
import { randomF32 } from "../helpers/random.js";

const f = Math.fround;
/** C's roundf: halves away from zero. */
const roundf = (x: number) => Math.sign(x) * Math.floor(Math.abs(x) + 0.5);

/** ggml's quantize_row_q8_0_ref: d = amax / 127 (f16), q = roundf(x / d). */
function q8Reference(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 34);
  const v = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    const block = x.subarray(32 * b, 32 * b + 32);
    const amax = block.reduce((m, y) => Math.max(m, Math.abs(y)), 0);
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    v.setUint16(34 * b, floatToHalf(d), true);
    block.forEach((y, j) => v.setInt8(34 * b + 2 + j, roundf(f(y * id))));
  }
  return out;
}

/** ggml's quantize_row_q4_0_ref: the signed value of largest magnitude is −8·d; q = min(15, (int8)(x / d + 8.5)). */
function q4Reference(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 18);
  const v = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    const block = x.subarray(32 * b, 32 * b + 32);
    let max = 0;
    for (const y of block) if (Math.abs(y) > Math.abs(max)) max = y;
    const d = f(max / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    v.setUint16(18 * b, floatToHalf(d), true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(f(f(block[j] * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(f(f(block[j + 16] * id) + 8.5)));
      out[18 * b + 2 + j] = lo | (hi << 4);
    }
  }
  return out;
}

/** `bytes` copied to start one byte into a buffer: an unaligned view. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(bytes.length + 1);
  b.set(bytes, 1);
  return b.subarray(1);
}

describe("GGUF tensor types", () => {
  // Three blocks: random values, a block of zeros (d = 0), and one whose largest magnitude is negative.
  const x = new Float32Array(96);
  x.set(randomF32(32, 11, 3));
  x.set(
    Float32Array.from({ length: 32 }, (_, i) => (i % 2 ? 0.5 : -1) * (i + 1)),
    64,
  );

  it("writes Q8_0 blocks byte for byte as ggml's reference, and reads them back as q·d", () => {
    const q = quantize(GGML.Q8_0, x);
    expect([...q]).toEqual([...q8Reference(x)]);
    const back = dequantize(GGML.Q8_0, unaligned(q), 96);
    const v = new DataView(q.buffer);
    for (let i = 0; i < 96; i++) {
      const b = Math.floor(i / 32);
      expect(back[i]).toBe(f(v.getInt8(34 * b + 2 + (i % 32)) * halfToFloat(v.getUint16(34 * b, true))));
    }
    expect([...back.subarray(32, 64)]).toEqual(Array(32).fill(0));
  });

  it("writes Q4_0 blocks byte for byte as ggml's reference, and reads them back as (q − 8)·d", () => {
    const q = quantize(GGML.Q4_0, x);
    expect([...q]).toEqual([...q4Reference(x)]);
    const back = dequantize(GGML.Q4_0, unaligned(q), 96);
    for (let i = 0; i < 96; i++) {
      const b = Math.floor(i / 32),
        j = i % 32;
      const byte = q[18 * b + 2 + (j % 16)];
      const nibble = j < 16 ? byte & 15 : byte >> 4;
      expect(back[i]).toBe(f((nibble - 8) * halfToFloat(q[18 * b] | (q[18 * b + 1] << 8))));
    }
  });

  it("writes F32 and F16 from a view into a larger array, and reads F32, F16 and BF16 from unaligned bytes", () => {
    const big = Float32Array.of(9, 1.5, -2, 65504, 1e-8, 9);
    const view = big.subarray(1, 5);
    const f32 = quantize(GGML.F32, view);
    expect([...f32]).toEqual([...new Uint8Array(big.buffer, 4, 16)]);
    expect([...dequantize(GGML.F32, unaligned(f32), 4)]).toEqual([1.5, -2, 65504, f(1e-8)]);
    const f16 = quantize(GGML.F16, view);
    expect([...new Uint16Array(f16.buffer)]).toEqual([0x3e00, 0xc000, 0x7bff, floatToHalf(1e-8)]);
    expect([...dequantize(GGML.F16, unaligned(f16), 4)]).toEqual([1.5, -2, 65504, halfToFloat(floatToHalf(1e-8))]);
    // BF16: the high 16 bits of the f32 (1.5 is 0x3fc00000; -2 is 0xc0000000; 0x0001 the least subnormal's top).
    const bf16 = unaligned(Uint8Array.of(0xc0, 0x3f, 0x00, 0xc0, 0x01, 0x00));
    expect([...dequantize(GGML.BF16, bf16, 3)]).toEqual([1.5, -2, new Float32Array(new Uint32Array([0x10000]).buffer)[0]]);
    expect(bf16ToFloat(0x7f80)).toBe(Infinity);
    expect(bf16ToFloat(0xbf80)).toBe(-1);
  });

  it("sizes each type's bytes by its blocks, and refuses types it does not convert", () => {
    expect([GGML.F32, GGML.F16, GGML.BF16, GGML.Q8_0, GGML.Q4_0, GGML.Q4_K, GGML.Q6_K].map((t) => tensorBytes(t, 512))).toEqual([
      2048, 1024, 1024, 544, 288, 288, 420,
    ]);
    expect(BLOCKS[GGML.Q4_K]).toEqual({ values: 256, bytes: 144 });
    expect(() => quantize(GGML.Q4_K, new Float32Array(256))).toThrow("quantize: type 12 is not supported");
    expect(() => dequantize(13, new Uint8Array(176), 256)).toThrow("dequantize: type 13 is not supported");
  });

  it("names ggml's types as ggml.h does, and an unknown one by its number", () => {
    expect(GGML).toEqual({ F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30 });
    // ggml.h's enum ggml_type (4, 5, 31-33 and 36-38 are types ggml has removed).
    const ggmlH =
      "F32 F16 Q4_0 Q4_1 - - Q5_0 Q5_1 Q8_0 Q8_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K IQ2_XXS IQ2_XS IQ3_XXS IQ1_S IQ4_NL IQ3_S IQ2_S IQ4_XS " +
      "I8 I16 I32 I64 F64 IQ1_M BF16 - - - TQ1_0 TQ2_0 - - - MXFP4";
    const expected = Object.fromEntries(
      ggmlH
        .split(" ")
        .map((name, i) => [i, name])
        .filter(([, name]) => name !== "-"),
    );
    expect(GGML_TYPE_NAMES).toEqual(expected);
    expect(Object.keys(expected).map((t) => ggmlTypeName(Number(t)))).toEqual(Object.values(expected));
    expect([4, 5, 31, 40].map(ggmlTypeName)).toEqual(["type 4", "type 5", "type 31", "type 40"]);
  });
});
