/** Reads an artifact file by URL: fetch in browsers, the filesystem for file: URLs in Node. */
import { SeecError } from "./errors.js";

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

export async function readBytes(url: URL): Promise<Uint8Array> {
  try {
    if (url.protocol === "file:") {
      const fs = await nodeModule<typeof import("node:fs/promises")>("fs/promises");
      const data = await fs.readFile(url);
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw readError(url, e);
  }
}

/**
 * Reads a file straight into `target` when it has exactly target's length (in Node, with no
 * copy in between: a model's weights go directly into the module's memory). Returns the file's
 * length; the target is untouched when that differs.
 */
export async function readInto(url: URL, target: Uint8Array): Promise<number> {
  try {
    if (url.protocol === "file:") {
      const fs = await nodeModule<typeof import("node:fs/promises")>("fs/promises");
      const file = await fs.open(url);
      try {
        const { size } = await file.stat();
        if (size !== target.byteLength) return size;
        for (let at = 0; at < size;) {
          const { bytesRead } = await file.read(target, at, size - at, at);
          if (bytesRead === 0) throw new Error("the file ended early");
          at += bytesRead;
        }
        return size;
      } finally {
        await file.close();
      }
    }
    const bytes = await readBytes(url);
    if (bytes.byteLength === target.byteLength) target.set(bytes);
    return bytes.byteLength;
  } catch (e) {
    throw e instanceof SeecError ? e : readError(url, e);
  }
}

function readError(url: URL, e: unknown): SeecError {
  return new SeecError("io.read", `cannot read ${url.href}: ${(e as Error).message}`, {
    file: url.href,
    hint: "is this a seec artifact directory?",
  });
}

export async function readJson<T>(url: URL): Promise<T> {
  const bytes = await readBytes(url);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new SeecError("input.json", `${url.pathname} is not valid JSON: ${(e as Error).message}`, { file: url.href });
  }
}

/** A directory given as a URL, an absolute URL string, or (in Node) a filesystem path. */
export async function directoryUrl(dir: string | URL): Promise<URL> {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) return directoryUrl(new URL(dir));
  if (typeof globalThis.location !== "undefined") return directoryUrl(new URL(dir, globalThis.location.href));
  const { pathToFileURL } = await nodeModule<typeof import("node:url")>("url");
  return directoryUrl(pathToFileURL(dir));
}
