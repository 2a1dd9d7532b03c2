// SentencePiece unigram tokenization over the table seec embeds (targets/wasm/tokenizer-table.ts),
// step for step as runtime/tokenizers/sentencepiece.ts: NFKC, "▁" for spaces and at the start,
// then the best-scoring segmentation. Candidates reach each end in order of their start, a later
// one wins a tie, and the backtrack steps back by the chosen piece's length in UTF-16 units.
import { decomposedLength, nfkc, NfkcTable } from "./nfkc";
import { decodeUtf8, utf16Units } from "./utf8";
import { mark, release, take } from "./wasi";

const SEPARATOR: u32 = 0x2581;
const SPACE: u32 = 0x20;
const UNKNOWN: i32 = 0;

export class UnigramVocabulary {
  count: i32;
  reserved: i32;
  scores: usize;
  starts: usize;
  codePoints: usize;
  normalizer: NfkcTable;
  /** The longest piece, in code points. */
  longest: i32 = 0;
  /** Open addressing over pieces' code points: id + 1, 0 for empty. */
  slots: usize;
  mask: u32;

  constructor(table: usize) {
    this.count = load<i32>(table);
    this.reserved = load<i32>(table + 4);
    this.normalizer = new NfkcTable(table + load<u32>(table + 8));
    this.scores = table + 16;
    this.starts = this.scores + <usize>this.count * 8;
    this.codePoints = this.starts + <usize>(this.count + 1) * 4;
    let capacity: u32 = 16;
    while (capacity < <u32>this.count * 2) capacity <<= 1;
    this.mask = capacity - 1;
    this.slots = take(<usize>capacity * 4);
    memory.fill(this.slots, 0, <usize>capacity * 4);
    // Control symbols are never produced; of two pieces with the same text, the later id wins.
    for (let id = this.reserved; id < this.count; id++) {
      const start = this.pieceStart(id);
      const length = this.pieceLength(id);
      if (length > this.longest) this.longest = length;
      let slot = hash(start, length) & this.mask;
      for (;;) {
        const entry = load<i32>(this.slots + <usize>slot * 4);
        if (entry == 0 || this.same(entry - 1, start, length)) break;
        slot = (slot + 1) & this.mask;
      }
      store<i32>(this.slots + <usize>slot * 4, id + 1);
    }
  }

  pieceStart(id: i32): usize {
    return this.codePoints + <usize>load<u32>(this.starts + <usize>id * 4) * 4;
  }

  pieceLength(id: i32): i32 {
    return <i32>(load<u32>(this.starts + <usize>(id + 1) * 4) - load<u32>(this.starts + <usize>id * 4));
  }

  score(id: i32): f64 {
    return load<f64>(this.scores + <usize>id * 8);
  }

  /** The id of the piece with these code points, or -1. */
  find(cps: usize, length: i32): i32 {
    let slot = hash(cps, length) & this.mask;
    let entry = load<i32>(this.slots + <usize>slot * 4);
    while (entry != 0) {
      if (this.same(entry - 1, cps, length)) return entry - 1;
      slot = (slot + 1) & this.mask;
      entry = load<i32>(this.slots + <usize>slot * 4);
    }
    return -1;
  }

  private same(id: i32, cps: usize, length: i32): bool {
    return this.pieceLength(id) == length && memory.compare(this.pieceStart(id), cps, <usize>length * 4) == 0;
  }

  /** The piece's length as JavaScript counts it (UTF-16 code units). */
  units(id: i32): i32 {
    const start = this.pieceStart(id);
    let n = 0;
    for (let i = 0, k = this.pieceLength(id); i < k; i++) n += utf16Units(load<u32>(start + <usize>i * 4));
    return n;
  }
}

function hash(cps: usize, length: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = (h ^ load<u32>(cps + <usize>i * 4)) * 0x01000193;
  return h;
}

/** The first `most` token ids of `length` bytes of UTF-8 text, written at `tokens`; returns how many. */
export function encodeUnigram(v: UnigramVocabulary, text: usize, length: i32, tokens: usize, most: i32): i32 {
  const scratch = mark();
  const decoded = take(<usize>length * 4);
  const count = decodeUtf8(text, length, decoded);
  const symbols = take(<usize>(decomposedLength(v.normalizer, decoded, count) + 1) * 4);
  const n = nfkc(v.normalizer, decoded, count, symbols + 4) + 1;
  if (n == 1) {
    release(scratch);
    return 0;
  }
  store<u32>(symbols, SEPARATOR);
  for (let i = 1; i < n; i++) if (load<u32>(symbols + <usize>i * 4) == SPACE) store<u32>(symbols + <usize>i * 4, SEPARATOR);

  // best[end] = 0 means "no candidate yet", as in the reference.
  const best = take(<usize>(n + 1) * 8);
  const chosen = take(<usize>(n + 1) * 4);
  memory.fill(best, 0, <usize>(n + 1) * 8);
  memory.fill(chosen, 0, <usize>(n + 1) * 4);
  for (let start = 0; start < n; start++) {
    let found = false;
    const from = load<f64>(best + <usize>start * 8);
    for (let len = 1; len <= v.longest && start + len <= n; len++) {
      const id = v.find(symbols + <usize>start * 4, len);
      if (id < 0) continue;
      relax(best, chosen, start + len, from + v.score(id), id);
      found = true;
    }
    if (!found) relax(best, chosen, start + 1, from, UNKNOWN);
  }

  // Backtrack, then write the ids in order with runs of unknowns merged.
  const reversed = take(<usize>(n + 1) * 4);
  let r = 0;
  for (let at = n; at > 0; at -= v.units(load<i32>(chosen + <usize>at * 4))) {
    store<i32>(reversed + <usize>r * 4, load<i32>(chosen + <usize>at * 4));
    r++;
  }
  let k = 0;
  let previousUnknown = false;
  for (let i = r - 1; i >= 0 && k < most; i--) {
    const id = load<i32>(reversed + <usize>i * 4);
    if (!(previousUnknown && id == UNKNOWN)) {
      store<i32>(tokens + <usize>k * 4, id);
      k++;
    }
    previousUnknown = id == UNKNOWN;
  }
  release(scratch);
  return k;
}

function relax(best: usize, chosen: usize, end: i32, score: f64, id: i32): void {
  const current = load<f64>(best + <usize>end * 8);
  if (current == 0 || score >= current) {
    store<f64>(best + <usize>end * 8, score);
    store<i32>(chosen + <usize>end * 4, id);
  }
}
