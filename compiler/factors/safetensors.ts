/**
 * safetensors (Hugging Face): 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. Only what SEE needs:
 * F32, I32, and U16 and U8 for compact indices. Every size is checked against the file before
 * anything is allocated.
 */
import { SeecError } from "../../runtime/errors.js";

export type StDType = "F32" | "I32" | "U16" | "U8";
export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: Float32Array | Int32Array | Uint16Array | Uint8Array;
}

const ARRAYS = { F32: Float32Array, I32: Int32Array, U16: Uint16Array, U8: Uint8Array } as const;

const MAX_HEADER = 16 * 1024 * 1024;

export function readSafetensors(bytes: Uint8Array, file: string): { metadata: Record<string, string>; tensors: Map<string, StTensor> } {
  const bad = (msg: string, at: string): never => {
    throw new SeecError("input.safetensors", msg, { file, at, hint: "the file is truncated or not a safetensors file" });
  };
  if (bytes.byteLength < 8) bad(`the file has ${bytes.byteLength} bytes, fewer than the 8-byte header length`, "byte 0");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || headerLength > bytes.byteLength - 8)
    bad(`the header claims ${headerLength} bytes; the file has ${bytes.byteLength - 8} after the length`, "byte 0");
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    return bad(`the header is not valid JSON: ${(e as Error).message}`, "byte 8");
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) bad("the header is not a JSON object", "byte 8");
  const dataStart = 8 + headerLength;
  const dataBytes = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, StTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    const isObject = typeof entry === "object" && entry !== null && !Array.isArray(entry);
    if (name === "__metadata__") {
      if (!isObject) bad("__metadata__ is not an object of strings", "__metadata__");
      for (const [k, v] of Object.entries(entry as object)) {
        if (typeof v !== "string") bad(`metadata entry ${k} is not a string`, "__metadata__");
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const at = `tensor ${name}`;
    if (!isObject) bad("the entry is not { dtype, shape, data_offsets }", at);
    if (typeof e.dtype !== "string" || !Object.hasOwn(ARRAYS, e.dtype))
      bad(`dtype ${JSON.stringify(e.dtype)} is not supported (F32, I32, U16 or U8)`, at);
    const Array_ = ARRAYS[e.dtype as StDType];
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      bad("shape must be a list of non-negative integers", at);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0))
      bad("data_offsets must be [begin, end]", at);
    const [begin, end] = offsets as [number, number];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataBytes) bad(`data_offsets [${begin}, ${end}] fall outside the ${dataBytes} data bytes`, at);
    const size = count * Array_.BYTES_PER_ELEMENT;
    if (end - begin !== size) bad(`shape [${(e.shape as number[]).join(", ")}] needs ${size} bytes, data_offsets give ${end - begin}`, at);
    // A copy, aligned for the typed array (a Node Buffer's own slice() would be a view).
    const raw = Uint8Array.prototype.slice.call(bytes, dataStart + begin, dataStart + end);
    const data = new Array_(raw.buffer);
    tensors.set(name, { dtype: e.dtype as StDType, shape: e.shape as number[], data });
    ranges.push([begin, end, name]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++)
    if (ranges[i][0] < ranges[i - 1][1]) bad(`the data of ${ranges[i][2]} overlaps ${ranges[i - 1][2]}`, `tensor ${ranges[i][2]}`);
  return { metadata, tensors };
}

/**
 * Writes tensors widest element first, then in name order (so that every tensor's data starts on a
 * multiple of its element size, as readers that map the file in place need), the header padded with
 * spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: ReadonlyMap<string, StTensor>, metadata: Record<string, string>): Uint8Array {
  const width = (name: string) => tensors.get(name)!.data.BYTES_PER_ELEMENT;
  const names = [...tensors.keys()].sort((a, b) => width(b) - width(a) || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}
