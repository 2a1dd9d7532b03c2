// Unicode NFKC over code points, from the tables seec derives from JavaScript's normalize()
// (targets/wasm/nfkc-table.ts): decompose (compatibility mappings, Hangul by the algorithm),
// put runs of non-starters in canonical order, then compose as NFC does.

const S_BASE: u32 = 0xac00;
const L_BASE: u32 = 0x1100;
const V_BASE: u32 = 0x1161;
const T_BASE: u32 = 0x11a7;
const L_COUNT: u32 = 19;
const V_COUNT: u32 = 21;
const T_COUNT: u32 = 28;
const N_COUNT: u32 = V_COUNT * T_COUNT;
const S_COUNT: u32 = L_COUNT * N_COUNT;

export class NfkcTable {
  mapCount: i32;
  pairCount: i32;
  markCount: i32;
  mapKeys: usize;
  mapStart: usize;
  mapCodePoints: usize;
  pairKeys: usize;
  pairComposed: usize;
  markKeys: usize;
  markRanks: usize;

  constructor(table: usize) {
    this.mapCount = load<i32>(table);
    this.pairCount = load<i32>(table + 4);
    this.markCount = load<i32>(table + 8);
    this.mapKeys = table + 16;
    this.mapStart = this.mapKeys + <usize>this.mapCount * 4;
    this.mapCodePoints = this.mapStart + <usize>(this.mapCount + 1) * 4;
    this.pairKeys = this.mapCodePoints + <usize>load<u32>(this.mapStart + <usize>this.mapCount * 4) * 4;
    this.pairComposed = this.pairKeys + <usize>this.pairCount * 8;
    this.markKeys = this.pairComposed + <usize>this.pairCount * 4;
    this.markRanks = this.markKeys + <usize>this.markCount * 4;
  }

  /** 0 for a starter; otherwise a rank that orders non-starters as their combining classes. */
  rank(cp: u32): u32 {
    const i = search32(this.markKeys, this.markCount, cp);
    return i < 0 ? 0 : load<u32>(this.markRanks + <usize>i * 4);
  }

  /** The canonical composite of a pair, or 0. */
  compose(first: u32, second: u32): u32 {
    if (first - L_BASE < L_COUNT && second - V_BASE < V_COUNT) return S_BASE + ((first - L_BASE) * V_COUNT + (second - V_BASE)) * T_COUNT;
    if (first - S_BASE < S_COUNT && (first - S_BASE) % T_COUNT == 0 && second - T_BASE - 1 < T_COUNT - 1) return first + (second - T_BASE);
    const key = (<u64>first << 21) | <u64>second;
    let lo = 0, hi = this.pairCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = load<u64>(this.pairKeys + <usize>mid * 8);
      if (k == key) return load<u32>(this.pairComposed + <usize>mid * 4);
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** Writes cp's full compatibility decomposition at out; returns how many code points. */
  decompose(cp: u32, out: usize): i32 {
    if (cp - S_BASE < S_COUNT) {
      const s = cp - S_BASE;
      store<u32>(out, L_BASE + s / N_COUNT);
      store<u32>(out + 4, V_BASE + (s % N_COUNT) / T_COUNT);
      if (s % T_COUNT == 0) return 2;
      store<u32>(out + 8, T_BASE + s % T_COUNT);
      return 3;
    }
    const i = search32(this.mapKeys, this.mapCount, cp);
    if (i < 0) {
      store<u32>(out, cp);
      return 1;
    }
    const from = load<u32>(this.mapStart + <usize>i * 4);
    const n = <i32>(load<u32>(this.mapStart + <usize>(i + 1) * 4) - from);
    memory.copy(out, this.mapCodePoints + <usize>from * 4, <usize>n * 4);
    return n;
  }
}

/** How many code points the n at input decompose into: the room nfkc() needs. */
export function decomposedLength(t: NfkcTable, input: usize, n: i32): i32 {
  const scratch = memory.data(18 * 4);
  let m = 0;
  for (let i = 0; i < n; i++) m += t.decompose(load<u32>(input + <usize>i * 4), scratch);
  return m;
}

/** NFKC of n code points at input, written at out (room for decomposedLength()); returns the count. */
export function nfkc(t: NfkcTable, input: usize, n: i32, out: usize): i32 {
  let m = 0;
  for (let i = 0; i < n; i++) m += t.decompose(load<u32>(input + <usize>i * 4), out + <usize>m * 4);
  // Canonical order: a stable insertion sort of each run of non-starters by rank.
  for (let i = 1; i < m; i++) {
    const cp = load<u32>(out + <usize>i * 4);
    const r = t.rank(cp);
    if (r == 0) continue;
    let j = i;
    while (j > 0) {
      const before = load<u32>(out + <usize>(j - 1) * 4);
      const rb = t.rank(before);
      if (rb <= r) break;
      store<u32>(out + <usize>j * 4, before);
      j--;
    }
    store<u32>(out + <usize>j * 4, cp);
  }
  // Canonical composition: each character joins the last starter unless something between blocks it.
  let starter = -1;
  let lastRank: u32 = 0;
  let k = 0;
  for (let i = 0; i < m; i++) {
    const cp = load<u32>(out + <usize>i * 4);
    const r = t.rank(cp);
    if (starter >= 0) {
      const adjacent = k - 1 == starter;
      if (adjacent || (lastRank != 0 && lastRank < r)) {
        const composite = t.compose(load<u32>(out + <usize>starter * 4), cp);
        if (composite != 0) {
          store<u32>(out + <usize>starter * 4, composite);
          continue;
        }
      }
    }
    if (r == 0) {
      starter = k;
      lastRank = 0;
    } else lastRank = r;
    store<u32>(out + <usize>k * 4, cp);
    k++;
  }
  return k;
}

/** Index of key in n ascending u32 at keys, or -1. */
function search32(keys: usize, n: i32, key: u32): i32 {
  let lo = 0, hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = load<u32>(keys + <usize>mid * 4);
    if (k == key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
