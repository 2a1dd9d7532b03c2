/**
 * llama2.c's tokenizer as the table the WASI driver reads (targets/wasm/drivers/bpe.ts):
 *   u32 count, bos, eos, 0 | f32 scores[count] | u32 pieceStart[count + 1] | u32 printStart[count + 1] | bytes
 * Offsets are into the bytes: every piece's text, then every piece's printed bytes.
 */
import { printedPieces, type Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";

export function tokenizerTable(spec: Llama2cTokenizerSpec): Uint8Array {
  const utf8 = new TextEncoder();
  const texts = spec.pieces.map((p) => utf8.encode(p));
  const prints = printedPieces(spec.pieces);
  const n = spec.pieces.length;
  const header = 16 + 4 * n + 8 * (n + 1);
  const textBytes = texts.reduce((a, t) => a + t.length, 0);
  const out = new Uint8Array(header + textBytes + prints.reduce((a, t) => a + t.length, 0));
  const view = new DataView(out.buffer);
  [n, spec.bosId, spec.eosId, 0].forEach((x, i) => view.setUint32(4 * i, x, true));
  spec.scores.forEach((s, i) => view.setFloat32(16 + 4 * i, s, true));
  let offset = 0;
  for (const [table, pieces] of [[16 + 4 * n, texts], [16 + 4 * n + 4 * (n + 1), prints]] as const) {
    pieces.forEach((p, i) => {
      view.setUint32(table + 4 * i, offset, true);
      out.set(p, header + offset);
      offset += p.length;
    });
    view.setUint32(table + 4 * n, offset, true);
  }
  return out;
}
