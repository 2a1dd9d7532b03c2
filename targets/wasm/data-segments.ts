/**
 * Adds active data segments to a finished module, at the binary level (Binaryen cannot declare
 * a read module's memory again). Runs of zeros are left out: linear memory starts zeroed.
 * Used to embed weights (and the WASI tokenizer) in self-contained modules.
 */
import { concatBytes } from "../../compiler/util/bytes.js";

const SECTION_CODE = 10;
const SECTION_DATA = 11;
const SECTION_DATA_COUNT = 12;
/** A run of zeros at least this long ends a segment (each segment costs about 8 bytes). */
const ZERO_RUN = 32;

export interface DataBlock {
  address: number;
  bytes: Uint8Array;
}

export function appendDataSegments(wasm: Uint8Array, blocks: DataBlock[]): Uint8Array {
  const segments = blocks.flatMap(splitAtZeros);
  if (segments.length === 0) return wasm;
  const sections = readSections(wasm);
  const data = sections.find((s) => s.id === SECTION_DATA);
  const oldCount = data ? readU32(wasm, data.start).value : 0;
  const oldBody = data ? wasm.subarray(readU32(wasm, data.start).end, data.end) : new Uint8Array(0);
  const body = concatBytes([u32(oldCount + segments.length), oldBody, ...segments.map(encodeSegment)]);

  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  const put = (id: number, payload: Uint8Array) => parts.push(Uint8Array.of(id), u32(payload.length), payload);
  for (const s of sections) {
    if (s.id === SECTION_DATA) continue;
    if (s.id === SECTION_DATA_COUNT) put(SECTION_DATA_COUNT, u32(oldCount + segments.length));
    else parts.push(wasm.subarray(s.headerStart, s.end));
    // The data section follows the code section (custom sections may come after it).
    if (s.id === SECTION_CODE) put(SECTION_DATA, body);
  }
  if (!sections.some((s) => s.id === SECTION_CODE)) put(SECTION_DATA, body);
  return concatBytes(parts);
}

function splitAtZeros({ address, bytes }: DataBlock): DataBlock[] {
  const out: DataBlock[] = [];
  let i = 0;
  while (i < bytes.length) {
    while (i < bytes.length && bytes[i] === 0) i++;
    if (i === bytes.length) break;
    let end = i,
      zeros = 0;
    while (end < bytes.length && zeros < ZERO_RUN) {
      zeros = bytes[end] === 0 ? zeros + 1 : 0;
      end++;
    }
    const stop = end - zeros;
    out.push({ address: address + i, bytes: bytes.subarray(i, stop) });
    i = end;
  }
  return out;
}

function encodeSegment({ address, bytes }: DataBlock): Uint8Array {
  // flags 0: active, memory 0; offset: i32.const address end.
  return concatBytes([Uint8Array.of(0, 0x41), i32(address), Uint8Array.of(0x0b), u32(bytes.length), bytes]);
}

interface Section {
  id: number;
  headerStart: number;
  start: number;
  end: number;
}

function readSections(wasm: Uint8Array): Section[] {
  const sections: Section[] = [];
  for (let at = 8; at < wasm.length;) {
    const id = wasm[at];
    const size = readU32(wasm, at + 1);
    sections.push({ id, headerStart: at, start: size.end, end: size.end + size.value });
    at = size.end + size.value;
  }
  return sections;
}

function readU32(bytes: Uint8Array, at: number): { value: number; end: number } {
  let value = 0,
    shift = 0,
    b: number;
  do {
    b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return { value, end: at };
}

function u32(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

/** Signed LEB128 of an address read as an i32. */
function i32(n: number): Uint8Array {
  let v = n | 0;
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}
