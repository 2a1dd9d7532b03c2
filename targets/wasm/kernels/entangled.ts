import { at } from "./simd";

/** out[i·nb + j] = a[i] · b[j]: the Kronecker product of two vectors. */
export function kron(a: usize, na: i32, b: usize, nb: i32, out: usize): void {
  for (let i = 0; i < na; i++) {
    const ai = load<f32>(a + at(i));
    for (let j = 0; j < nb; j++) store<f32>(out + at(i * nb + j), ai * load<f32>(b + at(j)));
  }
}

/** acc += a ⊗ c: for each a[i], nc consecutive multiply-adds, four lanes at a time. */
export function kronAccumulate(a: usize, na: i32, c: usize, nc: i32, acc: usize): void {
  const nc4 = nc & ~3;
  for (let i = 0; i < na; i++) {
    const ai = load<f32>(a + at(i));
    const av = f32x4.splat(ai);
    const row = acc + at(i * nc);
    let j = 0;
    for (; j < nc4; j += 4) v128.store(row + at(j), f32x4.add(v128.load(row + at(j)), f32x4.mul(av, v128.load(c + at(j)))));
    for (; j < nc; j++) store<f32>(row + at(j), load<f32>(row + at(j)) + ai * load<f32>(c + at(j)));
  }
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
