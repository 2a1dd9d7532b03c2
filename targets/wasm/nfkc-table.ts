/**
 * Unicode NFKC as tables a WASI program reads (targets/wasm/drivers/nfkc.ts), derived at build
 * time from the JavaScript engine's own normalize(), so the module normalizes as `seec run` does:
 *   u32 mapCount, pairCount, markCount, 0
 *   u32 mapKeys[mapCount] (ascending) | u32 mapStart[mapCount + 1] | u32 mapCodePoints[]
 *   u64 pairKeys[pairCount] (first << 21 | second, ascending) | u32 pairComposed[pairCount]
 *   u32 markKeys[markCount] (ascending) | u32 markRank[markCount]
 * maps: full compatibility decompositions (NFKD) of single code points, Hangul syllables left to
 * the algorithm; pairs: the canonical compositions NFC performs; marks: every non-starter, with
 * a rank that orders them as their canonical combining classes do (the classes themselves are not
 * exposed by JavaScript; their order is, through canonical reordering).
 */
const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;
/** Combining class 240, the highest: every other non-starter reorders before it. */
const YPOGEGRAMMENI = "\u0345";

let cached: Uint8Array | undefined;

export function nfkcTable(): Uint8Array {
  return (cached ??= buildTable());
}

function buildTable(): Uint8Array {
  const maps: [number, number[]][] = [];
  const pairs: [bigint, number][] = [];
  const marks: string[] = [YPOGEGRAMMENI];
  for (let cp = 0; cp < 0x110000; cp++) {
    if ((cp >= 0xd800 && cp <= 0xdfff) || (cp >= HANGUL_FIRST && cp <= HANGUL_LAST)) continue;
    const s = String.fromCodePoint(cp);
    const nfkd = s.normalize("NFKD");
    if (nfkd !== s) maps.push([cp, [...nfkd].map((c) => c.codePointAt(0)!)]);
    const nfd = s.normalize("NFD");
    if (nfd === s) {
      if (s !== YPOGEGRAMMENI && (YPOGEGRAMMENI + s).normalize("NFD") === s + YPOGEGRAMMENI) marks.push(s);
      continue;
    }
    // A primary composite: NFC puts it back together from its decomposition's last code point
    // and what the rest composes to.
    const parts = [...nfd];
    if (parts.length < 2) continue;
    const first = parts.slice(0, -1).join("").normalize("NFC");
    const last = parts[parts.length - 1];
    if ([...first].length === 1 && (first + last).normalize("NFC") === s)
      pairs.push([(BigInt(first.codePointAt(0)!) << 21n) | BigInt(last.codePointAt(0)!), cp]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const ranks = rankMarks(marks);

  const mapped = maps.reduce((n, [, cps]) => n + cps.length, 0);
  const words = 4 + maps.length * 2 + 1 + mapped + pairs.length * 3 + ranks.length * 2;
  const out = new Uint8Array(words * 4);
  const view = new DataView(out.buffer);
  let at = 0;
  const u32 = (x: number) => (view.setUint32(at, x, true), (at += 4));
  [maps.length, pairs.length, ranks.length, 0].forEach(u32);
  maps.forEach(([cp]) => u32(cp));
  let start = 0;
  for (const [, cps] of maps) (u32(start), (start += cps.length));
  u32(start);
  for (const [, cps] of maps) cps.forEach(u32);
  for (const [key] of pairs) (view.setBigUint64(at, key, true), (at += 8));
  pairs.forEach(([, c]) => u32(c));
  ranks.forEach(([cp]) => u32(cp));
  ranks.forEach(([, r]) => u32(r));
  return out;
}

/** [code point, rank] ascending by code point; ranks compare as the combining classes do. */
function rankMarks(marks: string[]): [number, number][] {
  // a before b when canonical reordering moves b in front of a: class(a) > class(b).
  const order = (a: string, b: string) => ((a + b).normalize("NFD") === b + a ? 1 : (b + a).normalize("NFD") === a + b ? -1 : 0);
  const sorted = marks.slice().sort(order);
  const ranked: [number, number][] = [];
  let rank = 1;
  sorted.forEach((m, i) => {
    if (i > 0 && order(sorted[i - 1], m) !== 0) rank++;
    ranked.push([m.codePointAt(0)!, rank]);
  });
  return ranked.sort((a, b) => a[0] - b[0]);
}
