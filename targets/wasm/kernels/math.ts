// Elementary functions for the kernels, faster than AssemblyScript's Mathf (musl's, exact to
// half an ulp) at an accuracy the models cannot tell apart.

/** log2(e), and ln 2 in two parts (the first exact in few bits) for the range reduction. */
export const LOG2E: f32 = 1.44269504;
export const LN2_HI: f32 = 0.693359375;
export const LN2_LO: f32 = -2.12194440e-4;
/** Below this e^x is under the smallest normal float: the result is 0 (−∞ included). */
export const EXP_MIN: f32 = -87.33654;
/** Above this 2^n would overflow the exponent; e^88 is 1.65e38. */
export const EXP_MAX: f32 = 88.0;

/**
 * e^x to about 2 ulp (Cephes' expf): x = n·ln2 + r with |r| ≤ ln2/2, e^r from a degree-6
 * polynomial, 2^n written into the exponent bits. 0 below EXP_MIN.
 */
@inline export function expf(x: f32): f32 {
  if (x < EXP_MIN) return 0;
  x = min(x, EXP_MAX);
  const n = nearest<f32>(x * LOG2E);
  const r = x - n * LN2_HI - n * LN2_LO;
  let p: f32 = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  return (r * r * p + r + 1) * reinterpret<f32>((<i32>n + 127) << 23);
}
