/**
 * A distillation thread (distill-threads.ts starts it): builds the same teacher and student as the
 * main thread over the shared parameters, then runs the shares of batches it is sent.
 */
import { parentPort, workerData } from "node:worker_threads";
import { trainingKernelsOn } from "../../targets/wasm/train-kernels.js";
import { pair, type WorkerInit } from "./distill.js";
import { errorFields, type Request, type ShareGradients } from "./distill-threads.js";
import type { Example } from "./distill-tasks.js";

const port = parentPort!;
try {
  const init = workerData as WorkerInit;
  const kernels = init.kernels ? trainingKernelsOn(init.kernels) : undefined;
  const { makeTask, refresh, stale } = pair(init.graph, init.factors, { ...init.opts, kernels }, undefined, init.own);
  const task = makeTask();
  const examples: Example[] = init.examples;
  let version = 0;
  port.on("message", (m: Request) => {
    try {
      if (m.kind === "begin") {
        // The main thread updated the weights that train since this thread's last share.
        if (m.version !== version) {
          version = m.version;
          stale();
        }
        const share = m.ids.map((i) => examples[i]);
        refresh(share);
        port.postMessage(task.begin(share, m.B, m.train));
        return;
      }
      const g = task.finish(m.grads);
      const dim = g.dTable.values().next().value?.length ?? 0;
      const out: ShareGradients = {
        ids: Int32Array.from(g.dTable.keys()),
        rows: new Float32Array(g.dTable.size * dim),
        weights: [...g.dWeights],
      };
      [...g.dTable.values()].forEach((row, r) => out.rows.set(row, r * dim));
      // Handed over, not copied: every array here is this share's own.
      port.postMessage(out, [out.ids.buffer, out.rows.buffer, ...out.weights.map(([, d]) => d.buffer)] as ArrayBuffer[]);
    } catch (e) {
      port.postMessage({ error: errorFields(e) });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ error: errorFields(e) });
}
