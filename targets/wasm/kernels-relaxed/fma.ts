// Relaxed SIMD: multiply-add in one instruction (fused where the hardware has FMA, so results may
// differ from kernels/fma.ts in the last bit).

/** a · b + c, lane by lane. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c);
}
