/**
 * IEEE half (the bits, in the low 16 of h) as f32, exactly, for Q4_0 blocks' scales: the half's
 * sign, exponent and mantissa moved into an f32's places (an f32 whose exponent is the half's,
 * unbiased by 127 instead of 15), then times 2^112 to rebias. Zero and subnormals come out right
 * too (the product is normal); a half infinity or NaN (exponent 31) is not a scale seec writes.
 */
@inline export function halfToF32(h: u32): f32 {
  return reinterpret<f32>(((h & 0x8000) << 16) | ((h & 0x7fff) << 13)) * reinterpret<f32>(0x77800000);
}
