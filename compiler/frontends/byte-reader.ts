/** Bounds-checked little-endian reads: a truncated file is an error naming the byte offset, never a RangeError. */
import { SeecError } from "../../runtime/errors.js";
import type { DeferredData } from "../ir/graph.js";
import type { InputFile } from "./input-file.js";

export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  /**
   * `bytes`: the whole file; or, with `source`, its first bytes (its header), the rest left in the
   * file for `f32Tensor` to defer.
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    private readonly source?: InputFile,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return (this.source?.size ?? this.bytes.byteLength) - this.offset;
  }

  /**
   * `count` f32 values, as f32s reads them; past the bytes in memory (a file read with a source),
   * where to read them from the file instead.
   */
  f32Tensor(count: number, what: string): Float32Array | DeferredData {
    if (!this.source || this.offset + count * 4 <= this.bytes.byteLength) return this.f32s(count, what);
    this.need(count * 4, what, true);
    const deferred = this.source.f32s(this.offset, count);
    this.offset += count * 4;
    return deferred;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.offset, true);
    this.offset += 4;
    return v;
  }

  bytesOf(length: number, what: string): Uint8Array {
    this.need(length, what);
    const b = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return b;
  }

  /**
   * `count` little-endian f32 values: a view of the source where it is 4-byte aligned, so that a
   * checkpoint of several GiB is not held twice while it builds (readers never write to weights);
   * a copy where it is not.
   */
  f32s(count: number, what: string): Float32Array {
    const raw = this.bytesOf(count * 4, what);
    if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, count);
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(raw);
    return out;
  }

  skip(length: number, what: string): void {
    this.need(length, what, true);
    this.offset += length;
  }

  /** `length` more bytes of the file: in memory, unless `deferred` (f32Tensor reads them later). */
  private need(length: number, what: string, deferred = false): void {
    if (!deferred && this.source && this.offset + length > this.bytes.byteLength && length <= this.remaining)
      throw new SeecError("internal.read", `${what} lies past the ${this.bytes.byteLength} bytes read into memory`, { file: this.file });
    if (length > this.remaining)
      throw new SeecError("input.truncated", `file ends inside ${what}: needs ${length} bytes, ${this.remaining} left`, {
        file: this.file,
        at: `byte ${this.offset}`,
        hint: "the file is truncated or is not in the format expected",
      });
  }
}
