/**
 * Compression for `seec serve` (which files are compressed is serve.ts's table of types): which coding a
 * request's Accept-Encoding picks (brotli where it is acceptable at least as much as gzip), and the
 * stream that compresses. Weights and other binaries go as they are: float bytes barely shrink.
 */
import { constants, createBrotliCompress, createGzip } from "node:zlib";
import type { Transform } from "node:stream";

export type Coding = "br" | "gzip";

/**
 * The coding to answer with, by the header's q-values (RFC 9110 §12.5.3): a coding named with q=0,
 * or left out with no `*` to cover it, is not acceptable; the higher q wins, brotli on a tie;
 * undefined (identity) where neither is acceptable or there is no header.
 */
export function chooseCoding(header: string | undefined): Coding | undefined {
  if (!header) return undefined;
  const q = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    const qParam = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)).find(Boolean);
    const value = qParam ? Number(qParam[1]) : 1;
    q.set(name.trim(), Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0);
  }
  const of = (coding: Coding) => q.get(coding) ?? (coding === "gzip" ? q.get("x-gzip") : undefined) ?? q.get("*") ?? 0;
  const [br, gzip] = [of("br"), of("gzip")];
  if (br <= 0 && gzip <= 0) return undefined;
  return br >= gzip ? "br" : "gzip";
}

/** A compressing stream, set for a development server: fast rather than smallest. */
export function compressor(coding: Coding): Transform {
  return coding === "br"
    ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } })
    : createGzip({ level: constants.Z_DEFAULT_COMPRESSION });
}

/** The ETag of a file's compressed representation: another representation, so another tag. */
export function codedEtag(etag: string, coding: Coding | undefined): string {
  return coding ? `${etag.slice(0, -1)}-${coding}"` : etag;
}
