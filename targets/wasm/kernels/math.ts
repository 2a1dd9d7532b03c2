// Elementary functions for the kernels, faster than AssemblyScript's Mathf (musl's, exact to
// half an ulp) at an accuracy the models cannot tell apart.

/** log2(e), and ln 2 in two parts (the first exact in few bits) for the range reduction. */
export const LOG2E: f32 = 1.44269504;
export const LN2_HI: f32 = 0.693359375;
export const LN2_LO: f32 = -2.12194440e-4;
/** Below this e^x is under the smallest normal float: the result is 0 (−∞ included). */
export const EXP_MIN: f32 = -87.33654;
/** ln of the largest float: above it e^x is +∞. */
export const EXP_MAX: f32 = 88.72284;

/**
 * e^x to about 2 ulp (Cephes' expf): x = n·ln2 + r with |r| ≤ ln2/2, e^r from a degree-6
 * polynomial, times 2^n written into the exponent bits of two factors (2^⌊n/2⌋ · 2^⌈n/2⌉: n reaches
 * 128 just below EXP_MAX, past one float's exponent). 0 below EXP_MIN, +∞ above EXP_MAX, NaN kept.
 */
@inline export function expf(x: f32): f32 {
  if (x < EXP_MIN) return 0;
  if (x > EXP_MAX) return Infinity;
  const n = nearest<f32>(x * LOG2E);
  const r = x - n * LN2_HI - n * LN2_LO;
  let p: f32 = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  const half = <i32>n >> 1;
  return (r * r * p + r + 1) * reinterpret<f32>((half + 127) << 23) * reinterpret<f32>((<i32>n - half + 127) << 23);
}

/** Below this |x|, tanh is an odd polynomial; above, 1 − 2 / (e^{2|x|} + 1). */
export const TANH_SMALL: f32 = 0.625;
/** Cephes' tanhf polynomial in z = x² on |x| < TANH_SMALL: tanh x = x + x·z·P(z). */
export const TANH_P0: f32 = -5.70498872745e-3;
export const TANH_P1: f32 = 2.06390887954e-2;
export const TANH_P2: f32 = -5.37397155531e-2;
export const TANH_P3: f32 = 1.33314422036e-1;
export const TANH_P4: f32 = -3.33332819422e-1;

/** tanh x to about 2 ulp (Cephes' tanhf), with x's sign (−0 stays −0); NaN stays NaN, ±∞ gives ±1. */
@inline export function tanhf(x: f32): f32 {
  const a = abs(x);
  if (a >= TANH_SMALL) return copysign<f32>(<f32>1 - <f32>2 / (expf(a + a) + 1), x);
  const z = x * x;
  return copysign<f32>(x + x * z * ((((TANH_P0 * z + TANH_P1) * z + TANH_P2) * z + TANH_P3) * z + TANH_P4), x);
}
