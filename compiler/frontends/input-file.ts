/**
 * Input files read in pieces, at offsets. A checkpoint larger than seec holds while it builds
 * (STREAM_ABOVE_BYTES) keeps its tensors in the file: each is read when a pass asks for its values
 * (ir/graph.ts's DeferredData), and what the pass makes of it (int8 or 4-bit rows) is all that stays
 * in memory. So a 4.4 GB f32 checkpoint, past what one buffer or a wasm32 module holds, still builds
 * with --quantize int8 or q4, whose weights fit.
 */
import { closeSync, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { SeecError } from "../../runtime/errors.js";
import type { DeferredData } from "../ir/graph.js";

/** Inputs past this size are read tensor by tensor, when a pass reads them, instead of whole. */
export const STREAM_ABOVE_BYTES = 1024 ** 3;
/** Bytes one read call takes (readFile refuses files of 2 GiB or more, so every input is read in pieces). */
export const READ_CHUNK_BYTES = 64 * 1024 ** 2;

export class InputFile {
  private constructor(
    readonly path: string,
    readonly size: number,
    /** What the file is, for errors ("model"). */
    readonly what: string,
    /** Which file, as it was when seec first read it: a later read of one changed or replaced is refused. */
    private readonly identity: string,
  ) {}

  static async open(path: string, what: string): Promise<InputFile> {
    const s = await stat(path);
    return new InputFile(path, s.size, what, identityOf(s));
  }

  /** `length` bytes from `offset` (into the start of `into` where given). */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array {
    const bytes = into ? into.subarray(0, length) : new Uint8Array(length);
    let fd: number | undefined;
    try {
      fd = openSync(this.path, "r");
      const now = fstatSync(fd);
      if (identityOf(now) !== this.identity)
        throw new Error(
          now.size !== this.size
            ? `it changed while seec built from it (${this.size} bytes when read began, now ${now.size})`
            : "it changed while seec built from it (it was rewritten or replaced)",
        );
      for (let at = 0; at < length;) {
        const n = readSync(fd, bytes, at, Math.min(READ_CHUNK_BYTES, length - at), offset + at);
        if (n === 0) throw new Error(`it ended at byte ${offset + at}`);
        at += n;
      }
    } catch (e) {
      throw new SeecError("io.read", `cannot read the ${this.what}: ${(e as Error).message}`, { file: this.path, at: `byte ${offset}` });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return bytes;
  }

  /** `count` little-endian f32 values from `offset`, read from the file at each `read()`. */
  f32s(offset: number, count: number): DeferredData {
    return {
      length: count,
      read: () => new Float32Array(this.read(offset, count * 4).buffer),
      readRange: (from, n, into) => {
        const bytes = this.read(offset + from * 4, n * 4, into && new Uint8Array(into.buffer, into.byteOffset, into.byteLength));
        return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      },
    };
  }
}

/** A file's identity and version: its inode, size and last change (a rewrite or a rename over it changes one). */
function identityOf(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}
