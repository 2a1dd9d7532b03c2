import { at } from "./simd";

/** y[t] = table[ids[t]] for rows of D floats; an id outside [0, V) traps (the runtime checks first). */
export function gather(table: usize, ids: usize, y: usize, T: i32, D: i32, V: i32): void {
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + at(t));
    if (<u32>id >= <u32>V) unreachable();
    memory.copy(y + at(t * D), table + at(id * D), at(D));
  }
}

/**
 * gather from a table stored "n4" (as its tied classifier's kernel reads it, kernels/linear-n4.ts):
 * row id's four-float chunks 64 bytes apart, copied as two 64-bit words (the same code for every flavour).
 */
export function gatherN4(table: usize, ids: usize, y: usize, T: i32, D: i32, V: i32): void {
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + at(t));
    if (<u32>id >= <u32>V) unreachable();
    const row = table + at((id & ~3) * D + ((id & 3) << 2)),
      out = y + at(t * D);
    for (let d = 0; d < D; d += 4) {
      const from = row + (<usize>d << 4),
        to = out + at(d);
      store<u64>(to, load<u64>(from));
      store<u64>(to, load<u64>(from, 8), 8);
    }
  }
}

/**
 * y[t] = scale[ids[t]] · table[ids[t]] for an int8 table of V rows of D (one f32 scale per row);
 * an id outside [0, V) traps. Scalar: one row a token, and the same code for every flavour.
 */
export function qgather(table: usize, scale: usize, ids: usize, y: usize, T: i32, D: i32, V: i32): void {
  qgatherIn(table, scale, ids, y, T, D, V, false);
}

/** qgather from a table stored "n4k16" (as its tied classifier's kernel reads it, kernels/linear-q8.ts): row id's 16-column chunks 64 bytes apart. */
export function qgatherN4(table: usize, scale: usize, ids: usize, y: usize, T: i32, D: i32, V: i32): void {
  qgatherIn(table, scale, ids, y, T, D, V, true);
}

@inline function qgatherIn(table: usize, scale: usize, ids: usize, y: usize, T: i32, D: i32, V: i32, interleaved: bool): void {
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + at(t));
    if (<u32>id >= <u32>V) unreachable();
    const s = load<f32>(scale + at(id));
    const row = interleaved ? table + <usize>(id & ~3) * <usize>D + <usize>((id & 3) << 4) : table + <usize>id * <usize>D,
      out = y + at(t * D);
    for (let d = 0; d < D; d++) store<f32>(out + at(d), <f32>load<i8>(row + <usize>(interleaved ? ((d & ~15) << 2) | (d & 15) : d)) * s);
  }
}

/** y = x[T - 1], the last of T rows of D floats. */
export function lastRow(x: usize, y: usize, T: i32, D: i32): void {
  memory.copy(y, x + at((T - 1) * D), at(D));
}

/** The index of the largest of n floats (the first, on ties): greedy decoding's choice. */
export function argmax(x: usize, n: i32): i32 {
  let best = 0;
  let top = load<f32>(x);
  for (let i = 1; i < n; i++) {
    const v = load<f32>(x + at(i));
    if (v > top) {
      top = v;
      best = i;
    }
  }
  return best;
}
