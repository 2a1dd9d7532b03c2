import { at } from "./simd";

/** y = a + b over n elements. */
export function add(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.add(v128.load(a + at(i)), v128.load(b + at(i))));
  for (; i < n; i++) store<f32>(y + at(i), load<f32>(a + at(i)) + load<f32>(b + at(i)));
}

/** y = silu(gate) · up, silu(g) = g / (1 + e^-g). */
export function swiglu(gate: usize, up: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const g = load<f32>(gate + at(i));
    store<f32>(y + at(i), g * (<f32>1.0 / (<f32>1.0 + Mathf.exp(-g))) * load<f32>(up + at(i)));
  }
}

/** y = max(x, 0). */
export function relu(x: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + at(i), f32x4.max(v128.load(x + at(i)), zero));
  for (; i < n; i++) store<f32>(y + at(i), max(load<f32>(x + at(i)), <f32>0));
}

/** y = tanh(x). */
export function tanh(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(y + at(i), Mathf.tanh(load<f32>(x + at(i))));
}

/** y[t] = x[t] + table[t] for T rows of D: the table is longer than any input. */
export function addRows(x: usize, table: usize, y: usize, T: i32, D: i32): void {
  add(x, table, y, T * D);
}

/** y = the mean of T rows of D (zeros when T = 0). */
export function meanRows(x: usize, y: usize, T: i32, D: i32): void {
  memory.fill(y, 0, at(D));
  for (let t = 0; t < T; t++) add(y, x + at(t * D), y, D);
  const inv = f32x4.splat(<f32>1.0 / <f32>max(T, 1));
  let i = 0;
  for (; i + 4 <= D; i += 4) v128.store(y + at(i), f32x4.mul(v128.load(y + at(i)), inv));
  for (; i < D; i++) store<f32>(y + at(i), load<f32>(y + at(i)) / <f32>max(T, 1));
}
