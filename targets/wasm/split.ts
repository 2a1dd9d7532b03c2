/**
 * A module for threads (seec build --threads): which of forward()'s nodes split across threads,
 * each thread's part of each as a case of the program's share(), and the worker's entry point.
 * The kernels' side (the mailbox, parallel(), serve(), cut()) is kernels/threads.ts; how a node's
 * call is cut into parts is its binding's `share` (bindings.ts).
 */
import { bindShape, maxDims, type Graph, type Node } from "../../compiler/ir/graph.js";
import type { CallContext, Import, ShareAxis } from "./binding.js";
import { binding } from "./bindings.js";

/** A thread's kernel scratch holds at least attention's scores (kernels/attend-row.ts SCORES_BYTES). */
export const THREAD_SCRATCH_BYTES = 512;

/**
 * The smallest job worth splitting, in multiply-adds a token: below it, waking the workers (and,
 * on a busy machine, waiting for one the system has descheduled) costs more than their part saves.
 * 256×256 and up: stories15M's projections split; stories260K (its 512×64 classifier the largest)
 * runs on one thread.
 */
export const SPLIT_WORK = 65536;

export interface Split {
  /** The job number of each node forward() splits. */
  jobs: Map<Node, number>;
  /** share()'s case for each job, in job order. */
  cases: string[];
  /** The kernels share() and the worker's loop call. */
  kernels: Import[];
}

/** The forward nodes split across threads, and each thread's part of each (kernels/threads.ts). */
export function splitNodes(graph: Graph, forward: Node[], ctx: CallContext): Split {
  const dims = maxDims(graph);
  const size = (t: string) => bindShape(graph.values.get(t)!.shape, dims);
  const jobs = new Map<Node, number>();
  const cases: string[] = [];
  const kernels: Import[] = [
    ["threads", "cut"],
    ["threads", "parallel"],
    ["threads", "serve"],
    ["threads", "setThreads"],
  ];
  for (const node of forward) {
    const share = binding(node).share;
    if (!share || share.work(node, size) < SPLIT_WORK) continue;
    const all = share.axes(node);
    const axes = all.filter((axis) => share.count(node, ctx, axis) !== 1);
    let chosen = axes;
    if (all.includes("rows")) {
      const rows = share.count(node, ctx, "rows");
      // share() knows T, not the other symbolic dimensions (B, texts: the pooled rows after the mean are few).
      if (typeof rows === "string" && rows !== "T") continue;
      // One token: its outputs; several: its rows; a count known only at run time: which, by T.
      if (typeof rows === "number") chosen = axes.filter((a) => a === (rows === 1 ? "columns" : "rows"));
    }
    if (chosen.length === 0) continue;
    const part = (axis: ShareAxis, indent: string) => {
      const count = share.count(node, ctx, axis);
      const call = share.call(node, ctx, { axis, start: "start", count: "count", scratch: "scratch" });
      const unit = share.unit?.(axis) ?? 4;
      return [
        `${indent}const start = cut(${count}, ${unit}, tid, nth), count = cut(${count}, ${unit}, tid + 1, nth) - start;`,
        `${indent}if (count > 0) ${call};`,
      ];
    };
    const what = (axis: ShareAxis) => ({ rows: "its tokens", columns: "its outputs", heads: "its kv heads" })[axis];
    const body =
      chosen.length === 1
        ? [`    case ${jobs.size}: { // ${node.name}: ${what(chosen[0])}`, ...part(chosen[0], "      ")]
        : [
            `    case ${jobs.size}: { // ${node.name}: one token's outputs, or its tokens`,
            `      if (${share.count(node, ctx, "rows")} == 1) {`,
            ...part("columns", "        "),
            `      } else {`,
            ...part("rows", "        "),
            `      }`,
          ];
    jobs.set(node, jobs.size);
    for (const k of share.kernels?.(node) ?? []) kernels.push(k);
    cases.push([...body, `      break;`, `    }`].join("\n"));
  }
  return { jobs, cases, kernels };
}

/** share(), each thread's part of every split node, and the worker's entry point. */
export function threadSection({ cases }: Split, threads: number): string[] {
  return [
    `/** Thread tid's part of forward()'s job (a split node) over T tokens, nth threads sharing it (kernels/threads.ts). */`,
    `function share(job: i32, T: i32, tid: i32, nth: i32): void {`,
    `  const scratch = SCRATCH + <usize>tid * SCRATCH_BYTES;`,
    `  switch (job) {`,
    ...cases,
    `  }`,
    `}`,
    ``,
    `/** A worker thread's loop: thread tid's part of every job forward() posts, until the host ends the worker. */`,
    `export function work(tid: i32): void {`,
    `  serve(tid, share, SCRATCH + <usize>tid * SCRATCH_BYTES);`,
    `}`,
    ``,
    `export { setThreads };`,
    ``,
    `/** The most threads the scratch has parts for: the runtime starts no more. */`,
    `export const THREADS: i32 = ${threads};`,
    ``,
  ];
}
