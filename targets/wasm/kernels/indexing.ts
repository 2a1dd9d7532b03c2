import { at } from "./simd";

/** y[t] = table[ids[t]] for rows of D floats; an id outside [0, V) traps (the runtime checks first). */
export function gather(table: usize, ids: usize, y: usize, T: i32, D: i32, V: i32): void {
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + at(t));
    if (<u32>id >= <u32>V) unreachable();
    memory.copy(y + at(t * D), table + at(id * D), at(D));
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
