// seec serve compresses text files (and model.wasm) as the request's Accept-Encoding allows:
// brotli or gzip by q-value, Vary: accept-encoding, an ETag of the compressed representation's
// own (a 304 only for the one asked about), and identity bytes for Range requests and weights.
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import type { Server } from "node:net";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseCoding } from "../../compiler/serve-encoding.js";
import { serveDirectory } from "../../compiler/serve.js";
import { tmpDir } from "../helpers/compile.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request with exactly these headers (fetch would add and undo an Accept-Encoding of its own). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  return new Promise((ok, fail) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", fail);
    req.end();
  });
}

const MANIFEST = JSON.stringify({ files: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`file${i}.bin`, { bytes: i }])) });
const WEIGHTS = Buffer.from(Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i)).buffer);

describe("seec serve: compression", () => {
  let server: Server, port: number;
  beforeAll(async () => {
    const dir = await tmpDir();
    writeFileSync(join(dir, "manifest.json"), MANIFEST);
    writeFileSync(join(dir, "weights.bin"), WEIGHTS);
    server = await serveDirectory(dir, 0);
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => server?.close());

  it("picks the coding by q-value, brotli on a tie, identity where neither is acceptable", () => {
    expect(chooseCoding("gzip, deflate, br, zstd")).toBe("br");
    expect(chooseCoding("gzip")).toBe("gzip");
    expect(chooseCoding("gzip;q=1, br;q=0.5")).toBe("gzip");
    expect(chooseCoding("br;q=0, gzip;q=0.2")).toBe("gzip");
    expect(chooseCoding("gzip;q=0, br;q=0")).toBeUndefined();
    expect(chooseCoding("*;q=0.5, br;q=0")).toBe("gzip");
    expect(chooseCoding("*")).toBe("br");
    expect(chooseCoding("identity")).toBeUndefined();
    expect(chooseCoding("deflate")).toBeUndefined();
    expect(chooseCoding(undefined)).toBeUndefined();
    expect(chooseCoding("GZIP ; Q=0.9")).toBe("gzip");
  });

  it("compresses a text file as asked, with Vary and an ETag of its own; without the header, the file as it is", async () => {
    const plain = await get(port, "/manifest.json");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("accept-encoding");
    expect(plain.headers["content-length"]).toBe(String(MANIFEST.length));
    expect(plain.body.toString()).toBe(MANIFEST);

    const gz = await get(port, "/manifest.json", { "accept-encoding": "gzip" });
    expect([gz.status, gz.headers["content-encoding"], gz.headers.vary]).toEqual([200, "gzip", "accept-encoding"]);
    expect(gunzipSync(gz.body).toString()).toBe(MANIFEST);
    expect(gz.body.length).toBeLessThan(MANIFEST.length / 3);

    const br = await get(port, "/manifest.json", { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(brotliDecompressSync(br.body).toString()).toBe(MANIFEST);

    const tags = [plain, gz, br].map((a) => a.headers.etag as string);
    expect(new Set(tags).size).toBe(3);
    expect(tags[1]).toBe(tags[0].replace(/"$/, '-gzip"'));

    const head = await get(port, "/manifest.json", { "accept-encoding": "gzip" }, "HEAD");
    expect([head.status, head.headers["content-encoding"], head.body.length]).toEqual([200, "gzip", 0]);
  });

  it("answers 304 only for the representation the request would get", async () => {
    const gz = await get(port, "/manifest.json", { "accept-encoding": "gzip" });
    const tag = gz.headers.etag as string;
    const again = await get(port, "/manifest.json", { "accept-encoding": "gzip", "if-none-match": tag });
    expect([again.status, again.headers.etag, again.headers.vary]).toEqual([304, tag, "accept-encoding"]);
    const identity = await get(port, "/manifest.json", { "if-none-match": tag });
    expect(identity.status).toBe(200);
    expect(identity.body.toString()).toBe(MANIFEST);
    expect((await get(port, "/manifest.json", { "if-none-match": identity.headers.etag as string })).status).toBe(304);
  });

  it("serves a Range of the file's own bytes, uncompressed, whatever the request accepts", async () => {
    const part = await get(port, "/manifest.json", { "accept-encoding": "gzip, br", range: "bytes=10-29" });
    expect(part.status).toBe(206);
    expect(part.headers["content-encoding"]).toBeUndefined();
    expect(part.headers["content-range"]).toBe(`bytes 10-29/${MANIFEST.length}`);
    expect(part.body.toString()).toBe(MANIFEST.slice(10, 30));
    const past = await get(port, "/manifest.json", { "accept-encoding": "gzip", range: `bytes=${MANIFEST.length}-` });
    expect(past.status).toBe(416);
    // If-Range with the (weak) ETag: a weak validator never qualifies, so the whole file, not a piece of another version.
    const resumed = await get(port, "/manifest.json", { range: "bytes=10-29", "if-range": part.headers.etag as string });
    expect([resumed.status, resumed.headers["content-range"], resumed.body.toString()]).toEqual([200, undefined, MANIFEST]);
  });

  it("sends weights as they are, with no Vary", async () => {
    const w = await get(port, "/weights.bin", { "accept-encoding": "gzip, br" });
    expect(w.headers["content-encoding"]).toBeUndefined();
    expect(w.headers.vary).toBeUndefined();
    expect(w.body.equals(WEIGHTS)).toBe(true);
  });
});
