/**
 * A file made of pieces, written and hashed one piece at a time and never held whole (weights.bin:
 * each tensor's bytes, from the graph, where the plan puts them).
 */
export interface Pieces {
  readonly byteLength: number;
  pieces(): Iterable<Uint8Array>;
}

/** What an artifact's file holds. */
export type FileContent = Uint8Array | string | Pieces;

export function contentBytes(content: FileContent): number {
  return typeof content === "string" ? Buffer.byteLength(content) : content.byteLength;
}

/** All of the pieces in one buffer (for what needs the bytes at once: weights embedded in a module). */
export function joinPieces(content: Uint8Array | Pieces): Uint8Array {
  if (content instanceof Uint8Array) return content;
  const bytes = new Uint8Array(content.byteLength);
  let at = 0;
  for (const piece of content.pieces()) {
    bytes.set(piece, at);
    at += piece.byteLength;
  }
  return bytes;
}
