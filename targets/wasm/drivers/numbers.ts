// Numbers from command-line text, parsed as JavaScript's Number() parses them.

/** An unsigned decimal integer; -1 when the text is not one (or does not fit in 2^53). */
export function parseInteger(s: usize): i64 {
  let n: i64 = 0;
  let i = 0;
  for (; load<u8>(s + i) != 0; i++) {
    const d = <i32>load<u8>(s + i) - 48;
    if (d < 0 || d > 9 || n > 900719925474099) return -1;
    n = n * 10 + d;
  }
  return i == 0 ? -1 : n;
}

/**
 * A non-negative decimal such as "0.8" or "1"; NaN otherwise. Up to 15 significant digits and
 * 22 decimals, digits / 10^k is one correctly rounded division: the double Number() gives.
 */
export function parseDecimal(s: usize): f64 {
  let digits: i64 = 0;
  let count = 0, decimals = 0, i = 0;
  let point = false;
  for (; load<u8>(s + i) != 0; i++) {
    const c = <i32>load<u8>(s + i);
    if (c == 46 && !point) {
      point = true;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || ++count > 15) return NaN;
    digits = digits * 10 + d;
    if (point) decimals++;
  }
  if (count == 0 || decimals > 22) return NaN;
  let scale: f64 = 1;
  for (let k = 0; k < decimals; k++) scale *= 10;
  return <f64>digits / scale;
}
