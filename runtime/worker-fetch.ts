/**
 * load(dir, { worker: true, fetch }): a function cannot be sent to a worker, so the worker's reads
 * come back to the page, which runs the caller's fetch and sends each response's status, media
 * type and body chunks (copied once, then moved) to the worker, where they become a Response again.
 * An abort in the worker cancels the page's fetch.
 */
import { SeecError } from "./errors.js";
import type { Fetch } from "./fetch.js";
import { fromWire, toWire, type FetchAnswer, type FetchAsk } from "./worker-protocol.js";

/** The worker's side: a fetch that asks the page, and the handler for the page's answers. */
export function fetchThroughPage(ask: (m: FetchAsk) => void): { fetch: Fetch; answer(a: FetchAnswer): void } {
  const open = new Map<
    number,
    { head(status: number, type: string | null): void; body: ReadableStreamDefaultController<Uint8Array>; fail(e: unknown): void }
  >();
  let next = 1;
  const fetch: Fetch = (url, { signal }) =>
    new Promise((resolve, reject) => {
      const n = next++;
      let body!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => void (body = c),
        cancel: () => (open.delete(n), ask({ fetch: n, cancel: true })),
      });
      const fail = (e: unknown) => {
        open.delete(n);
        reject(e);
        body.error(e);
      };
      open.set(n, {
        head: (status, type) => {
          try {
            resolve(new Response(stream, { status, headers: type ? { "content-type": type } : {} }));
          } catch (e) {
            // A status no Response with a body can have (204, 304): the read fails, as on the page.
            ask({ fetch: n, cancel: true });
            fail(e);
          }
        },
        body,
        fail,
      });
      signal?.addEventListener("abort", () => (ask({ fetch: n, cancel: true }), fail(signal.reason)), { once: true });
      ask({ fetch: n, url });
    });
  return {
    fetch,
    answer(a) {
      const r = open.get(a.fetched);
      if (!r) return;
      if ("status" in a) r.head(a.status, a.type);
      else if ("chunk" in a) r.body.enqueue(a.chunk);
      else if ("end" in a) (open.delete(a.fetched), r.body.close());
      else r.fail(fromWire(a.error));
    },
  };
}

/**
 * The page's side: runs the caller's fetch for each ask, sending back what arrives; `stop` aborts
 * every fetch still running (the worker is gone: its cancels will not come).
 */
export function servePageFetches(
  custom: Fetch,
  send: (a: FetchAnswer, transfer?: Transferable[]) => void,
): { serve(ask: FetchAsk): void; stop(): void } {
  const running = new Map<number, AbortController>();
  const stop = () => running.forEach((c) => c.abort());
  const serve = (ask: FetchAsk): void => {
    if ("cancel" in ask) return void running.get(ask.fetch)?.abort();
    const n = ask.fetch;
    const controller = new AbortController();
    running.set(n, controller);
    (async () => {
      const res = await custom(ask.url, { signal: controller.signal });
      // Only a status a Response can be made with crosses (a custom fetch may make anything).
      const status = res.status >= 200 && res.status <= 599 ? res.status : res.ok ? 200 : 500;
      send({ fetched: n, status, type: res.headers.get("content-type") });
      if (!res.body) throw new SeecError("io.read", `the fetch given to load() answered ${ask.url} with no body`);
      const reader = res.body.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        if (controller.signal.aborted) return void reader.cancel().catch(() => {});
        // A copy, moved: a custom fetch may hand out bytes it keeps (a cache in memory), which moving would empty.
        const chunk = r.value.slice();
        send({ fetched: n, chunk }, [chunk.buffer]);
      }
      send({ fetched: n, end: true });
    })()
      .catch((e) => send({ fetched: n, error: toWire(e) }))
      .finally(() => running.delete(n));
  };
  return { serve, stop };
}
