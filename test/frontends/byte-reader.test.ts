// ByteReader: little-endian reads that name what a short file ends in, f32 views where aligned and
// copies where not, and (with the file as its source) tensors past the header left in the file.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ByteReader } from "../../compiler/frontends/byte-reader.js";
import { InputFile } from "../../compiler/frontends/input-file.js";
import type { DeferredData } from "../../compiler/ir/graph.js";
import { catchSeec } from "../helpers/errors.js";

/** Bytes holding `values` as little-endian f32, written by DataView (not by the reader under test). */
function f32Bytes(values: number[], pad = 0): Uint8Array {
  const out = new Uint8Array(pad + 4 * values.length);
  values.forEach((v, i) => new DataView(out.buffer).setFloat32(pad + 4 * i, v, true));
  return out;
}

describe("ByteReader over bytes in memory", () => {
  it("reads i32, u32, f32 and bytes little-endian, each from where the last ended", () => {
    const b = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xc0, 0x3f, 0x01, 0x02, 0x03, 0x04, 0x05);
    const r = new ByteReader(b, "f.bin");
    expect(r.remaining).toBe(17);
    expect(r.i32("a")).toBe(-1);
    expect(r.u32("b")).toBe(4294967295);
    expect(r.f32("c")).toBe(1.5);
    expect([...r.bytesOf(3, "d")]).toEqual([1, 2, 3]);
    expect([r.offset, r.remaining]).toEqual([15, 2]);
    r.skip(2, "e");
    expect([r.offset, r.remaining]).toEqual([17, 0]);
    expect([...r.bytesOf(0, "nothing")]).toEqual([]);
  });

  it("names what a short file ends in, how much it needed and had, at the offset, for every kind of read", () => {
    const r = new ByteReader(new Uint8Array(6), "short.bin");
    r.offset = 3;
    const reads: [string, () => unknown, number][] = [
      ["an i32", () => r.i32("an i32"), 4],
      ["a u32", () => r.u32("a u32"), 4],
      ["an f32", () => r.f32("an f32"), 4],
      ["four bytes", () => r.bytesOf(4, "four bytes"), 4],
      ["two floats", () => r.f32s(2, "two floats"), 8],
      ["a skip", () => r.skip(5, "a skip"), 5],
      ["a tensor", () => r.f32Tensor(1, "a tensor"), 4],
    ];
    for (const [what, read, need] of reads) {
      const e = catchSeec(read);
      expect({ code: e.code, message: e.message, file: e.file, at: e.at, hint: e.hint }).toEqual({
        code: "input.truncated",
        message: `file ends inside ${what}: needs ${need} bytes, 3 left`,
        file: "short.bin",
        at: "byte 3",
        hint: "the file is truncated or is not in the format expected",
      });
      expect(r.offset).toBe(3);
    }
    expect([...r.bytesOf(3, "the rest")]).toEqual([0, 0, 0]);
  });

  it("reads f32s as a view of the bytes where they are 4-byte aligned, and as a copy where not", () => {
    const aligned = f32Bytes([1, -2.5, 3e-8, 7]);
    const r = new ByteReader(aligned, "a.bin");
    r.offset = 4;
    const view = r.f32s(2, "two");
    expect([...view]).toEqual([-2.5, Math.fround(3e-8)]);
    expect([view.buffer, view.byteOffset]).toEqual([aligned.buffer, 4]);
    expect(r.offset).toBe(12);
    // The same floats one byte into their buffer: every offset is odd, so each read is a copy.
    const odd = f32Bytes([1, -2.5, 3e-8, 7], 1).subarray(1);
    const c = new ByteReader(odd, "odd.bin");
    c.offset = 4;
    const copy = c.f32s(3, "three");
    expect([...copy]).toEqual([-2.5, Math.fround(3e-8), 7]);
    expect(copy.buffer).not.toBe(odd.buffer);
    expect(copy.byteOffset).toBe(0);
    expect(c.remaining).toBe(0);
    // Without a source, f32Tensor is f32s.
    expect(new ByteReader(aligned, "a.bin").f32Tensor(4, "all")).toEqual(Float32Array.of(1, -2.5, 3e-8, 7));
  });
});

describe("ByteReader over a file's header, the rest left in the file", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "seec-test-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A 40-byte file of the f32 values 0..9, and a reader holding its first 16 bytes in memory. */
  async function opened(): Promise<ByteReader> {
    const path = join(dir, "m.bin");
    const values = Array.from({ length: 10 }, (_, i) => i);
    writeFileSync(path, f32Bytes(values));
    const input = await InputFile.open(path, "model");
    return new ByteReader(input.read(0, 16), path, input);
  }

  it("counts what remains in the file, not in the header", async () => {
    const r = await opened();
    expect(r.remaining).toBe(40);
    r.offset = 12;
    expect(r.remaining).toBe(28);
  });

  it("reads a tensor that ends inside the header from memory, and one that goes past it from the file", async () => {
    const r = await opened();
    r.offset = 4;
    const inMemory = r.f32Tensor(3, "ends at byte 16"); // exactly the header's end
    expect(inMemory).toBeInstanceOf(Float32Array);
    expect([...(inMemory as Float32Array)]).toEqual([1, 2, 3]);
    expect(r.offset).toBe(16);
    r.offset = 8;
    const deferred = r.f32Tensor(5, "bytes 8 to 28") as DeferredData;
    expect(deferred).not.toBeInstanceOf(Float32Array);
    expect(deferred.length).toBe(5);
    expect(r.offset).toBe(28);
    expect([...deferred.read()]).toEqual([2, 3, 4, 5, 6]);
    expect([...deferred.readRange!(1, 3)]).toEqual([3, 4, 5]);
    // The last three floats, to the file's end: deferred too; one more is past the file.
    expect([...(r.f32Tensor(3, "the rest") as DeferredData).read()]).toEqual([7, 8, 9]);
    expect(r.remaining).toBe(0);
    const e = catchSeec(() => r.f32Tensor(1, "one too many"));
    expect([e.code, e.message, e.at]).toEqual(["input.truncated", "file ends inside one too many: needs 4 bytes, 0 left", "byte 40"]);
  });

  it("skips past the header within the file, and refuses a skip past the file's end", async () => {
    const r = await opened();
    r.skip(36, "most of it");
    expect(r.remaining).toBe(4);
    const e = catchSeec(() => r.skip(8, "too far"));
    expect([e.code, e.message, e.at]).toEqual(["input.truncated", "file ends inside too far: needs 8 bytes, 4 left", "byte 36"]);
  });

  it("calls a plain read past the header but inside the file seec's bug, and one past the file a truncation", async () => {
    const r = await opened();
    r.offset = 12;
    expect(r.i32("the header's last int")).toBe(new DataView(f32Bytes([3]).buffer).getInt32(0, true));
    const past = catchSeec(() => r.u32("a field"));
    expect({ code: past.code, message: past.message, file: past.file, at: past.at }).toEqual({
      code: "internal.read",
      message: "a field lies past the 16 bytes read into memory",
      file: join(dir, "m.bin"),
      at: undefined,
    });
    r.offset = 36; // the file's last 4 bytes: inside the file, outside the header
    expect(catchSeec(() => r.f32("the last float")).code).toBe("internal.read");
    expect(catchSeec(() => r.bytesOf(5, "five bytes")).code).toBe("input.truncated");
  });
});
