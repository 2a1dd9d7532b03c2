/**
 * A small static file server for artifact directories (demo pages), on loopback by default.
 * A request never takes it down: a malformed path is 400, anything outside the directory (by
 * its real path, so symbolic links do not lead out) 403, any other failure 404 or 500. Files carry
 * an ETag, so a browser revalidates a 27 MB weights.bin with a 304 instead of downloading it
 * again, and a Range request gets its bytes (206). Text files and model.wasm go gzip- or
 * brotli-compressed where the request accepts it (serve-encoding.ts).
 */
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { pipeline } from "node:stream";
import { SeecError } from "../runtime/errors.js";
import { chooseCoding, codedEtag, compressor } from "./serve-encoding.js";

/** Each extension's content type, and whether it is text worth compressing (weights are not). */
const TYPES: Record<string, { type: string; compress: boolean }> = {
  ".html": { type: "text/html; charset=utf-8", compress: true },
  ".mjs": { type: "text/javascript; charset=utf-8", compress: true },
  ".js": { type: "text/javascript; charset=utf-8", compress: true },
  ".json": { type: "application/json; charset=utf-8", compress: true },
  ".wasm": { type: "application/wasm", compress: true },
  ".png": { type: "image/png", compress: false },
  ".css": { type: "text/css; charset=utf-8", compress: true },
  ".ts": { type: "text/plain; charset=utf-8", compress: true },
  ".txt": { type: "text/plain; charset=utf-8", compress: true },
  ".svg": { type: "image/svg+xml", compress: true },
};

/** The real path of the directory to serve; a missing path or a file is refused before listening. */
export async function servedRoot(dir: string): Promise<string> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SeecError("io.not_found", `cannot serve ${dir}: ${code === "ENOENT" ? "no such directory" : (e as Error).message}`, {
      file: dir,
    });
  }
  if (!(await stat(root)).isDirectory())
    throw new SeecError("usage.not_a_directory", `cannot serve ${dir}: it is not a directory`, {
      file: dir,
      hint: "give the artifact directory",
    });
  return root;
}

/**
 * A Range header's one byte range ("bytes=a-b", "bytes=a-", "bytes=-n"), inclusive and clipped to
 * the file; undefined where there is none, or an invalid one (b < a: RFC 7233 says to ignore the
 * header), or several: the whole file answers those.
 */
export function byteRange(header: string | undefined, size: number): [number, number] | "unsatisfiable" | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  const [start, end] = m[1] === "" ? [size - Number(m[2]), size - 1] : [Number(m[1]), m[2] === "" ? size - 1 : Number(m[2])];
  if (m[1] !== "" && m[2] !== "" && end < start) return undefined;
  if (start >= size || end < start) return "unsatisfiable";
  return [Math.max(0, start), Math.min(end, size - 1)];
}

export async function serveDirectory(dir: string, port: number, host = "127.0.0.1"): Promise<Server> {
  const root = await servedRoot(dir);
  const inside = (p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
  const plain = (res: ServerResponse, status: number, text: string) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(`${text}\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD")
      return void res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      return plain(res, 400, "bad request: malformed path");
    }
    if (path.includes("\0")) return plain(res, 400, "bad request: malformed path");
    const asked = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    if (!inside(asked)) return plain(res, 403, "forbidden");
    const file = await realpath(asked).catch(() => undefined);
    if (file === undefined) return plain(res, 404, "not found");
    if (!inside(file)) return plain(res, 403, "forbidden");
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile()) return plain(res, 404, "not found");
    // no-cache: browsers keep the file but ask each time whether it changed (a rebuild changes it).
    // The inode too: seec build writes a new file (a rename), even within the same millisecond.
    const identity = `W/"${s.ino.toString(16)}-${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
    // Text (and model.wasm) is compressed where the request accepts it, but never for a Range
    // request: ranges count the file's own bytes. The answer varies with Accept-Encoding, and the
    // compressed representation has an ETag of its own.
    const kind = TYPES[extname(file).toLowerCase()];
    const varies = kind?.compress ?? false;
    // If-Range asks for the range only while the file is the one its validator names; a weak ETag
    // (the only kind sent here) never qualifies (RFC 9110 §13.1.5), so the whole file answers.
    const rangeAsked = req.headers["if-range"] === undefined ? req.headers.range : undefined;
    const coding = varies && rangeAsked === undefined ? chooseCoding(req.headers["accept-encoding"]) : undefined;
    const etag = codedEtag(identity, coding);
    const cache = {
      etag,
      "cache-control": "no-cache",
      "accept-ranges": "bytes",
      ...(varies ? { vary: "accept-encoding" } : {}),
      // Cross-origin isolation: the page may share memory with workers, so a model built --threads runs on every core.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    };
    if (req.headers["if-none-match"]?.split(/\s*,\s*/).includes(etag)) return void res.writeHead(304, cache).end();
    const type = kind?.type ?? "application/octet-stream";
    if (coding) {
      res.writeHead(200, { ...cache, "content-type": type, "content-encoding": coding });
      if (req.method === "HEAD") return void res.end();
      return void pipeline(createReadStream(file), compressor(coding), res, () => {});
    }
    const range = byteRange(rangeAsked, s.size);
    if (range === "unsatisfiable") return void res.writeHead(416, { ...cache, "content-range": `bytes */${s.size}` }).end();
    const [start, end] = range ?? [0, s.size - 1];
    res.writeHead(range ? 206 : 200, {
      ...cache,
      "content-type": type,
      "content-length": Math.max(0, end - start + 1),
      ...(range ? { "content-range": `bytes ${start}-${end}/${s.size}` } : {}),
    });
    if (req.method === "HEAD" || end < start) return void res.end();
    pipeline(createReadStream(file, { start, end }), res, () => {}); // a read error or a client gone: the response is closed, nothing else.
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      try {
        plain(res, 500, "internal error");
      } catch {
        res.destroy();
      }
    });
  });
  // What the HTTP parser rejects (a malformed request line, headers too large) is answered, not thrown.
  server.on("clientError", (_e, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  return new Promise((ok, fail) => server.once("error", fail).listen(port, host, () => ok(server)));
}
