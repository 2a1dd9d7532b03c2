// load() as a page calls it: progress in bytes for each file the manifest lists, an AbortSignal that
// stops it with an AbortError, and a custom fetch used for every file; from files and over HTTP.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import type { Manifest } from "../../runtime/manifest.js";
import { load, type Progress } from "../../runtime/index.js";
import type { Fetch } from "../../runtime/fetch.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

/** Serves `dir`; a request for a file named in `stall` gets its first bytes, then nothing more. */
function serve(dir: string, stall = new Set<string>()): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const name = decodeURIComponent(req.url!.slice(1));
    requests.push(name);
    let data: Buffer;
    try {
      data = readFileSync(join(dir, name));
    } catch {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, { "content-type": name.endsWith(".wasm") ? "application/wasm" : "application/octet-stream" });
    if (stall.has(name)) res.write(data.subarray(0, 1024));
    else res.end(data);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests })),
  );
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe.skipIf(!LLAMA2C)("load() options", () => {
  let dir: string, manifest: Manifest, http: Awaited<ReturnType<typeof serve>>;
  const loaded = ["model.wasm", "tokenizer.json", "weights.bin"];

  beforeAll(async () => {
    dir = join(await tmpDir(), "stories");
    await build({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, target: "wasm-simd", out: dir });
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    http = await serve(dir);
  }, 60_000);
  afterAll(() => http?.server.close());

  /** Each file's events rise to its size in the manifest; together they add up to the files load() read. */
  function expectComplete(events: Progress[]): void {
    const files = [...new Set(events.map((e) => e.file))].sort();
    expect(files).toEqual(loaded);
    for (const file of files) {
      const mine = events.filter((e) => e.file === file);
      expect(mine.every((e) => e.total === manifest.files[file].bytes)).toBe(true);
      expect(mine.map((e) => e.loaded)).toEqual([...mine.map((e) => e.loaded)].sort((a, b) => a - b));
      expect(mine[0].loaded).toBe(0);
      expect(mine.at(-1)!.loaded).toBe(manifest.files[file].bytes);
    }
    const total = files.reduce((n, f) => n + events.filter((e) => e.file === f).at(-1)!.loaded, 0);
    expect(total).toBe(loaded.reduce((n, f) => n + manifest.files[f].bytes, 0));
  }

  it.each([
    ["a directory path", () => dir],
    ["an HTTP URL", () => http.url],
  ])("reports progress in bytes for each file, from %s", async (_what, where) => {
    const events: Progress[] = [];
    const model = await load(where(), { onProgress: (p) => events.push({ ...p }) });
    expectComplete(events);
    expect(await model.generate("Once", { maxTokens: 8, temperature: 0 })).toMatch(/\S/);
  });

  it("uses the custom fetch for every file, over HTTP and for a directory on disk", async () => {
    const asked: string[] = [];
    const viaHttp = await load(http.url, { fetch: (url, init) => (asked.push(url), fetch(url, init)) });
    expect(asked.map((u) => u.slice(http.url.length)).sort()).toEqual(["manifest.json", ...loaded]);
    const fromDisk: string[] = [];
    const events: Progress[] = [];
    const viaFiles = await load(dir, {
      fetch: async (url) => (fromDisk.push(url), new Response(readFileSync(fileURLToPath(url)))),
      onProgress: (p) => events.push({ ...p }),
    });
    expect(fromDisk.length).toBe(4);
    expectComplete(events);
    const text = (m: typeof viaHttp) => m.generate("Once", { maxTokens: 16, temperature: 0 });
    expect(await text(viaFiles)).toBe(await text(viaHttp));
  });

  it("rejects with an AbortError when aborted before it starts, or while the weights download", async () => {
    expect(((await rejection(load(dir, { signal: AbortSignal.abort() }))) as Error).name).toBe("AbortError");
    // The last: each file arrives as one chunk, so the abort comes from the progress report of its final bytes.
    const whole: Fetch = async (url) => new Response(readFileSync(fileURLToPath(url)));
    for (const [where, fetch] of [[dir], [http.url], [dir, whole]] as const) {
      const controller = new AbortController();
      const e = await rejection(
        load(where, {
          fetch,
          signal: controller.signal,
          onProgress: (p) => p.file === "weights.bin" && p.loaded > 0 && controller.abort(),
        }),
      );
      expect((e as Error).name, where).toBe("AbortError");
    }
  });

  it("stops a download that stalls when the signal aborts", async () => {
    const stalled = await serve(dir, new Set(["weights.bin"]));
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      expect(((await rejection(load(stalled.url, { signal: controller.signal }))) as Error).name).toBe("AbortError");
    } finally {
      stalled.server.closeAllConnections();
      stalled.server.close();
    }
  });

  it("names a file the server does not have (io.read), rather than waiting", async () => {
    const e = await rejectsSeec(() => load(http.url, { fetch: (url, init) => fetch(url.replace("weights.bin", "gone.bin"), init) }));
    expect(e.code).toBe("io.read");
    expect(e.message).toMatch(/weights\.bin: HTTP 404/);
  });
});
