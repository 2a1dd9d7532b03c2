/** Writes a GGUF version-3 file: header, typed metadata, tensor infos, then aligned tensor data. */

export type GgufEntry =
  | { type: "u32" | "i32" | "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; of: "string"; value: string[] }
  | { type: "array"; of: "f32" | "i32"; value: number[] };

export interface GgufTensorOut {
  name: string;
  /** Innermost first (ggml's ne): a PyTorch [out, in] matrix is written as [in, out]. */
  dims: number[];
  type: number;
  data: Uint8Array;
}

const TYPE_IDS = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;

export function writeGguf(metadata: [string, GgufEntry][], tensors: GgufTensorOut[], alignment = 32): Uint8Array {
  const meta: [string, GgufEntry][] = alignment === 32 ? metadata : [...metadata, ["general.alignment", { type: "u32", value: alignment }]];
  const w = new Writer();
  w.bytes(new TextEncoder().encode("GGUF"));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(meta.length);
  for (const [key, entry] of meta) {
    w.string(key);
    w.u32(TYPE_IDS[entry.type]);
    if (entry.type === "array") {
      w.u32(TYPE_IDS[entry.of]);
      w.u64(entry.value.length);
      for (const v of entry.value) w.scalar(entry.of, v);
    } else w.scalar(entry.type, entry.value);
  }
  const pad = (n: number) => Math.ceil(n / alignment) * alignment;
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset = pad(offset + t.data.length);
  }
  w.bytes(new Uint8Array(pad(w.length) - w.length));
  for (const t of tensors) {
    w.bytes(t.data);
    w.bytes(new Uint8Array(pad(t.data.length) - t.data.length));
  }
  return w.finish();
}

/** A growable little-endian byte buffer. */
class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  private fixed(size: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    this.bytes(b);
  }

  u32(v: number): void {
    this.fixed(4, (d) => d.setUint32(0, v, true));
  }

  u64(v: number): void {
    this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }

  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  scalar(type: "u32" | "i32" | "f32" | "bool" | "string", v: number | boolean | string): void {
    if (type === "string") this.string(v as string);
    else if (type === "bool") this.bytes(Uint8Array.of(v ? 1 : 0));
    else if (type === "u32") this.u32(v as number);
    else this.fixed(4, (d) => (type === "i32" ? d.setInt32(0, v as number, true) : d.setFloat32(0, v as number, true)));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
