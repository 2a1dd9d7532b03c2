import { at, axpy } from "./simd";

/** out[i·nb + j] = a[i] · b[j]: the Kronecker product of two vectors. */
export function kron(a: usize, na: i32, b: usize, nb: i32, out: usize): void {
  for (let i = 0; i < na; i++) {
    const ai = load<f32>(a + at(i));
    for (let j = 0; j < nb; j++) store<f32>(out + at(i * nb + j), ai * load<f32>(b + at(j)));
  }
}

/** acc += a ⊗ c: for each a[i], nc consecutive multiply-adds (vectorized over the innermost slot). */
export function kronAccumulate(a: usize, na: i32, c: usize, nc: i32, acc: usize): void {
  for (let i = 0; i < na; i++) axpy(acc + at(i * nc), c, load<f32>(a + at(i)), nc);
}

/** out = sum over token t's bag of weight · table row (rows of q), or the null row when the bag is empty. */
export function bagSum(out: usize, table: usize, offsets: usize, ids: usize, weights: usize, t: i32, q: i32, nullRow: i32): void {
  const begin = load<i32>(offsets + at(t)), end = load<i32>(offsets + at(t + 1));
  if (begin == end) {
    memory.copy(out, table + at(nullRow * q), at(q));
    return;
  }
  memory.fill(out, 0, at(q));
  for (let m = begin; m < end; m++) {
    const w = load<f32>(weights + at(m));
    const row = table + at(load<i32>(ids + at(m)) * q);
    for (let i = 0; i < q; i++) store<f32>(out + at(i), load<f32>(out + at(i)) + w * load<f32>(row + at(i)));
  }
}
