// UTF-8 to code points and back: decoding as a WHATWG TextDecoder reads command-line bytes (malformed
// sequences become U+FFFD, one per maximal invalid subpart).

const REPLACEMENT: u32 = 0xfffd;

/** Decodes `length` bytes at `bytes` into code points at `out` (room for `length`); returns the count. */
export function decodeUtf8(bytes: usize, length: i32, out: usize): i32 {
  let n = 0;
  let i = 0;
  while (i < length) {
    const lead = <u32>load<u8>(bytes + i);
    let need = 0;
    let cp: u32 = lead;
    let lower: u32 = 0x80, upper: u32 = 0xbf;
    if (lead < 0x80) need = 0;
    else if (lead >= 0xc2 && lead <= 0xdf) (need = 1), (cp = lead & 0x1f);
    else if (lead >= 0xe0 && lead <= 0xef) {
      need = 2;
      cp = lead & 0x0f;
      if (lead == 0xe0) lower = 0xa0;
      if (lead == 0xed) upper = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      need = 3;
      cp = lead & 0x07;
      if (lead == 0xf0) lower = 0x90;
      if (lead == 0xf4) upper = 0x8f;
    } else need = -1;
    i++;
    if (need > 0) {
      let k = 0;
      for (; k < need && i < length; k++) {
        const b = <u32>load<u8>(bytes + i);
        if (b < lower || b > upper) break;
        cp = (cp << 6) | (b & 0x3f);
        lower = 0x80;
        upper = 0xbf;
        i++;
      }
      if (k < need) cp = REPLACEMENT;
    } else if (need < 0) cp = REPLACEMENT;
    store<u32>(out + <usize>n * 4, cp);
    n++;
  }
  return n;
}

/** How many UTF-16 code units a code point takes (JavaScript's string length). */
export function utf16Units(cp: u32): i32 {
  return cp > 0xffff ? 2 : 1;
}

/** The UTF-8 bytes of a code point at out (room for 4); returns how many. */
export function encodeUtf8(cp: u32, out: usize): i32 {
  if (cp < 0x80) {
    store<u8>(out, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(out, <u8>(0xc0 | (cp >> 6)));
    store<u8>(out + 1, <u8>(0x80 | (cp & 0x3f)));
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(out, <u8>(0xe0 | (cp >> 12)));
    store<u8>(out + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(out + 2, <u8>(0x80 | (cp & 0x3f)));
    return 3;
  }
  store<u8>(out, <u8>(0xf0 | (cp >> 18)));
  store<u8>(out + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(out + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(out + 3, <u8>(0x80 | (cp & 0x3f)));
  return 4;
}
