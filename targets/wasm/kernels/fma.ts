// Multiply-add, the one operation the relaxed-SIMD flavour changes (kernels-relaxed/fma.ts fuses it).

/** a · b + c, lane by lane. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}
