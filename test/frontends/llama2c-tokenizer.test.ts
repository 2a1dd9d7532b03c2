// llama2.c's tokenizer file and BPE: the real tok512.bin.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { catchSeec } from "../helpers/errors.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";

const RUN_C = sharedPath("rivals/llama2c/run.c");
const GCC = spawnSync("sh", ["-c", "command -v gcc"]).status === 0;
if (!GCC) console.warn("skipping the llama2.c encode() oracle: needs gcc");

describe.skipIf(!LLAMA2C)("llama2.c tokenizer (tok512.bin)", () => {
  const bytes = LLAMA2C ? new Uint8Array(readFileSync(LLAMA2C.tokenizer)) : new Uint8Array();
  const spec = LLAMA2C ? readLlama2cTokenizer(bytes, "tok512.bin", 512) : undefined;
  const tok = spec ? new Llama2cTokenizer(spec) : undefined;

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

  it("encodes the empty prompt as BOS alone", () => {
    expect(tok!.encode("")).toEqual([1]);
  });

  it("refuses a tokenizer with more tokens than the model", () => {
    const e = catchSeec(() => readLlama2cTokenizer(bytes, "tok512.bin", 500));
    expect(e.code).toBe("mismatch.tokenizer");
  });

  it("refuses a tokenizer with fewer tokens than the model, naming where it ends", () => {
    const e = catchSeec(() => readLlama2cTokenizer(bytes, "tok512.bin", 600));
    expect(e.code).toBe("input.truncated");
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
