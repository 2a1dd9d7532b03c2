// llama2.c's tokenizer file and BPE: the real tok512.bin.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { catchSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

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
