// InputFile: reads at offsets, in chunks, into a given buffer; a file that ends early, disappears or
// changes after it was opened is an io.read error naming it; no read leaves a descriptor open.
import {
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readdirSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputFile, READ_CHUNK_BYTES } from "../../compiler/frontends/input-file.js";
import { catchSeec } from "../helpers/errors.js";

const FDS = "/proc/self/fd";

describe("InputFile", () => {
  let dir: string, path: string;
  const values = Float32Array.from({ length: 10 }, (_, i) => i * 1.5 - 4);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "seec-test-"));
    path = join(dir, "m.bin");
    writeFileSync(path, new Uint8Array(values.buffer));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const error = (f: () => unknown) => {
    const e = catchSeec(f);
    return { code: e.code, message: e.message, file: e.file, at: e.at };
  };

  it("reads bytes at an offset, into the start of a buffer where given", async () => {
    const input = await InputFile.open(path, "model");
    expect([input.path, input.size, input.what]).toEqual([path, 40, "model"]);
    expect([...input.read(4, 8)]).toEqual([...new Uint8Array(values.buffer, 4, 8)]);
    const into = new Uint8Array(16).fill(7);
    const got = input.read(36, 4, into);
    expect(got.buffer).toBe(into.buffer);
    expect([...into]).toEqual([...new Uint8Array(values.buffer, 36, 4), ...Array(12).fill(7)]);
  });

  it("gives f32 values from an offset: all of them, or a range, into a given array", async () => {
    const input = await InputFile.open(path, "model");
    const d = input.f32s(8, 6); // values 2..7
    expect(d.length).toBe(6);
    expect([...d.read()]).toEqual([...values.subarray(2, 8)]);
    expect([...d.readRange!(2, 3)]).toEqual([...values.subarray(4, 7)]);
    const into = new Float32Array(5);
    const got = d.readRange!(1, 2, into);
    expect(got.buffer).toBe(into.buffer);
    expect([...into]).toEqual([values[3], values[4], 0, 0, 0]);
  });

  it("says where a file ends when a read goes past it", async () => {
    const input = await InputFile.open(path, "model");
    expect(error(() => input.read(36, 8))).toEqual({
      code: "io.read",
      message: "cannot read the model: it ended at byte 40",
      file: path,
      at: "byte 36",
    });
  });

  it("refuses a file that changed size, or was replaced, after it was opened; and one that is gone", async () => {
    const input = await InputFile.open(path, "tokenizer");
    writeFileSync(path, new Uint8Array(44));
    expect(error(() => input.read(0, 4))).toEqual({
      code: "io.read",
      message: "cannot read the tokenizer: it changed while seec built from it (40 bytes when read began, now 44)",
      file: path,
      at: "byte 0",
    });
    const again = await InputFile.open(path, "model");
    writeFileSync(join(dir, "other.bin"), new Uint8Array(44));
    renameSync(join(dir, "other.bin"), path); // the same size, another file
    expect(error(() => again.read(8, 4))).toEqual({
      code: "io.read",
      message: "cannot read the model: it changed while seec built from it (it was rewritten or replaced)",
      file: path,
      at: "byte 8",
    });
    rmSync(path);
    const gone = error(() => again.read(0, 4));
    expect([gone.code, gone.file, gone.at]).toEqual(["io.read", path, "byte 0"]);
    expect(gone.message).toMatch(/^cannot read the model: ENOENT/);
  });

  it("reads past READ_CHUNK_BYTES in pieces, each from its own offset", async () => {
    // A sparse file one chunk and 12 bytes long, with markers at its start, across the chunk's end, and at its end.
    const big = join(dir, "big.bin");
    writeFileSync(big, Uint8Array.of(1, 2, 3, 4));
    truncateSync(big, READ_CHUNK_BYTES + 12);
    const fd = openSync(big, "r+");
    writeSync(fd, Uint8Array.of(5, 6, 7, 8), 0, 4, READ_CHUNK_BYTES - 2);
    writeSync(fd, Uint8Array.of(9, 10, 11, 12), 0, 4, READ_CHUNK_BYTES + 8);
    closeSync(fd);
    const input = await InputFile.open(big, "model");
    const all = input.read(0, READ_CHUNK_BYTES + 12);
    expect([...all.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    expect([...all.subarray(READ_CHUNK_BYTES - 4, READ_CHUNK_BYTES + 12)]).toEqual([0, 0, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 9, 10, 11, 12]);
    const tail = input.read(2, READ_CHUNK_BYTES + 10);
    expect([...tail.subarray(READ_CHUNK_BYTES - 6, READ_CHUNK_BYTES + 10)]).toEqual([0, 0, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 9, 10, 11, 12]);
  });

  it.skipIf(!existsSync(FDS))("closes its descriptor after every read, failed or not (counted in /proc/self/fd)", async () => {
    const input = await InputFile.open(path, "model");
    const before = readdirSync(FDS).length;
    for (let i = 0; i < 20; i++) input.read(0, 40);
    for (let i = 0; i < 20; i++) catchSeec(() => input.read(36, 8));
    expect(readdirSync(FDS).length).toBe(before);
  });
});
