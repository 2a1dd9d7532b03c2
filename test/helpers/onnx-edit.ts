/**
 * Edits of an ONNX file's bytes, for tests that need a graph an exporter could have written but
 * the shared folder does not hold (e.g. a classifier's last hidden state as an output, as Optimum's
 * feature-extraction export has it). Only what is added is encoded; the rest is copied as it is.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  out.push(n);
  return out;
}

const field = (no: number, bytes: readonly number[] | Uint8Array): number[] => [
  ...varint((no << 3) | 2),
  ...varint(bytes.length),
  ...bytes,
];
const text = (no: number, s: string): number[] => field(no, new TextEncoder().encode(s));
const number = (no: number, n: number): number[] => [...varint(no << 3), ...varint(n)];

/** A message's top-level fields: number, and where each lies (`body`: a length-delimited field's content). */
function* fields(bytes: Uint8Array): Generator<{ no: number; whole: Uint8Array; body?: Uint8Array }> {
  let at = 0;
  const readVarint = () => {
    let n = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = bytes[at++];
      n += (b & 0x7f) * shift;
      if (b < 0x80) return n;
    }
  };
  while (at < bytes.length) {
    const start = at;
    const key = readVarint();
    const wire = key % 8;
    let body: Uint8Array | undefined;
    if (wire === 0) readVarint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = readVarint();
      body = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`wire type ${wire} at byte ${start}`);
    yield { no: Math.floor(key / 8), whole: bytes.subarray(start, at), body };
  }
}

const concat = (parts: (Uint8Array | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p))));

/**
 * The model with tensor `from` also given out as a float32 graph output `name` of shape `dims`
 * (through an Identity node), listed after the graph's own outputs; with `only`, instead of them.
 */
export function withOutput(
  model: Uint8Array,
  from: string,
  name: string,
  dims: readonly (number | string)[],
  { only = false } = {},
): Uint8Array {
  const node = field(1, [...text(1, from), ...text(2, name), ...text(3, `expose_${name}`), ...text(4, "Identity")]);
  const shape = dims.flatMap((d) => field(1, typeof d === "number" ? number(1, d) : text(2, d)));
  const type = field(1, [...number(1, 1), ...field(2, shape)]);
  const output = field(12, [...text(1, name), ...field(2, type)]);
  // ModelProto: every field copied, the graph (field 7) with the node and the output added (GraphProto's outputs are field 12).
  return concat(
    [...fields(model)].map(({ no, whole, body }) => {
      if (no !== 7 || !body) return whole;
      const graph = concat([...[...fields(body)].filter((f) => !(only && f.no === 12)).map((f) => f.whole), node, output]);
      return concat([varint((7 << 3) | 2), varint(graph.length), graph]);
    }),
  );
}
