/**
 * The passes a target's policy names (targets/registry.ts), by name: each takes the graph after
 * the frontend and the passes the user asks for (applySee, quantizeInt8), and returns the graph
 * its backend compiles. They run in the order a target lists them.
 */
import type { Graph } from "../ir/graph.js";
import { fuseEpilogues } from "./fuse-epilogues.js";
import { poolEarly } from "./pool-early.js";
import { layoutWeights } from "./weight-layout.js";

export const TARGET_PASSES = {
  /** A mean over the tokens moves ahead of the Adds and (Q)Linears that only feed it. */
  poolEarly: (graph) => poolEarly(graph).graph,
  /** A ReLU and a residual add fold into the matmul before them. */
  fuseEpilogues: (graph) => fuseEpilogues(graph).graph,
  /** The SIMD kernels' weight order (the scalar kernels and WGSL read weights as written). */
  layoutWeights: (graph) => layoutWeights(graph).graph,
} satisfies Record<string, (graph: Graph) => Graph>;

export type PassName = keyof typeof TARGET_PASSES;

/** The graph after the named passes, in order. */
export function runPasses(graph: Graph, passes: readonly PassName[]): Graph {
  return passes.reduce((g, name) => TARGET_PASSES[name](g), graph);
}
