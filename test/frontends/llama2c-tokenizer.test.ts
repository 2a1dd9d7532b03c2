// llama2.c's tokenizer file and BPE: the real tok512.bin.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { catchSeec } from "../helpers/errors.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";

const RUN_C = sharedPath("rivals/llama2c/run.c");
const GCC = spawnSync("sh", ["-c", "command -v gcc"]).status === 0;
if (!GCC) console.warn("skipping the llama2.c encode() oracle: needs gcc");

describe.skipIf(!LLAMA2C)("llama2.c tokenizer (tok512.bin)", () => {
  const bytes = LLAMA2C ? new Uint8Array(readFileSync(LLAMA2C.tokenizer)) : new Uint8Array();
  // Read in each test, not when the describe is collected, so that Stryker's mutants of the reader are active.
  let spec: ReturnType<typeof readLlama2cTokenizer> | undefined, tok: Llama2cTokenizer | undefined;
  beforeEach(() => {
    spec = readLlama2cTokenizer(bytes, "tok512.bin", 512);
    tok = new Llama2cTokenizer(spec);
  });

  it("holds 512 pieces with byte-fallback tokens at ids 3..258", () => {
    expect(spec!.pieces.length).toBe(512);
    expect(spec!.pieces[3]).toBe("<0x00>");
    expect(spec!.pieces[3 + 0x0a]).toBe("<0x0A>");
    expect(spec!.pieces[258]).toBe("<0xFF>");
  });

  it("encodes with BOS and a dummy-prefix space, merging by score, and decodes back", () => {
    const ids = tok!.encode("Once upon a time");
    expect(ids[0]).toBe(1);
    expect(ids.length).toBeLessThan(1 + "Once upon a time".length);
    expect(ids.slice(1).every((id) => id > 258)).toBe(true); // all merged pieces, no byte fallback
    expect(tok!.decode(ids.slice(1))).toBe("Once upon a time");
  });

  it("falls back to UTF-8 bytes for characters without a piece, and decodes them", () => {
    const ids = tok!.encode("café\nnaïve ☃");
    expect(ids).toContain(3 + 0x0a); // the newline as <0x0A>
    expect(ids.some((id) => id >= 3 + 0x80 && id <= 258)).toBe(true);
    expect(tok!.decode(ids.slice(1))).toBe("café\nnaïve ☃");
  });

  it("merges as llama2.c's loop that rescans every pair after each merge, and long texts in linear-ish time", () => {
    /** run.c's encode(): the best-scoring pair (leftmost of equals, above -1e10) merged, then every pair scanned again. */
    const rescanning = (text: string): number[] => {
      const ids = new Map<string, number>();
      spec!.pieces.forEach((p, i) => ids.has(p) || ids.set(p, i));
      const tokens = [1, ids.get(" ")!];
      for (const ch of text) {
        const id = ids.get(ch);
        if (id !== undefined) tokens.push(id);
        else for (const b of new TextEncoder().encode(ch)) tokens.push(b + 3);
      }
      for (;;) {
        let [best, bestId, bestAt] = [-1e10, -1, -1];
        for (let i = 0; i + 1 < tokens.length; i++) {
          const id = ids.get(spec!.pieces[tokens[i]] + spec!.pieces[tokens[i + 1]]);
          if (id !== undefined && spec!.scores[id] > best) [best, bestId, bestAt] = [spec!.scores[id], id, i];
        }
        if (bestAt < 0) return tokens;
        tokens.splice(bestAt, 2, bestId);
      }
    };
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = "aaabcdeeeefghiiijklmnoooprssstttuuvwyz  .,'!?\nAILTé☃";
    for (let n = 0; n < 300; n++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 60) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
      expect(tok!.encode(text), JSON.stringify(text)).toEqual(rescanning(text));
    }
    const story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ";
    expect(tok!.encode(story.repeat(3))).toEqual(rescanning(story.repeat(3)));
    // 68 KB in one paragraph: the rescanning loop took a minute here.
    const t0 = performance.now();
    const long = tok!.encode(story.repeat(700));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(tok!.decode(long.slice(1))).toBe(story.repeat(700));
  });

  it("encodes the empty prompt as BOS alone", () => {
    expect(tok!.encode("")).toEqual([1]);
  });

  it("refuses a tokenizer with more tokens than the model", () => {
    const e = catchSeec(() => readLlama2cTokenizer(bytes, "tok512.bin", 500));
    expect(e.code).toBe("mismatch.tokenizer");
  });

  it("refuses a tokenizer with fewer tokens than the model, naming where it ends (a whole token short: another model's)", () => {
    const e = catchSeec(() => readLlama2cTokenizer(bytes, "tok512.bin", 600));
    expect([e.code, e.message]).toEqual(["mismatch.tokenizer", "the tokenizer ends after 512 tokens; the model has 600"]);
    expect(e.at).toBe(`byte ${bytes.length}`);
  });
});

// The ids themselves, not just round trips: llama2.c's own encode() from run.c, compiled into a
// small harness, is the oracle. A BPE that merges the wrong pair (the leftmost instead of the
// best-scoring) still decodes back to the same text, so only exact ids catch it.
describe.skipIf(!LLAMA2C || !RUN_C || !GCC)("llama2.c tokenizer ids against run.c's encode()", () => {
  let work: string, harness: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "seec-test-"));
    const source = join(work, "harness.c");
    writeFileSync(
      source,
      `#define main llama2c_main
#include ${JSON.stringify(RUN_C)}
#undef main
int main(int argc, char **argv) {
  Tokenizer t;
  build_tokenizer(&t, argv[1], atoi(argv[2]));
  for (int a = 3; a < argc; a++) {
    int *tokens = malloc((strlen(argv[a]) + 3) * sizeof(int)), n = 0;
    encode(&t, argv[a], 1, 0, tokens, &n);
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", tokens[i]);
    printf("\\n");
    free(tokens);
  }
  free_tokenizer(&t);
  return 0;
}
`,
    );
    harness = join(work, "harness");
    execFileSync("gcc", ["-O1", "-w", "-o", harness, source, "-lm"], { stdio: "pipe" });
  });

  afterAll(() => {
    if (work && existsSync(work)) rmSync(work, { recursive: true, force: true });
  });

  const texts = [
    "The cat sat on the mat.",
    "Once upon a time, there was a little girl named Lily. She loved to play outside!",
    "Hello, world!? (yes) -- no; maybe: 'quoted' \"double\" [x] {y} <z> a/b\\c",
    "0123456789 3.14159 1,000,000 42nd 2024-01-01",
    "café naïve résumé Ünïcödé ☃ 日本語 😀 e\u0301",
    "\tTabs\nand\nnewlines\r\n  double  spaces   ",
    "",
    " ",
    "a",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "thethethethethe bananas banana anana nanananana",
    "It's what they're doing: wouldn't've, y'all. HELLO THERE. MiXeD CaSe",
  ];

  it("gives exactly run.c's ids on varied text (punctuation, digits, unicode, empty, long words)", () => {
    const bytes = new Uint8Array(readFileSync(LLAMA2C!.tokenizer));
    const tok = new Llama2cTokenizer(readLlama2cTokenizer(bytes, "tok512.bin", 512));
    const out = execFileSync(harness, [LLAMA2C!.tokenizer, "512", ...texts], { encoding: "utf8" });
    const expected = out
      .split("\n")
      .slice(0, texts.length)
      .map((line) => line.split(" ").map(Number));
    expect(expected.length).toBe(texts.length);
    texts.forEach((text, i) => expect(tok.encode(text), JSON.stringify(text)).toEqual(expected[i]));
  });
});

/** A llama2.c tokenizer file: int32 max_token_length, then per token f32 score, int32 byte length, the bytes. */
function tokenizerFile(maxLen: number, tokens: [score: number, bytes: Uint8Array | string, len?: number][]): Uint8Array {
  const parts = tokens.map(([score, b, len]) => {
    const raw = typeof b === "string" ? new TextEncoder().encode(b) : b;
    const out = new Uint8Array(8 + raw.length);
    new DataView(out.buffer).setFloat32(0, score, true);
    new DataView(out.buffer).setInt32(4, len ?? raw.length, true);
    out.set(raw, 8);
    return out;
  });
  const file = new Uint8Array(4 + parts.reduce((n, p) => n + p.length, 0));
  new DataView(file.buffer).setInt32(0, maxLen, true);
  let at = 4;
  for (const p of parts) file.set(p, (at += p.length) - p.length);
  return file;
}

describe("reading llama2.c tokenizer files", () => {
  it.skipIf(!LLAMA2C)("reads tok512.bin's every piece and score, as the file lays them out", () => {
    const bytes = new Uint8Array(readFileSync(LLAMA2C!.tokenizer));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const pieces: string[] = [],
      scores: number[] = [];
    let at = 4;
    for (let i = 0; i < 512; i++) {
      scores.push(view.getFloat32(at, true));
      const len = view.getInt32(at + 4, true);
      pieces.push(Buffer.from(bytes.subarray(at + 8, at + 8 + len)).toString("utf8"));
      at += 8 + len;
    }
    expect(at).toBe(bytes.length);
    expect(readLlama2cTokenizer(bytes, "tok512.bin", 512)).toEqual({ type: "llama2c-bpe", pieces, scores, bosId: 1, eosId: 2 });
    expect(pieces.slice(0, 4)).toEqual(["<unk>", "\n<s>\n", "\n</s>\n", "<0x00>"]);
  });

  it("reads pieces of 0 to max_token_length bytes, UTF-8 decoded, for max_token_length 1 to 1024", () => {
    expect(
      readLlama2cTokenizer(
        tokenizerFile(1, [
          [0, ""],
          [-1.5, "a"],
        ]),
        "t.bin",
        2,
      ),
    ).toEqual({
      type: "llama2c-bpe",
      pieces: ["", "a"],
      scores: [0, -1.5],
      bosId: 1,
      eosId: 2,
    });
    const long = "é".repeat(512); // 1024 bytes
    expect(
      readLlama2cTokenizer(
        tokenizerFile(1024, [
          [2, long],
          [3, "☃"],
        ]),
        "t.bin",
        2,
      ).pieces,
    ).toEqual([long, "☃"]);
  });

  const refuse = (file: Uint8Array, vocab: number) => {
    const e = catchSeec(() => readLlama2cTokenizer(file, "t.bin", vocab));
    return { code: e.code, message: e.message, file: e.file, at: e.at, hint: e.hint };
  };

  it.each([0, -1, 1025])("refuses max_token_length %i at byte 0", (maxLen) => {
    expect(refuse(tokenizerFile(maxLen, [[0, ""]]), 1)).toEqual({
      code: "input.tokenizer",
      message: `max_token_length ${maxLen} is out of range [1, 1024]`,
      file: "t.bin",
      at: "byte 0",
      hint: "is this a llama2.c tokenizer file?",
    });
  });

  it("refuses a token longer than max_token_length, of negative length, or with a score that is not finite, at the token", () => {
    // Token 1 starts at byte 4 + 8 + 2 = 14.
    const bad = (len: number | undefined, score = 0, piece = "xyz") =>
      refuse(
        tokenizerFile(3, [
          [0, "ab"],
          [score, piece, len],
          [0, "c"],
        ]),
        3,
      );
    const at = { code: "input.tokenizer", file: "t.bin", at: "byte 14", hint: undefined };
    expect(bad(undefined, 0, "wxyz")).toEqual({ ...at, message: "token 1 has length 4 (max_token_length is 3)" });
    expect(bad(-1)).toEqual({ ...at, message: "token 1 has length -1 (max_token_length is 3)" });
    expect(bad(undefined, NaN)).toEqual({ ...at, message: "token 1 has score NaN" });
    expect(bad(undefined, -Infinity)).toEqual({ ...at, message: "token 1 has score -Infinity" });
    expect(
      readLlama2cTokenizer(
        tokenizerFile(3, [
          [0, "ab"],
          [0, "xyz"],
          [0, ""],
        ]),
        "t.bin",
        3,
      ).pieces,
    ).toEqual(["ab", "xyz", ""]);
  });

  it("refuses a piece that is not UTF-8, at its bytes", () => {
    expect(
      refuse(
        tokenizerFile(4, [
          [0, "ab"],
          [0, Uint8Array.of(0x61, 0xff)],
        ]),
        2,
      ),
    ).toEqual({
      code: "input.tokenizer",
      message: "token 1 is not valid UTF-8",
      file: "t.bin",
      at: "byte 22",
      hint: undefined,
    });
  });

  it("names what a truncated file ends in: a score, a length, or a piece's bytes (not a UTF-8 error)", () => {
    const file = tokenizerFile(4, [
      [0, "ab"],
      [1, "cdef"],
    ]); // token 1 at byte 14: score, length at 18, bytes at 22
    const cut = (n: number) => refuse(file.subarray(0, n), 2);
    expect(cut(2)).toMatchObject({
      code: "input.truncated",
      message: "file ends inside max_token_length: needs 4 bytes, 2 left",
      at: "byte 0",
    });
    expect(cut(16)).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the score of token 1: needs 4 bytes, 2 left",
      at: "byte 14",
    });
    expect(cut(20)).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the length of token 1: needs 4 bytes, 2 left",
      at: "byte 18",
    });
    expect(cut(24)).toMatchObject({
      code: "input.truncated",
      message: "file ends inside the bytes of token 1: needs 4 bytes, 2 left",
      at: "byte 22",
    });
  });

  it("refuses a file holding more tokens than the model's vocabulary, saying where they start", () => {
    expect(
      refuse(
        tokenizerFile(4, [
          [0, "ab"],
          [1, "cdef"],
          [2, "g"],
        ]),
        2,
      ),
    ).toEqual({
      code: "mismatch.tokenizer",
      message: "the tokenizer holds more than the model's 2 tokens (9 bytes left)",
      file: "t.bin",
      at: "byte 26",
      hint: "this tokenizer belongs to another model",
    });
  });
});
