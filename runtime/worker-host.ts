/**
 * The worker's side of load(dir, { worker: true }): the artifact's own index.mjs, started in a
 * Web Worker (or a Node worker_thread) under WORKER_NAME, loads the model there and answers the
 * page's calls with the same Model API. Long calls return to the worker's event loop every 30 ms
 * (as on a page), which is where it hears an abort.
 */
import type { ReadOptions } from "./fetch.js";
import type { Model } from "./model.js";
import { specOf } from "./tokenizers/index.js";
import { fetchThroughPage } from "./worker-fetch.js";
import { movable, NODE_PORT, toWire, WORKER_NAME, type Loaded, type Reply, type Request } from "./worker-protocol.js";

interface HostPort {
  post(reply: Reply, transfer?: Transferable[]): void;
  listen(on: (request: Request) => void): void;
}

/** The port to the page where this module runs in a worker started by load(…, { worker: true }); otherwise undefined. */
function hostPort(): HostPort | undefined {
  const g = globalThis as unknown as Record<symbol | string, unknown>;
  const node = g[NODE_PORT] as
    { postMessage(m: unknown, t?: Transferable[]): void; on(e: "message", f: (m: Request) => void): void } | undefined;
  if (node) return { post: (m, t) => node.postMessage(m, t), listen: (on) => node.on("message", on) };
  const scope = g.WorkerGlobalScope as (new () => unknown) | undefined;
  if (typeof scope !== "function" || !(globalThis instanceof scope) || g.name !== WORKER_NAME) return undefined;
  const self = globalThis as unknown as {
    postMessage(m: unknown, t?: Transferable[]): void;
    addEventListener(e: "message", f: (e: MessageEvent<Request>) => void): void;
  };
  return { post: (m, t) => self.postMessage(m, t), listen: (on) => self.addEventListener("message", (e) => on(e.data)) };
}

/** What the worker's load() is given: the page's options that can cross, its signal and progress. */
type HostLoadOptions = ReadOptions & { webgpu?: boolean; threads?: number };
/** What the page sends: `fetch` true where its load() was given a fetch, which the page then runs for the worker. */
type SentLoadOptions = Omit<HostLoadOptions, "fetch"> & { fetch?: boolean };

/** Serves the page's calls where this module is a model's worker; does nothing anywhere else. */
export function hostIfWorker(load: (dir: URL, options: HostLoadOptions) => Promise<Model>): void {
  const port = hostPort();
  if (!port) return;
  let model: Model | undefined;
  const running = new Map<number, AbortController>();
  const viaPage = fetchThroughPage((ask) => port.post(ask));

  async function answer(id: number, method: string, args: unknown[], signal: AbortSignal): Promise<void> {
    if (method === "load") {
      const [dir, options] = args as [string, SentLoadOptions];
      model = await load(new URL(dir), {
        ...options,
        fetch: options.fetch ? viaPage.fetch : undefined,
        signal,
        onProgress: (progress) => port!.post({ id, progress }),
      });
      const loaded: Loaded = {
        manifest: model.manifest,
        backend: model.backend,
        adapter: model.adapter,
        fallback: model.fallback,
        threads: model.threads,
        tokenizer: model.tokenizer && specOf(model.tokenizer),
      };
      return port!.post({ id, value: loaded });
    }
    const m = model!;
    if (method === "run") {
      // Only the arrays cross a postMessage: their dims and type go beside them.
      const outputs = Object.entries(await m.run(args[0] as never, { signal })).map(
        ([k, v]) => [k, { data: movable(v), dims: v.dims, type: v.type }] as const,
      );
      return port!.post(
        { id, value: Object.fromEntries(outputs) },
        outputs.map(([, v]) => v.data.buffer),
      );
    }
    if (method === "step") {
      const logits = movable(await m.step(args[0] as number[], args[1] as number, { signal }));
      return port!.post({ id, value: logits }, [logits.buffer]);
    }
    if (method === "embed") {
      const vectors = (await m.embed(args[0] as string[], { signal })).map(movable);
      return port!.post(
        { id, value: vectors },
        vectors.map((v) => v.buffer),
      );
    }
    // stream and streamTokens: each piece (a text or an id) as it comes, then the end.
    const options = { ...(args[1] as object), signal };
    const pieces = method === "stream" ? m.stream(args[0] as string, options) : m.streamTokens(args[0] as number[], options);
    for await (const piece of pieces) port!.post({ id, piece, stats: m.stats });
    port!.post({ id, value: undefined, stats: m.stats });
  }

  port.listen((request) => {
    if ("fetched" in request) return viaPage.answer(request);
    if ("abort" in request) return void running.get(request.id)?.abort();
    const controller = new AbortController();
    running.set(request.id, controller);
    answer(request.id, request.method, request.args, controller.signal)
      .catch((e) => port.post({ id: request.id, error: toWire(e) }))
      .finally(() => running.delete(request.id));
  });
  port.post({ ready: true });
}
