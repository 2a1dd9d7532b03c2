/**
 * Distillation on several threads: each step's batch is cut into one share per worker thread, which
 * runs it (distill-tasks.ts) on its own copy of the model and its own kernels, reading the
 * parameters Adam updates from shared memory. An encoder's loss couples the batch's sentences, so
 * its step goes in two rounds: every share forward, the loss here on all the sentence embeddings,
 * then every share backward from the gradients of its outputs. The gradients come back in share
 * order and are summed in that order: the same threads give the same numbers.
 */
import { Worker } from "node:worker_threads";
import { SeecError, type ErrorCode } from "../../runtime/errors.js";
import { addRow, encoderLoss, type Gradients, type LossWeights, type Runner, type ShareForward } from "./distill-tasks.js";

/** What a worker sends back from the backward half: rows of the table's gradient, and the weights'. */
export interface ShareGradients {
  ids: Int32Array;
  rows: Float32Array;
  weights: [string, Float32Array][];
}

/**
 * `version` counts the updates of the weights that train: a thread refreshes its kernels' copies
 * of them when it sees a new one, not at every share (held-out scoring sends many).
 */
export type Request =
  { kind: "begin"; ids: number[]; B: number; train: boolean; version: number } | { kind: "finish"; grads?: Float32Array[] };

/** Starts `count` workers running `script` on `init` (its workerData); resolves once all are ready. */
export async function startWorkers(script: URL, init: unknown, count: number, weights: LossWeights): Promise<Runner> {
  const threads = Array.from({ length: count }, () => new Thread(new Worker(script, { workerData: init })));
  try {
    await Promise.all(threads.map((t) => t.ready));
  } catch (e) {
    await Promise.all(threads.map((t) => t.close()));
    throw e;
  }

  let version = 0;
  const run = async (batch: number[], train: boolean) => {
    const shares = cut(batch, threads.length);
    const ahead = await Promise.all(
      shares.map((ids, i) => threads[i].ask<ShareForward>({ kind: "begin", ids, B: batch.length, train, version })),
    );
    let loss = ahead.reduce((s, a) => s + a.loss, 0);
    let grads: Float32Array[][] | undefined;
    if (ahead[0]?.outputs) {
      const whole = encoderLoss(
        ahead.flatMap((a) => a.outputs!.student),
        ahead.flatMap((a) => a.outputs!.teacher),
        weights,
      );
      loss += whole.loss;
      let at = 0;
      grads = shares.map((s) => whole.grads.slice(at, (at += s.length)));
    }
    if (!train) return { loss };
    const back = await Promise.all(shares.map((_, i) => threads[i].ask<ShareGradients>({ kind: "finish", grads: grads?.[i] })));
    const merged: Gradients = { dTable: new Map(), dWeights: new Map() };
    for (const g of back) {
      const dim = g.ids.length ? g.rows.length / g.ids.length : 0;
      g.ids.forEach((id, r) => addRow(merged.dTable, id, g.rows.subarray(r * dim, (r + 1) * dim)));
      for (const [name, d] of g.weights) addRow(merged.dWeights, name, d);
    }
    return { loss, ...merged };
  };
  return {
    loss: async (batch) => (await run(batch, false)).loss,
    step: (batch) => run(batch, true) as Promise<{ loss: number } & Gradients>,
    changed: () => void version++,
    close: async () => void (await Promise.all(threads.map((t) => t.close()))),
  };
}

/** The batch in `n` contiguous shares as even as they come (empty ones dropped). */
function cut(batch: number[], n: number): number[][] {
  const shares: number[][] = [];
  for (let i = 0, at = 0; i < n; i++) {
    const size = Math.floor(batch.length / n) + (i < batch.length % n ? 1 : 0);
    if (size) shares.push(batch.slice(at, (at += size)));
  }
  return shares;
}

/** One worker, asked one thing at a time; its errors come back as the SeecErrors they were. */
class Thread {
  readonly ready: Promise<unknown>;
  private waiting?: { resolve: (m: unknown) => void; reject: (e: unknown) => void };
  private failed?: unknown;

  constructor(private readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
    worker.on("message", (m: { error?: ErrorFields }) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (m.error) w?.reject(revive(m.error));
      else w?.resolve(m);
    });
    worker.on("error", (e) => this.fail(e));
    worker.on("exit", (code) => this.fail(new SeecError("internal.thread", `a distillation thread stopped (exit code ${code})`)));
  }

  ask<T>(request: Request): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<T>((resolve, reject) => {
      this.waiting = { resolve: resolve as (m: unknown) => void, reject };
      this.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.failed ??= new SeecError("internal.thread", "the distillation threads were closed");
    await this.worker.terminate();
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    this.waiting?.reject(this.failed);
    this.waiting = undefined;
  }
}

export interface ErrorFields {
  code?: string;
  message: string;
  file?: string;
  at?: string;
  hint?: string;
}

/** An error as a worker posts it (SeecError's fields survive; other errors keep their message). */
export function errorFields(e: unknown): ErrorFields {
  if (e instanceof SeecError) return { code: e.code, message: e.message, file: e.file, at: e.at, hint: e.hint };
  return { message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

function revive(f: ErrorFields): Error {
  if (f.code) return new SeecError(f.code as ErrorCode, f.message, { file: f.file, at: f.at, hint: f.hint });
  return new Error(`a distillation thread failed: ${f.message}`);
}
