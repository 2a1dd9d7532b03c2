// Small SIMD helpers shared by the kernels.

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Byte offset of element i of an f32/i32 array. */
@inline export function at(i: i32): usize {
  return <usize>i << 2;
}

/** dot(a[0..n], b[0..n]) with four independent accumulators. */
@inline export function dot(a: usize, b: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + at(i)), v128.load(b + at(i))));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(a + at(i + 4)), v128.load(b + at(i + 4))));
  }
  for (; i + 4 <= n; i += 4) acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + at(i)), v128.load(b + at(i))));
  let s = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) s += load<f32>(a + at(i)) * load<f32>(b + at(i));
  return s;
}
