/**
 * Threads for a module built with `seec build --threads n` (targets/wasm/kernels/threads.ts): one
 * shared memory, the calling thread's instance and n − 1 workers, each an instance of the same
 * module on that memory, sitting in its work() loop. The workers are small scripts of their own (no
 * file to serve: a Blob URL in browsers, eval'd code in Node), so an app that bundled the runtime
 * needs nothing more.
 *
 * Shared memory needs SharedArrayBuffer: in browsers only on cross-origin isolated pages (served with
 * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, as
 * `seec serve` does). Where it is missing, load() runs the module built for one thread instead.
 */
import { SeecError } from "./errors.js";
import { importAtRuntime, inNode } from "./fetch.js";

/** The memory a module for threads imports (env.memory), and the instance of the calling thread. */
export interface Threads {
  instance: WebAssembly.Instance;
  /** Threads running each split job, the caller included. */
  count: number;
  /** Why a worker stopped after it started (an error, or its exit), where one did: the model cannot run. */
  readonly lost?: string;
  /** Ends the workers (dispose()). */
  stop(): void;
}

interface Exports {
  setThreads(n: number): void;
  /** The most threads the module's scratch has parts for (seec build --threads n). */
  THREADS: WebAssembly.Global;
}

/** A worker running one thread of the model. */
interface Thread {
  stop(): void;
}

/** How many threads load() runs where a module allows `most`: the option, else the machine's cores, at most `most`. */
export async function threadCount(most: number, wanted?: number): Promise<number> {
  return Math.max(1, Math.min(most, wanted ?? (await cores())));
}

/**
 * The cores to use: in Node, os.availableParallelism() (Node 20 has no navigator); in a browser, all
 * but one of navigator.hardwareConcurrency, left to the page and the browser's own threads: threads
 * that wait by spinning lose whole time slices to them (on this two-core machine, Chromium's median
 * decode on two threads was 0.86–0.95x one thread's, while Node's was 1.5–1.85x).
 */
async function cores(): Promise<number> {
  if (inNode()) return (await importAtRuntime<typeof import("node:os")>("node:os")).availableParallelism();
  const g = globalThis as { navigator?: { hardwareConcurrency?: number } };
  return Math.max(1, (g.navigator?.hardwareConcurrency ?? 1) - 1);
}

/** Whether this engine can share memory between threads (in a browser: a cross-origin isolated page with Workers). */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer !== "function") return false;
  if (inNode()) return true;
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  return g.crossOriginIsolated === true && typeof g.Worker === "function";
}

/** Instantiates `module` on a new shared memory of `pages`, with `count` − 1 workers on it (at most the module's parts). */
export async function startThreads(module: WebAssembly.Module, pages: number, count: number): Promise<Threads> {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const instance = await WebAssembly.instantiate(module, imports(memory));
  const exports = instance.exports as unknown as Exports;
  count = Math.min(count, exports.THREADS.value as number);
  const workers: Thread[] = [];
  let lost: string | undefined,
    stopped = false;
  const stop = () => {
    stopped = true;
    workers.forEach((w) => w.stop());
  };
  const onLost = (why: string) => {
    if (!stopped) lost ??= why;
  };
  try {
    // Each worker's instance writes the module's static data again as it starts: all start before the first job.
    for (let tid = 1; tid < count; tid++) workers.push(await startWorker(module, memory, tid, onLost));
  } catch (e) {
    stop();
    throw e;
  }
  exports.setThreads(count);
  return {
    instance,
    count,
    get lost() {
      return lost;
    },
    stop,
  };
}

/**
 * What a module for threads imports: the shared memory, and a clock for how long the caller has
 * waited for the workers' parts (kernels/threads.ts gives them up after 10 s with none ending).
 */
function imports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return { env: { memory, now: () => performance.now() } };
}

/**
 * Instantiates the module in the worker, answers "ready", then runs work(tid) until ended. Its
 * imports are imports()'s, written out: the body is source for the worker's own realm, and a
 * function's toString() would carry whatever helpers a bundler wraps it in. A difference between
 * the two fails to link in every worker (test/runtime/threads.test.ts).
 */
const WORKER_BODY = `(module, memory, tid, post) => WebAssembly.instantiate(module, { env: { memory, now: () => performance.now() } }).then(
  (instance) => (post("ready"), instance.exports.work(tid)),
  (e) => post(String(e && e.message || e)))`;

/**
 * A worker on thread `tid`, once it says it is ready (a failure before that ends it and is
 * runtime.worker). `onLost` hears of an error or an exit after that: a job would then wait forever.
 */
async function startWorker(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  tid: number,
  onLost: (why: string) => void,
): Promise<Thread> {
  if (inNode()) {
    const { Worker: NodeWorker } = await importAtRuntime<typeof import("node:worker_threads")>("node:worker_threads");
    const code = `const { parentPort, workerData: w } = require("node:worker_threads");
(${WORKER_BODY})(w.module, w.memory, w.tid, (m) => parentPort.postMessage(m));`;
    const worker = new NodeWorker(code, { eval: true, workerData: { module, memory, tid }, name: `seec-thread-${tid}` });
    const stop = () => void worker.terminate();
    let started = false;
    await ready(
      (on) => worker.once("message", on),
      (on) => {
        worker.on("error", (e) => (started ? onLost(e.message) : on(e.message)));
        worker.on("exit", (code) => (started ? onLost(`its worker exited (code ${code})`) : on(`its worker exited (code ${code})`)));
      },
      stop,
    );
    started = true;
    worker.unref(); // a worker waiting for work does not keep the process alive
    return { stop };
  }
  const url = URL.createObjectURL(
    new Blob([`onmessage = ({ data: d }) => (${WORKER_BODY})(d.module, d.memory, d.tid, (m) => postMessage(m));`], {
      type: "text/javascript",
    }),
  );
  let worker: Worker;
  try {
    worker = new Worker(url, { name: `seec-thread-${tid}` });
  } catch (e) {
    // A Content-Security-Policy that allows no blob: workers refuses it here (or with an error event below).
    throw new SeecError("runtime.worker", `a thread of the model failed to start: ${(e as Error).message}`, {
      hint: "load with threads: 1",
    });
  } finally {
    URL.revokeObjectURL(url);
  }
  const stop = () => worker.terminate();
  let started = false;
  worker.postMessage({ module, memory, tid });
  await ready(
    (on) => worker.addEventListener("message", (e) => on(e.data), { once: true }),
    (on) =>
      worker.addEventListener("error", (e) => {
        const why = e.message || "its worker failed";
        if (started) onLost(why);
        else on(why);
      }),
    stop,
  );
  started = true;
  return { stop };
}

/** Resolves on the worker's "ready"; anything else it says, or an error first, ends it and is runtime.worker. */
function ready(
  onMessage: (on: (m: unknown) => void) => void,
  onError: (on: (why: string) => void) => void,
  stop: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      stop();
      reject(new SeecError("runtime.worker", `a thread of the model failed to start: ${why}`, { hint: "load with threads: 1" }));
    };
    onMessage((m) => (m === "ready" ? resolve() : fail(String(m))));
    onError(fail);
  });
}
