/**
 * What a page and the worker running its model say to each other (load(dir, { worker: true })).
 * Each call has an id; the worker answers it with a value or an error, and before that with
 * progress (load) or pieces (stream: text; streamTokens: ids). Errors cross as plain fields and
 * become SeecErrors (or AbortErrors) again on the other side, codes and hints kept.
 */
import { SeecError, type ErrorCode } from "./errors.js";
import type { Progress } from "./fetch.js";
import type { GenerationStats } from "./generation.js";
import type { Manifest } from "./manifest.js";
import type { TokenizerSpec } from "./tokenizers/index.js";

/** The worker's name, by which the artifact's index.mjs knows, in a worker, that it is to host a model. */
export const WORKER_NAME = "seec-model";
/** Where a Node worker_thread's bootstrap leaves its parent port for index.mjs to find. */
export const NODE_PORT = Symbol.for("seec.worker.port");

export type Method = "load" | "run" | "step" | "embed" | "stream" | "streamTokens";

export type Request = { id: number; method: Method; args: unknown[] } | { id: number; abort: true } | FetchAnswer;

export type Reply =
  | { ready: true }
  | { id: number; progress: Progress }
  | { id: number; piece: string | number; stats: GenerationStats }
  | { id: number; value: unknown; stats?: GenerationStats }
  | { id: number; error: WireError }
  | FetchAsk;

/** The worker's reads through the page's own fetch (worker-fetch.ts). Worker -> page: read this URL; or stop reading it. */
export type FetchAsk = { fetch: number; url: string } | { fetch: number; cancel: true };
/** Page -> worker: the response's head, a chunk of its body, its end, or why it failed. */
export type FetchAnswer =
  | { fetched: number; status: number; type: string | null }
  | { fetched: number; chunk: Uint8Array }
  | { fetched: number; end: true }
  | { fetched: number; error: WireError };

/** What load() in the worker tells the page about the model. */
export interface Loaded {
  manifest: Manifest;
  backend: string;
  adapter?: string;
  fallback?: string;
  threads: number;
  tokenizer?: TokenizerSpec;
}

export interface WireError {
  name: string;
  message: string;
  code?: ErrorCode;
  file?: string;
  at?: string;
  hint?: string;
}

export function toWire(e: unknown): WireError {
  if (e instanceof SeecError) return { name: e.name, message: e.message, code: e.code, file: e.file, at: e.at, hint: e.hint };
  const err = e as Error | undefined;
  return { name: err?.name ?? "Error", message: String(err?.message ?? e) };
}

export function fromWire(w: WireError): Error {
  if (w.code) return new SeecError(w.code, w.message, { file: w.file, at: w.at, hint: w.hint });
  if (w.name === "AbortError") return new DOMException(w.message, "AbortError");
  return Object.assign(new Error(w.message), { name: w.name });
}

/** The buffers of typed arrays to move (not copy) to the other side; a view on part of a buffer is copied first. */
export function movable<T extends ArrayBufferView>(x: T): T {
  return x.byteOffset === 0 && x.byteLength === x.buffer.byteLength && x.buffer instanceof ArrayBuffer
    ? x
    : ((x as unknown as { slice(): T }).slice() as T);
}
