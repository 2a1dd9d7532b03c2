/** A small static file server for artifact directories (demo pages), on loopback by default. */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

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

export function serveDirectory(dir: string, port: number, host = "127.0.0.1"): Promise<Server> {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    if (file !== root && !file.startsWith(root + sep)) return void res.writeHead(403).end("forbidden");
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile()) return void res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": s.size, "cache-control": "no-cache" });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => server.once("error", fail).listen(port, host, () => ok(server)));
}
