/**
 * A small static file server for artifact directories (demo pages), on loopback by default.
 * A request never takes it down: a malformed path is 400, anything outside the directory (by
 * its real path, so symbolic links do not lead out) 403, any other failure 404 or 500.
 */
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { pipeline } from "node:stream";
import { SeecError } from "../runtime/errors.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".css": "text/css; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
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
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": s.size,
      "cache-control": "no-cache",
    });
    if (req.method === "HEAD") return void res.end();
    pipeline(createReadStream(file), res, () => {}); // a read error or a client gone: the response is closed, nothing else.
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
