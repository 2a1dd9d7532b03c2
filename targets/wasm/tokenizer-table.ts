/**
 * A tokenizer as the table a WASI program reads, embedded in its data segment.
 *
 * llama2.c's BPE (targets/wasm/drivers/bpe.ts):
 *   u32 count, bos, eos, 0 | f32 scores[count] | u32 pieceStart[count + 1] | u32 printStart[count + 1] | bytes
 * Offsets are into the bytes: every piece's text, then every piece's printed bytes.
 *
 * SentencePiece unigram (targets/wasm/drivers/unigram.ts):
 *   u32 count, reserved, nfkcOffset, 0 | f64 scores[count] | u32 pieceStart[count + 1] | u32 codePoints[] | NFKC table
 * Pieces are code points (offsets into codePoints); scores stay doubles, as vocab.json's are, so
 * ties break as the JavaScript tokenizer breaks them. nfkcOffset is where targets/wasm/nfkc-table.ts's
 * table starts, from the table's start.
 */
import { SeecError } from "../../runtime/errors.js";
import type { TokenizerSpec } from "../../runtime/tokenizers/index.js";
import { printedPieces, type Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import type { SentencePieceSpec } from "../../runtime/tokenizers/sentencepiece.js";
import { nfkcTable } from "./nfkc-table.js";

export function tokenizerTable(spec: TokenizerSpec): Uint8Array {
  if (spec.type === "llama2c-bpe") return bpeTable(spec);
  if (spec.type === "sentencepiece-unigram") return unigramTable(spec);
  // compiler/build.ts refuses such a build by its target before any work.
  throw new SeecError("internal.tokenizer", `a WASI program has no table for a ${spec.type} tokenizer`);
}

function bpeTable(spec: Llama2cTokenizerSpec): Uint8Array {
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
  for (const [table, pieces] of [
    [16 + 4 * n, texts],
    [16 + 4 * n + 4 * (n + 1), prints],
  ] as const) {
    pieces.forEach((p, i) => {
      view.setUint32(table + 4 * i, offset, true);
      out.set(p, header + offset);
      offset += p.length;
    });
    view.setUint32(table + 4 * n, offset, true);
  }
  return out;
}

function unigramTable(spec: SentencePieceSpec): Uint8Array {
  const pieces = spec.pieces.map(([p]) => Array.from(p, (c) => c.codePointAt(0)!));
  const n = pieces.length;
  const codePoints = pieces.reduce((a, p) => a + p.length, 0);
  const nfkcOffset = align8(16 + 8 * n + 4 * (n + 1) + 4 * codePoints);
  const nfkc = nfkcTable();
  const out = new Uint8Array(nfkcOffset + nfkc.byteLength);
  const view = new DataView(out.buffer);
  [n, spec.reserved, nfkcOffset, 0].forEach((x, i) => view.setUint32(4 * i, x, true));
  spec.pieces.forEach(([, score], i) => view.setFloat64(16 + 8 * i, score, true));
  const starts = 16 + 8 * n;
  let at = starts + 4 * (n + 1);
  let offset = 0;
  pieces.forEach((p, i) => {
    view.setUint32(starts + 4 * i, offset, true);
    for (const cp of p) (view.setUint32(at, cp, true), (at += 4));
    offset += p.length;
  });
  view.setUint32(starts + 4 * n, offset, true);
  out.set(nfkc, nfkcOffset);
  return out;
}

const align8 = (n: number) => (n + 7) & ~7;
