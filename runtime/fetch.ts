/**
 * Reads an artifact's files for load(): by fetch (or the caller's own), or from the filesystem for
 * file: URLs in Node; as streams, so that progress is heard chunk by chunk and an abort stops a
 * download where it is.
 */
import { SeecError } from "./errors.js";

/** Bytes of one file so far; `total` is its size as the manifest lists it. */
export interface Progress {
  file: string;
  loaded: number;
  total: number;
}

/** A fetch load() can use instead of the global one. */
export type Fetch = (url: string, init: { signal?: AbortSignal }) => Promise<Response>;

export interface ReadOptions {
  /** Called as each file the manifest lists downloads. */
  onProgress?: (progress: Progress) => void;
  /** Aborting rejects load() with the signal's reason (an AbortError for a plain abort()) and stops its downloads. */
  signal?: AbortSignal;
  /** Used for every file where given (file: URLs too): headers, credentials, a cache, a zip. */
  fetch?: Fetch;
  /**
   * Keep the files in the Cache API (browsers), keyed by their sha256 in the manifest: a later load
   * reads them from there. A file is kept only whole and with its hash checked.
   */
  cache?: boolean;
}

type Opened = { body: ReadableStream<Uint8Array>; type: string | null };

/**
 * A module imported only on the path that needs it (Node's own, an optional package). The
 * specifier arrives as an argument so that bundlers building for browsers (esbuild, Vite) cannot
 * see it and leave the import alone instead of failing on it.
 */
export function importAtRuntime<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

/** Whether this engine is Node (or a runtime that says it is: Deno and Bun set process.versions.node). */
export function inNode(): boolean {
  return Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);
}

function nodeModule<T>(name: string): Promise<T> {
  return importAtRuntime<T>(`node:${name}`);
}

/** The reads of one load(), relative to the artifact's directory. */
export class Reader {
  /** The manifest's files, once it is read: the sizes progress is reported against, the hashes the cache is keyed by. */
  files: Record<string, { bytes: number; sha256?: string }> = {};
  /** Files being checked and put into the cache. */
  private keeping: Promise<void>[] = [];

  constructor(
    readonly base: URL,
    private readonly opts: ReadOptions = {},
  ) {}

  url(name: string): URL {
    return new URL(name, this.base);
  }

  /** The file as a stream, with the media type the server gave (a .wasm file's own for files). */
  async stream(name: string): Promise<{ body: ReadableStream<Uint8Array>; type: string | null }> {
    const url = this.url(name);
    try {
      const { body, type } = await this.cached(name, url);
      return { body: this.track(name, body), type };
    } catch (e) {
      throw readError(url, e);
    }
  }

  /** The file whole. */
  async bytes(name: string): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    const length = await this.drain(name, (chunk) => chunks.push(chunk));
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(length);
    chunks.reduce((at, c) => (out.set(c, at), at + c.byteLength), 0);
    return out;
  }

  /**
   * Reads the file into `target` as it arrives, with no copy of the whole in between (a model's
   * weights go straight into the module's memory). Returns the file's length: what differs from
   * target's is an error for the caller to name.
   */
  into(name: string, target: Uint8Array): Promise<number> {
    return this.drain(name, (chunk, at) => {
      if (at + chunk.byteLength <= target.byteLength) target.set(chunk, at);
    });
  }

  async json<T>(name: string): Promise<T> {
    const url = this.url(name);
    const bytes = await this.bytes(name);
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch (e) {
      throw new SeecError("input.json", `${url.pathname} is not valid JSON: ${(e as Error).message}`, { file: url.href });
    }
  }

  private async drain(name: string, take: (chunk: Uint8Array, at: number) => void): Promise<number> {
    const reader = (await this.stream(name)).body.getReader();
    let at = 0;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        take(r.value, at);
        at += r.value.byteLength;
      }
      return at;
    } catch (e) {
      void reader.cancel().catch(() => {});
      throw readError(this.url(name), e);
    }
  }

  /** Until every file read so far is in the cache (or known not to go there). */
  async kept(): Promise<void> {
    await Promise.all(this.keeping);
  }

  /** The file from the cache where the cache option holds it; otherwise opened, and a copy kept for the cache. */
  private async cached(name: string, url: URL): Promise<Opened> {
    const sha256 = this.files[name]?.sha256;
    const cache = this.opts.cache && sha256 && typeof caches !== "undefined" ? await caches.open("seec") : undefined;
    if (!cache) return this.open(url);
    const key = `${url.href}?sha256=${sha256}`;
    const hit = await cache.match(key);
    if (hit?.body) return { body: hit.body, type: hit.headers.get("content-type") };
    const { body, type } = await this.open(url);
    const [mine, copy] = body.tee();
    this.keeping.push(keep(cache, key, copy, sha256!, type, this.opts.signal));
    return { body: mine, type };
  }

  private async open(url: URL): Promise<Opened> {
    const { fetch: custom, signal } = this.opts;
    if (url.protocol === "file:" && !custom) {
      const [fs, { Readable }] = await Promise.all([
        nodeModule<typeof import("node:fs/promises")>("fs/promises"),
        nodeModule<typeof import("node:stream")>("stream"),
      ]);
      // Opened here, so that a missing file fails as a read, not later inside a compile; a FIFO or a
      // device (a link to /dev/zero) would block or never end.
      if (!(await fs.stat(url)).isFile()) throw new Error("not a regular file");
      const file = (await fs.open(url)).createReadStream({ highWaterMark: 1 << 20 });
      return { body: Readable.toWeb(file) as ReadableStream<Uint8Array>, type: url.pathname.endsWith(".wasm") ? "application/wasm" : null };
    }
    const res = await (custom ?? fetch)(url.href, { signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    return { body: res.body, type: res.headers.get("content-type") };
  }

  /** The stream, reporting progress for a file the manifest lists and stopping where the signal aborts. */
  private track(name: string, body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const { onProgress, signal } = this.opts;
    const total = this.files[name]?.bytes;
    const report = total === undefined ? undefined : onProgress;
    let loaded = 0;
    report?.({ file: name, loaded, total: total! });
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        // Checked after each report, and at the end: an abort from the progress callback, or one
        // that came after the last chunk arrived, still stops the read.
        transform(chunk, out) {
          loaded += chunk.byteLength;
          report?.({ file: name, loaded, total: total! });
          signal?.throwIfAborted();
          out.enqueue(chunk);
        },
        flush() {
          signal?.throwIfAborted();
        },
      }),
    );
  }
}

/**
 * Puts a file into the cache once it has arrived whole and its sha256 is the manifest's: a download
 * that was aborted (even one that had already arrived whole), failed or came back different leaves
 * nothing there. The file's other versions (from earlier builds) go, so that rebuilding does not
 * fill the cache.
 */
async function keep(
  cache: Cache,
  key: string,
  body: ReadableStream<Uint8Array>,
  sha256: string,
  type: string | null,
  signal?: AbortSignal,
): Promise<void> {
  try {
    const bytes = await new Response(body).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== sha256 || signal?.aborted) return;
    await cache.put(key, new Response(bytes, { headers: { "content-type": type ?? "application/octet-stream" } }));
    const versions = key.slice(0, key.lastIndexOf("=") + 1);
    for (const old of await cache.keys()) if (old.url.startsWith(versions) && old.url !== key) await cache.delete(old);
  } catch {
    // Not kept: the next load downloads it again.
  }
}

function readError(url: URL, e: unknown): unknown {
  if (e instanceof SeecError || (e as Error)?.name === "AbortError") return e;
  return new SeecError("io.read", `cannot read ${url.href}: ${(e as Error).message}`, {
    file: url.href,
    hint: "is this a seec artifact directory?",
  });
}

/**
 * The directory this module was loaded from (query and hash dropped). Not written as
 * `new URL("./", import.meta.url)`: Vite rewrites that pattern as an asset reference, which made
 * "./" this file's own URL (index.mjs/manifest.json, a 404) under its dev server. Resolved as "."
 * rather than from the path as a string, which a path starting "//" would turn into another host.
 */
export function moduleDirectory(): URL {
  const self = new URL(import.meta.url);
  return new URL(".", self);
}

/** A directory given as a URL, an absolute URL string, or (in Node) a filesystem path. */
export async function directoryUrl(dir: string | URL): Promise<URL> {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) return directoryUrl(new URL(dir));
  if (typeof globalThis.location !== "undefined") return directoryUrl(new URL(dir, globalThis.location.href));
  const { pathToFileURL } = await nodeModule<typeof import("node:url")>("url");
  return directoryUrl(pathToFileURL(dir));
}
