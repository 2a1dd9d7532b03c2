/** Bounds-checked little-endian reads: a truncated file is an error naming the byte offset, never a RangeError. */
import { SeecError } from "../../runtime/errors.js";

export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
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
    this.need(length, what);
    this.offset += length;
  }

  private need(length: number, what: string): void {
    if (length > this.remaining)
      throw new SeecError("input.truncated", `file ends inside ${what}: needs ${length} bytes, ${this.remaining} left`, {
        file: this.file,
        at: `byte ${this.offset}`,
        hint: "the file is truncated or is not in the format expected",
      });
  }
}
