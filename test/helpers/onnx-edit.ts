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

/**
 * The model with tensor `from` also given out as a float32 graph output `name` of shape `dims`
 * (through an Identity node), listed after the graph's own outputs.
 */
export function withOutput(model: Uint8Array, from: string, name: string, dims: readonly (number | string)[]): Uint8Array {
  const node = field(1, [...text(1, from), ...text(2, name), ...text(3, `expose_${name}`), ...text(4, "Identity")]);
  const shape = dims.flatMap((d) => field(1, typeof d === "number" ? number(1, d) : text(2, d)));
  const type = field(1, [...number(1, 1), ...field(2, shape)]);
  const output = field(12, [...text(1, name), ...field(2, type)]);
  // ModelProto: copy every field, appending the node and the output to the graph (field 7).
  const out: Uint8Array[] = [];
  for (let at = 0; at < model.length;) {
    const start = at;
    let key = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = model[at++];
      key += (b & 0x7f) * shift;
      if (b < 0x80) break;
    }
    const wire = key & 7;
    const readVarint = () => {
      let n = 0;
      for (let shift = 1; ; shift *= 128) {
        const b = model[at++];
        n += (b & 0x7f) * shift;
        if (b < 0x80) return n;
      }
    };
    if (wire === 0) readVarint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = readVarint();
      const body = model.subarray(at, at + length);
      at += length;
      if (key >> 3 === 7) {
        const added = [...node, ...output];
        out.push(Uint8Array.from([...varint((7 << 3) | 2), ...varint(body.length + added.length)]), body, Uint8Array.from(added));
        continue;
      }
    } else throw new Error(`wire type ${wire} at byte ${start}`);
    out.push(model.subarray(start, at));
  }
  return Buffer.concat(out);
}
