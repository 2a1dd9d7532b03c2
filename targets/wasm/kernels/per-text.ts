import { addRows, meanRows } from "./elementwise";
import { selfAttention } from "./attention";
import { linear } from "./linear";
import { qlinear } from "./linear-q8";
import { at } from "./simd";

// Texts packed end to end (compiler/passes/pack-texts.ts): a call's rows hold B texts, text i's
// lengths[i] rows right after text i - 1's. The ops that mix rows run on each text's rows alone.

/** addRows per text: each text's rows get the table's rows from its first. */
export function addRowsPerText(x: usize, table: usize, y: usize, lengths: usize, B: i32, D: i32): void {
  let row = 0;
  for (let i = 0; i < B; i++) {
    const n = load<i32>(lengths + at(i));
    addRows(x + at(row * D), table, y + at(row * D), n, D);
    row += n;
  }
}

/** selfAttention per text: a text's tokens attend to its own alone (block-diagonal). */
export function selfAttentionPerText(q: usize, k: usize, v: usize, out: usize, lengths: usize, B: i32, heads: i32, headDim: i32, scale: f32): void {
  const D = heads * headDim;
  let row = 0;
  for (let i = 0; i < B; i++) {
    const n = load<i32>(lengths + at(i)), offset = at(row * D);
    selfAttention(q + offset, k + offset, v + offset, out + offset, n, heads, headDim, scale);
    row += n;
  }
}

/** meanRows per text: row i of y is the mean of text i's rows (zeros for an empty text). */
export function meanRowsPerText(x: usize, y: usize, lengths: usize, B: i32, D: i32): void {
  let row = 0;
  for (let i = 0; i < B; i++) {
    const n = load<i32>(lengths + at(i));
    meanRows(x + at(row * D), y + at(i * D), n, D);
    row += n;
  }
}

/**
 * meanLinear per text: row i of y is the mean of text i's rows of x·wᵀ + b, zeros for an empty
 * text (as meanLinear gives). The texts' means of x go to the scratch ([B, K]), then one matmul
 * over them reads each weight once for all the texts.
 */
export function meanLinearPerText(x: usize, w: usize, b: usize, y: usize, lengths: usize, B: i32, K: i32, N: i32, scratch: usize): void {
  meanRowsPerText(x, scratch, lengths, B, K);
  linear(scratch, w, b, y, B, K, N);
  clearEmpty(y, lengths, B, N);
}

/** meanLinear per text with int8 weights and a scale per weight row; qlinear's own scratch follows the means. */
export function meanQLinearPerText(x: usize, w: usize, scale: usize, b: usize, y: usize, lengths: usize, B: i32, K: i32, N: i32, scratch: usize): void {
  meanRowsPerText(x, scratch, lengths, B, K);
  qlinear(scratch, w, scale, b, y, B, K, N, scratch + meansBytes(B, K));
  clearEmpty(y, lengths, B, N);
}

/** Bytes the means of B texts of K features take in the scratch, in whole 64-byte lines. */
@inline function meansBytes(B: i32, K: i32): usize {
  return (at(B * K) + 63) & ~63;
}

/** Zeros for the rows of texts without tokens (a bias would otherwise stand where the mean of no rows is 0). */
function clearEmpty(y: usize, lengths: usize, B: i32, N: i32): void {
  for (let i = 0; i < B; i++) if (load<i32>(lengths + at(i)) == 0) memory.fill(y + at(i * N), 0, at(N));
}
