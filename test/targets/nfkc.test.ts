// The WASI programs' NFKC (targets/wasm/drivers/nfkc.ts over nfkc-table.ts) must normalize as
// JavaScript's String.prototype.normalize("NFKC") does, which is what `seec run` tokenizes.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { packageFile } from "../../compiler/util/paths.js";
import { nfkcTable } from "../../targets/wasm/nfkc-table.js";

const HARNESS = `
import { NfkcTable, nfkc } from "./drivers/nfkc";
let t: NfkcTable | null = null;
export function normalize(table: usize, input: usize, n: i32, out: usize): i32 {
  if (!t) t = new NfkcTable(table);
  return nfkc(t!, input, n, out);
}
`;

type Normalize = (text: string) => string;

async function compileNormalizer(): Promise<Normalize> {
  const { default: asc } = await import("assemblyscript/asc");
  const result = await asc.compileString(
    { "harness.ts": HARNESS, "drivers/nfkc.ts": readFileSync(packageFile("targets/wasm/drivers/nfkc.ts"), "utf8") },
    { runtime: "stub", optimizeLevel: 2 },
  );
  if (result.error) throw new Error(result.stderr.toString());
  const { exports } = await WebAssembly.instantiate(await WebAssembly.compile(result.binary! as Uint8Array<ArrayBuffer>), {
    env: {
      abort: () => {
        throw new Error("abort");
      },
    },
  });
  const memory = exports.memory as WebAssembly.Memory;
  const normalize = exports.normalize as (table: number, input: number, n: number, out: number) => number;
  const table = nfkcTable();
  const base = memory.buffer.byteLength;
  memory.grow(Math.ceil((table.byteLength + (1 << 22)) / 65536));
  new Uint8Array(memory.buffer, base, table.byteLength).set(table);
  const input = base + table.byteLength + (-table.byteLength & 7);
  return (text) => {
    const cps = Uint32Array.from([...text], (c) => c.codePointAt(0)!);
    const output = input + cps.byteLength;
    new Uint32Array(memory.buffer, input, cps.length).set(cps);
    const m = normalize(base, input, cps.length, output);
    return String.fromCodePoint(...new Uint32Array(memory.buffer, output, m));
  };
}

describe("NFKC in a WASI program", () => {
  let normalize: Normalize;
  beforeAll(async () => {
    normalize = await compileNormalizer();
  });

  const expectSame = (texts: string[]) => {
    const wrong = texts.filter((t) => normalize(t) !== t.normalize("NFKC"));
    expect(wrong.slice(0, 5).map((t) => [t, normalize(t), t.normalize("NFKC")])).toEqual([]);
  };

  it("maps every code point as JavaScript does", () => {
    const all: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) if (cp < 0xd800 || cp > 0xdfff) all.push(String.fromCodePoint(cp));
    expectSame(all);
  });

  it("recomposes every canonical decomposition, and reorders and composes combining marks", () => {
    const decomposed: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const d = String.fromCodePoint(cp).normalize("NFD");
      if (d.length > 1) decomposed.push(d, `x${d}y`);
    }
    expectSame(decomposed);
    const marks = ["\u0301", "\u0308", "\u0327", "\u0323", "\u0345", "\u0334", "\u05b0", "\u0f71", "\u0f72", "\u3099", "\u0b3e"];
    const bases = ["a", "e", "o", "u", "ω", "Α", "ק", "ཀ", "か", "\u0b47", "\u1100", "\u1161", "\u11a8", "가", "ﬁ", "①"];
    let seed = 7;
    const pick = <T>(xs: T[]) => xs[(seed = (seed * 1103515245 + 12345) >>> 0) % xs.length];
    const random: string[] = [];
    for (let i = 0; i < 20000; i++)
      random.push(Array.from({ length: 1 + (i % 7) }, () => (i % 3 === 0 ? pick(bases) : pick([...marks, ...bases]))).join(""));
    expectSame(random);
  });

  it("leaves plain text alone and folds compatibility forms", () => {
    expectSame(["A man is playing a guitar.", "ｆｕｌｌ　ｗｉｄｔｈ", "ﬁne ½ ㎏ Ⅻ ①", "Ḱ̇ é", "한국어 텍스트", "\u1100\u1161\u11a8"]);
  });
});
