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

/**
 * A file made once the others are written, from their sha256s as written (manifest.json, which
 * lists them): so a file of pieces is hashed while it is written, not made once more before.
 */
export interface Later {
  made(sha256s: ReadonlyMap<string, string>): string;
}

export const isLater = (content: FileContent | Later): content is Later => typeof content === "object" && "made" in content;

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
