/**
 * The GGUF container (ggml's docs/gguf.md, version 3; versions 2 and 3 share the layout): magic
 * "GGUF", version, tensor and key-value counts (u64), typed metadata, tensor infos (name, dims
 * innermost first, ggml type, offset), padding to general.alignment (32 by default), tensor data.
 * Every count and length is checked against the bytes left before anything is allocated for it, so a
 * hostile file costs at most its own size.
 */
import { SeecError } from "../../../runtime/errors.js";
import { ByteReader } from "../byte-reader.js";
import { BLOCKS, ggmlTypeName } from "./tensor-types.js";
import { tensorBytes } from "./quant.js";

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** Dimensions innermost first, as ggml's ne: a PyTorch [out, in] matrix is [in, out]. */
  dims: number[];
  type: number;
  /** Where its data starts in the file. */
  offset: number;
  count: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
}

const VALUE_TYPES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"] as const;
const SCALAR_BYTES: Record<string, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };
/** seec's limit on one tensor (as for every other input format): 2^28 elements, 1 GiB of f32. */
const MAX_ELEMENTS = 2 ** 28;

export function readGgufContainer(bytes: Uint8Array, file: string): GgufFile {
  const r = new ByteReader(bytes, file);
  const bad = (at: number, msg: string, hint?: string): never => {
    throw new SeecError("input.gguf", msg, { file, at: `byte ${at}`, ...(hint ? { hint } : {}) });
  };
  // A count the rest of the file cannot hold is most often a partial download: input.truncated, as
  // ByteReader says when a read runs off the end. A count past the whole file is a wrong value instead.
  const short = (at: number, msg: string): never => {
    throw new SeecError("input.truncated", msg, { file, at: `byte ${at}`, hint: "the file is truncated, or the count is wrong" });
  };
  const magic = r.bytesOf(4, "the GGUF magic");
  if (String.fromCharCode(...magic) !== "GGUF") bad(0, `the file does not start with "GGUF"`, "this is not a GGUF file");
  const version = r.u32("the GGUF version");
  if (version !== 2 && version !== 3)
    throw new SeecError("unsupported.gguf_version", `GGUF version ${version}; seec reads versions 2 and 3`, { file, at: "byte 4" });

  /** A count or length is at most the file's size; an offset or dimension only needs to be exact as a number. */
  const u64 = (what: string, kind: "count" | "position" = "count"): number => {
    const at = r.offset;
    const b = r.bytesOf(8, what);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (kind === "count" && v > BigInt(r.bytes.length)) bad(at, `${what} is ${v}, more than the file's ${r.bytes.length} bytes could hold`);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(at, `${what} is ${v}, past 2^53`);
    return Number(v);
  };
  const string = (what: string): string => {
    const at = r.offset;
    const len = u64(`the length of ${what}`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(r.bytesOf(len, what));
    } catch (e) {
      if (e instanceof SeecError) throw e;
      return bad(at, `${what} is not valid UTF-8`);
    }
  };
  const tensorCount = u64("the tensor count");
  const kvCount = u64("the metadata count");

  const value = (type: number, what: string, depth: number): GgufValue => {
    const at = r.offset;
    const name = VALUE_TYPES[type];
    if (name === undefined) return bad(at, `${what} has unknown value type ${type}`);
    if (name === "string") return string(what);
    if (name === "array") {
      if (depth > 0) return bad(at, `${what} nests arrays`);
      const elemType = r.u32(`the element type of ${what}`);
      const elem = VALUE_TYPES[elemType];
      if (elem === undefined || elem === "array") return bad(at, `${what} has elements of type ${elemType}`);
      const count = u64(`the length of ${what}`);
      // Each element takes at least its scalar size (a string its 8-byte length): a count past that is a lie.
      const least = elem === "string" ? 8 : SCALAR_BYTES[elem];
      if (count * least > r.remaining) short(at, `${what} claims ${count} elements, more than the ${r.remaining} bytes left`);
      const out: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = value(elemType, `${what}[${i}]`, depth + 1);
      return out;
    }
    const b = r.bytesOf(SCALAR_BYTES[name], what);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (name) {
      case "u8":
        return v.getUint8(0);
      case "i8":
        return v.getInt8(0);
      case "u16":
        return v.getUint16(0, true);
      case "i16":
        return v.getInt16(0, true);
      case "u32":
        return v.getUint32(0, true);
      case "i32":
        return v.getInt32(0, true);
      case "f32":
        return v.getFloat32(0, true);
      case "bool":
        return v.getUint8(0) !== 0;
      case "u64":
        return v.getBigUint64(0, true);
      case "i64":
        return v.getBigInt64(0, true);
      default:
        return v.getFloat64(0, true);
    }
  };

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = string(`metadata key ${i}`);
    metadata.set(key, value(r.u32(`the type of ${key}`), key, 0));
  }
  const alignValue = metadata.get("general.alignment") ?? 32;
  if (
    typeof alignValue !== "number" ||
    !Number.isInteger(alignValue) ||
    alignValue < 1 ||
    alignValue > 1 << 20 ||
    (alignValue & (alignValue - 1)) !== 0
  )
    bad(0, `general.alignment is ${String(alignValue)}, not a power of two`);
  const alignment = alignValue as number;

  const infos: { name: string; dims: number[]; type: number; relative: number; count: number; at: number }[] = [];
  // A tensor info takes at least 28 bytes (empty name, no dims): a larger count cannot be honest.
  if (tensorCount * 28 > r.remaining) short(8, `the tensor count ${tensorCount} needs more than the ${r.remaining} bytes left`);
  for (let i = 0; i < tensorCount; i++) {
    const at = r.offset;
    const name = string(`the name of tensor ${i}`);
    const nDims = r.u32(`the rank of ${name}`);
    if (nDims < 1 || nDims > 4) bad(at, `tensor ${name} has ${nDims} dimensions (GGUF allows 1 to 4)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(u64(`dimension ${d} of ${name}`, "position"));
    const type = r.u32(`the type of ${name}`);
    const relative = u64(`the offset of ${name}`, "position");
    const count = dims.reduce((a, b) => a * b, 1);
    if (dims.some((d) => d < 1)) bad(at, `tensor ${name} has a dimension of 0 (${dims.join(" x ")})`);
    if (!BLOCKS[type])
      throw new SeecError(
        "unsupported.gguf_type",
        `tensor ${name} is ${ggmlTypeName(type)}; seec reads F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K`,
        {
          file,
          at: name,
          hint: "requantize it with llama.cpp's llama-quantize to Q8_0 or Q4_0",
        },
      );
    if (count > MAX_ELEMENTS)
      throw new SeecError("unsupported.too_large", `tensor ${name} has ${count} elements; seec reads up to ${MAX_ELEMENTS}`, {
        file,
        at: name,
      });
    if (dims[0] % BLOCKS[type].values !== 0)
      bad(at, `tensor ${name}'s rows of ${dims[0]} values do not fill whole ${ggmlTypeName(type)} blocks of ${BLOCKS[type].values}`);
    if (relative % alignment !== 0) bad(at, `tensor ${name}'s offset ${relative} is not a multiple of the alignment ${alignment}`);
    if (infos.some((t) => t.name === name)) bad(at, `tensor ${name} is described twice`);
    infos.push({ name, dims, type, relative, count, at });
  }
  const dataStart = Math.ceil(r.offset / alignment) * alignment;
  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of infos) {
    const offset = dataStart + t.relative;
    const size = tensorBytes(t.type, t.count);
    if (offset + size > bytes.length)
      throw new SeecError(
        "input.truncated",
        `tensor ${t.name} (${size} bytes at byte ${offset}) runs past the end of the file (${bytes.length} bytes)`,
        {
          file,
          at: t.name,
          hint: "the file is truncated or its tensor infos are wrong",
        },
      );
    tensors.set(t.name, { name: t.name, dims: t.dims, type: t.type, offset, count: t.count });
  }
  return { version, metadata, tensors, alignment };
}
