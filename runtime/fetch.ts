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

export interface ReadOptions {
  /** Called as each file the manifest lists downloads. */
  onProgress?: (progress: Progress) => void;
  /** Aborting rejects load() with the signal's reason (an AbortError for a plain abort()) and stops its downloads. */
  signal?: AbortSignal;
  /** Used for every file where given (file: URLs too): headers, credentials, a cache, a zip. */
  fetch?: (url: string, init: { signal?: AbortSignal }) => Promise<Response>;
}

/**
 * A module imported only on the path that needs it (Node's own, an optional package). The
 * specifier arrives as an argument so that bundlers building for browsers (esbuild, Vite) cannot
 * see it and leave the import alone instead of failing on it.
 */
export function importAtRuntime<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

function nodeModule<T>(name: string): Promise<T> {
  return importAtRuntime<T>(`node:${name}`);
}

/** The reads of one load(), relative to the artifact's directory. */
export class Reader {
  /** The manifest's files, once it is read: the sizes progress is reported against. */
  files: Record<string, { bytes: number }> = {};

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
      const { body, type } = await this.open(url);
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

  private async open(url: URL): Promise<{ body: ReadableStream<Uint8Array>; type: string | null }> {
    const { fetch: custom, signal } = this.opts;
    if (url.protocol === "file:" && !custom) {
      const [fs, { Readable }] = await Promise.all([
        nodeModule<typeof import("node:fs/promises")>("fs/promises"),
        nodeModule<typeof import("node:stream")>("stream"),
      ]);
      // Opened here, so that a missing file fails as a read, not later inside a compile.
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
        transform(chunk, out) {
          signal?.throwIfAborted();
          loaded += chunk.byteLength;
          report?.({ file: name, loaded, total: total! });
          out.enqueue(chunk);
        },
      }),
    );
  }
}

function readError(url: URL, e: unknown): unknown {
  if (e instanceof SeecError || (e as Error)?.name === "AbortError") return e;
  return new SeecError("io.read", `cannot read ${url.href}: ${(e as Error).message}`, {
    file: url.href,
    hint: "is this a seec artifact directory?",
  });
}

/** A directory given as a URL, an absolute URL string, or (in Node) a filesystem path. */
export async function directoryUrl(dir: string | URL): Promise<URL> {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) return directoryUrl(new URL(dir));
  if (typeof globalThis.location !== "undefined") return directoryUrl(new URL(dir, globalThis.location.href));
  const { pathToFileURL } = await nodeModule<typeof import("node:url")>("url");
  return directoryUrl(pathToFileURL(dir));
}
