// Numbers to and from text: command-line values parsed as JavaScript's Number() parses them,
// and numbers written as JavaScript's String() and toFixed() write them.

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

/** The decimal digits of n at out (room for 20); returns how many bytes. */
export function formatInteger(n: i64, out: usize): i32 {
  const digits = memory.data(24);
  let at = 24;
  let v = n < 0 ? -n : n;
  do {
    store<u8>(digits + --at, <u8>(48 + v % 10));
    v /= 10;
  } while (v > 0);
  if (n < 0) store<u8>(digits + --at, 45);
  memory.copy(out, digits + at, 24 - at);
  return 24 - at;
}

/**
 * Number.prototype.toFixed(3) for |x| < 2^53 / 1000, at out (room for 24); returns how many bytes.
 * toFixed picks the n whose n / 1000 is nearest the exact value of x, the larger on a tie; x × 1000
 * is taken as its rounded product plus the product's exact error (Dekker's split), so the tie test
 * is exact.
 */
export function formatFixed3(x: f64, out: usize): i32 {
  if (isNaN(x)) {
    store<u8>(out, 78);
    store<u8>(out + 1, 97);
    store<u8>(out + 2, 78);
    return 3;
  }
  const negative = x < 0;
  const a = negative ? -x : x;
  const p = a * 1000;
  const split = a * 134217729;
  const hi = split - (split - a);
  const error = hi * 1000 - p + (a - hi) * 1000;
  let n = Math.floor(p);
  if (p - (n + 0.5) + error >= 0) n += 1;
  let length = 0;
  if (negative) store<u8>(out + length++, 45);
  const whole = <i64>n / 1000, part = <i32>(<i64>n % 1000);
  length += formatInteger(whole, out + length);
  store<u8>(out + length++, 46);
  store<u8>(out + length++, <u8>(48 + part / 100));
  store<u8>(out + length++, <u8>(48 + (part / 10) % 10));
  store<u8>(out + length++, <u8>(48 + part % 10));
  return length;
}
