// llama2.c's tokenizer over the table seec embeds in the module (see targets/wasm/wasi.ts):
//   u32 count, bos, eos, 0 | f32 scores[count] | u32 pieceStart[count + 1] | u32 printStart[count + 1] | bytes
// A piece is the text encoding matches; its print form is what decoding writes (<0x0A> -> one byte).

import { take } from "./wasi";

const BYTE_FALLBACK_OFFSET = 3;

export class Vocabulary {
  count: i32;
  bos: i32;
  eos: i32;
  scores: usize;
  pieces: usize;
  prints: usize;
  bytes: usize;
  /** Open addressing over piece bytes: id + 1, 0 for empty. */
  slots: usize;
  mask: u32;
  /** The longest piece, in bytes: a prompt of n bytes is at least n / longest tokens. */
  longest: i32 = 1;

  constructor(table: usize) {
    this.count = load<i32>(table);
    this.bos = load<i32>(table + 4);
    this.eos = load<i32>(table + 8);
    this.scores = table + 16;
    this.pieces = this.scores + <usize>this.count * 4;
    this.prints = this.pieces + <usize>(this.count + 1) * 4;
    this.bytes = this.prints + <usize>(this.count + 1) * 4;
    let capacity: u32 = 16;
    while (capacity < <u32>this.count * 2) capacity <<= 1;
    this.mask = capacity - 1;
    this.slots = take(<usize>capacity * 4);
    memory.fill(this.slots, 0, <usize>capacity * 4);
    // The first piece with a given text keeps it, as the JavaScript tokenizer's map does.
    for (let id = 0; id < this.count; id++) {
      const start = this.pieceStart(id);
      const length = <i32>(this.pieceStart(id + 1) - start);
      if (length > this.longest) this.longest = length;
      if (this.find(start, length) >= 0) continue;
      let slot = fnv1a(start, length) & this.mask;
      while (load<i32>(this.slots + <usize>slot * 4) != 0) slot = (slot + 1) & this.mask;
      store<i32>(this.slots + <usize>slot * 4, id + 1);
    }
  }

  pieceStart(id: i32): usize {
    return this.bytes + load<u32>(this.pieces + <usize>id * 4);
  }

  printStart(id: i32): usize {
    return this.bytes + load<u32>(this.prints + <usize>id * 4);
  }

  score(id: i32): f32 {
    return load<f32>(this.scores + <usize>id * 4);
  }

  /** The id of the piece with these bytes, or -1. */
  find(bytes: usize, length: i32): i32 {
    let slot = fnv1a(bytes, length) & this.mask;
    let entry = load<i32>(this.slots + <usize>slot * 4);
    while (entry != 0) {
      const start = this.pieceStart(entry - 1);
      if (<i32>(this.pieceStart(entry) - start) == length && memory.compare(start, bytes, length) == 0) return entry - 1;
      slot = (slot + 1) & this.mask;
      entry = load<i32>(this.slots + <usize>slot * 4);
    }
    return -1;
  }
}

function fnv1a(bytes: usize, length: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = (h ^ load<u8>(bytes + i)) * 0x01000193;
  return h;
}

/** UTF-8 sequence length from its first byte. */
function charLength(lead: u8): i32 {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  return 4;
}

/**
 * Encodes `length` bytes of UTF-8 text after BOS into `tokens` (room for length + 2 ids):
 * characters (or their bytes + 3), then the best-scoring adjacent merge until none applies.
 * Returns the token count, or -1 when the vocabulary has no " " piece.
 */
export function encode(v: Vocabulary, text: usize, length: i32, tokens: usize, scratch: usize): i32 {
  let n = 0;
  store<i32>(tokens, v.bos);
  n++;
  if (length > 0) {
    const space = memory.data(1);
    store<u8>(space, 0x20);
    const id = v.find(space, 1);
    if (id < 0) return -1;
    store<i32>(tokens + <usize>(n++) * 4, id);
  }
  for (let i = 0; i < length; ) {
    const width = min(charLength(load<u8>(text + i)), length - i);
    const id = v.find(text + i, width);
    if (id >= 0) store<i32>(tokens + <usize>(n++) * 4, id);
    else for (let k = 0; k < width; k++) store<i32>(tokens + <usize>(n++) * 4, <i32>load<u8>(text + i + k) + BYTE_FALLBACK_OFFSET);
    i += width;
  }
  for (;;) {
    let best: f32 = -1e10;
    let bestId = -1, bestAt = -1;
    for (let i = 0; i + 1 < n; i++) {
      const a = load<i32>(tokens + <usize>i * 4), b = load<i32>(tokens + <usize>(i + 1) * 4);
      const aStart = v.pieceStart(a), aLength = <i32>(v.pieceStart(a + 1) - aStart);
      const bStart = v.pieceStart(b), bLength = <i32>(v.pieceStart(b + 1) - bStart);
      memory.copy(scratch, aStart, aLength);
      memory.copy(scratch + aLength, bStart, bLength);
      const id = v.find(scratch, aLength + bLength);
      if (id >= 0 && v.score(id) > best) {
        best = v.score(id);
        bestId = id;
        bestAt = i;
      }
    }
    if (bestAt < 0) break;
    store<i32>(tokens + <usize>bestAt * 4, bestId);
    memory.copy(tokens + <usize>(bestAt + 1) * 4, tokens + <usize>(bestAt + 2) * 4, <usize>(n - bestAt - 2) * 4);
    n--;
  }
  return n;
}

/** Where the bytes `token` prints after `prev` start, and how many (llama2.c's decode + safe_printf). */
export function printed(v: Vocabulary, prev: i32, token: i32, out: usize): i32 {
  let start = v.printStart(token);
  let length = <i32>(v.printStart(token + 1) - start);
  if (prev == v.bos && length > 0 && load<u8>(start) == 0x20) {
    start++;
    length--;
  }
  if (length == 1) {
    const b = load<u8>(start);
    if ((b < 0x20 || b == 0x7f) && !(b >= 0x09 && b <= 0x0d)) length = 0;
  }
  store<u32>(out, start);
  return length;
}
