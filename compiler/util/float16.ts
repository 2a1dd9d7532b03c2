/**
 * The 16-bit floats, the one home of their conversions: IEEE half precision (float16), read by
 * every frontend (TF.js, ONNX, GGUF) and written by the GGUF writer, and bfloat16 (the high half
 * of a float32), read by ONNX and GGUF.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half -> number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> IEEE half, rounding to nearest even as numpy's astype(float16) and ggml's F16 conversion do. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = mant >>> 13;
  const rest = mant & 0x1fff;
  let out = (e << 10) | half;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) out++; // may carry into the exponent, as it should
  return sign | out;
}

/** bfloat16 -> number: the high half of an f32. */
export function bf16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/**
 * The bfloat16 nearest x, as a number (ties to even; NaN stays NaN): what ONNX's Cast to bfloat16
 * computes since ONNX 1.14, and ONNX Runtime and PyTorch compute.
 */
export function toBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if (Number.isNaN(x)) return x;
  u32[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16;
  return f32[0];
}
