/**
 * GGUF files written byte by byte from ggml's docs/gguf.md, for the reader's tests: every value type
 * (seec's writer only writes u32, i32, f32, bool, string and arrays of string, f32, i32), any
 * version, nested or empty arrays, tensor infos with any rank, type and offset. Independent of
 * compiler/frontends/gguf/write.ts on purpose.
 */

/** gguf.md's gguf_metadata_value_type. */
export const VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;
export type ScalarType = Exclude<keyof typeof VALUE_TYPE, "array">;

/** A metadata value: a scalar of its type, or an array of elements of one type (of arrays too, which GGUF allows and seec refuses). */
export type MetaValue =
  { type: ScalarType; value: number | bigint | boolean | string } | { type: "array"; of: keyof typeof VALUE_TYPE; values: MetaValue[] };

export const scalar = (type: ScalarType, value: number | bigint | boolean | string): MetaValue => ({ type, value });
export const array = (of: keyof typeof VALUE_TYPE, values: (number | bigint | boolean | string | MetaValue)[]): MetaValue => ({
  type: "array",
  of,
  values: values.map((v) => (typeof v === "object" ? v : scalar(of as ScalarType, v))),
});

export interface TensorInfoOut {
  name: string;
  dims: (number | bigint)[];
  type: number;
  /** Relative to the data section; by default each tensor after the last, padded to the alignment. */
  offset?: number | bigint;
  data: Uint8Array;
}

export class Bytes {
  private parts: number[] = [];
  get length(): number {
    return this.parts.length;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]);
    return this;
  }
  private view(size: number, set: (v: DataView) => void): this {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    return this.raw(b);
  }
  u8 = (v: number) => this.view(1, (d) => d.setUint8(0, v));
  i8 = (v: number) => this.view(1, (d) => d.setInt8(0, v));
  u16 = (v: number) => this.view(2, (d) => d.setUint16(0, v, true));
  i16 = (v: number) => this.view(2, (d) => d.setInt16(0, v, true));
  u32 = (v: number) => this.view(4, (d) => d.setUint32(0, v, true));
  i32 = (v: number) => this.view(4, (d) => d.setInt32(0, v, true));
  f32 = (v: number) => this.view(4, (d) => d.setFloat32(0, v, true));
  f64 = (v: number) => this.view(8, (d) => d.setFloat64(0, v, true));
  u64 = (v: number | bigint) => this.view(8, (d) => d.setBigUint64(0, BigInt(v), true));
  i64 = (v: number | bigint) => this.view(8, (d) => d.setBigInt64(0, BigInt(v), true));
  str = (s: string | Uint8Array) => {
    const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
    return this.u64(b.length).raw(b);
  };
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** A metadata value's bytes after its type id: an array's element type, count and elements. */
export function writeValue(b: Bytes, v: MetaValue): void {
  if (v.type === "array") {
    b.u32(VALUE_TYPE[v.of]).u64(v.values.length);
    for (const e of v.values) writeValue(b, e);
    return;
  }
  const x = v.value;
  if (v.type === "string") b.str(x as string);
  else if (v.type === "bool") b.u8(x ? 1 : 0);
  else if (v.type === "u64" || v.type === "i64") b[v.type](x as bigint);
  else b[v.type](x as number);
}

/** A whole GGUF file: header, metadata, tensor infos, padding to `alignment`, the tensors' data (each padded). */
export function ggufBytes(opts: {
  version?: number;
  meta?: [string, MetaValue][];
  tensors?: TensorInfoOut[];
  alignment?: number;
  /** Counts as written in the header, where a test wants them to lie. */
  tensorCount?: bigint;
  kvCount?: bigint;
}): Uint8Array {
  const { version = 3, meta = [], tensors = [], alignment = 32 } = opts;
  const b = new Bytes().raw(new TextEncoder().encode("GGUF")).u32(version);
  b.u64(opts.tensorCount ?? BigInt(tensors.length)).u64(opts.kvCount ?? BigInt(meta.length));
  for (const [key, v] of meta) {
    b.str(key).u32(VALUE_TYPE[v.type]);
    writeValue(b, v);
  }
  const pad = (n: number) => Math.ceil(n / alignment) * alignment;
  let next = 0;
  for (const t of tensors) {
    b.str(t.name).u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type).u64(t.offset ?? next);
    next = pad(next + t.data.length);
  }
  b.raw(new Uint8Array(pad(b.length) - b.length));
  for (const t of tensors) b.raw(t.data).raw(new Uint8Array(pad(t.data.length) - t.data.length));
  return b.done();
}

/** f32 values as little-endian bytes. */
export function f32le(values: ArrayLike<number>): Uint8Array {
  const b = new Bytes();
  for (let i = 0; i < values.length; i++) b.f32(values[i]);
  return b.done();
}
