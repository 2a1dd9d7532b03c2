/**
 * Where a row of a Q4Linear weight at w lies (compiler/ir/ops/linear-q4.ts's Q4Layout), for every
 * flavour's kernel: R is a row's bytes, ceil(K / 32) · 18. As written (n4 false), row n's blocks
 * follow one another from w + n · R, 18 bytes apart; interleaved ("n4"), in 72-byte records from
 * w + (n & ~3) · R, its scale at 2 · (n & 3) and its nibbles at 8 + 16 · (n & 3) of each.
 */

/** The byte of row n's first f16 scale. */
@inline export function q4Scales(w: usize, n: i32, R: usize, n4: bool): usize {
  return n4 ? w + <usize>(n & ~3) * R + <usize>((n & 3) << 1) : w + <usize>n * R;
}

/** The first of row n's first block's 16 bytes of nibbles. */
@inline export function q4Nibbles(w: usize, n: i32, R: usize, n4: bool): usize {
  return n4 ? w + <usize>(n & ~3) * R + <usize>(8 + ((n & 3) << 4)) : w + <usize>n * R + 2;
}

/** The bytes from one of a row's blocks to the next. */
@inline export function q4BlockStep(n4: bool): usize {
  return n4 ? 72 : 18;
}
