import { addVec, at, reluVec, scaleBy, sigmoidVec, swigluVec, tanhVec } from "./simd";

/** y = a + b over n elements. */
export function add(a: usize, b: usize, y: usize, n: i32): void {
  addVec(a, b, y, n);
}

/** y = silu(gate) · up, silu(g) = g / (1 + e^-g). */
export function swiglu(gate: usize, up: usize, y: usize, n: i32): void {
  swigluVec(gate, up, y, n);
}

/** y = max(x, 0). */
export function relu(x: usize, y: usize, n: i32): void {
  reluVec(x, y, n);
}

/** y = tanh(x) (math.ts's tanhf: about 2 ulp). */
export function tanh(x: usize, y: usize, n: i32): void {
  tanhVec(x, y, n);
}

/** y = 1 / (1 + e^−x). */
export function sigmoid(x: usize, y: usize, n: i32): void {
  sigmoidVec(x, y, n);
}

/** y[t] = x[t] + table[t] for T rows of D: the table is longer than any input. */
export function addRows(x: usize, table: usize, y: usize, T: i32, D: i32): void {
  add(x, table, y, T * D);
}

/** y = the mean of T rows of D (zeros when T = 0). */
export function meanRows(x: usize, y: usize, T: i32, D: i32): void {
  memory.fill(y, 0, at(D));
  for (let t = 0; t < T; t++) addVec(y, x + at(t * D), y, D);
  scaleBy(y, <f32>1.0 / <f32>max(T, 1), D);
}
