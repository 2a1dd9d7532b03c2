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
