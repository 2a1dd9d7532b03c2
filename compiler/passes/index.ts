/**
 * The passes a target's policy names (targets/registry.ts), by name: each takes the graph after
 * the frontend and the passes the user asks for (applySee, quantizeInt8), and returns the graph
 * its backend compiles. They run in the order a target lists them.
 */
import type { Graph } from "../ir/graph.js";
import { composeCopies } from "./compose-copies.js";
import { fuseEpilogues } from "./fuse-epilogues.js";
import { DEFAULT_BATCH, packOptions, packTexts } from "./pack-texts.js";
import { poolEarly } from "./pool-early.js";
import { rowSums } from "./row-sums.js";
import { layoutWeights } from "./weight-layout.js";

/** What the build says that passes read. */
export interface PassOptions {
  /** Texts an encoder takes per call (seec build --batch; default DEFAULT_BATCH). */
  batch?: number;
}

export const TARGET_PASSES = {
  /** A copy of a copy, either a plain reshape, becomes one copy (imported graphs' chains of views). */
  composeCopies: (graph) => composeCopies(graph).graph,
  /** A mean over the tokens moves ahead of the Adds and (Q)Linears that only feed it. */
  poolEarly: (graph) => poolEarly(graph).graph,
  /** An encoder embeds several texts a call, packed end to end (after poolEarly, whose fused means it splits). */
  packTexts: (graph, { batch = DEFAULT_BATCH }) => packTexts(graph, packOptions(batch, graph.model.config.maxLength ?? 0)).graph,
  /** A ReLU and a residual add fold into the matmul before them. */
  fuseEpilogues: (graph) => fuseEpilogues(graph).graph,
  /** The SIMD kernels' weight order (the scalar kernels and WGSL read weights as written). */
  layoutWeights: (graph) => layoutWeights(graph).graph,
  /** Each int8 weight's row sums beside it, for the relaxed-SIMD int8 kernel (after fuseEpilogues, whose inputs it extends). */
  rowSums: (graph) => rowSums(graph).graph,
} satisfies Record<string, (graph: Graph, options: PassOptions) => Graph>;

export type PassName = keyof typeof TARGET_PASSES;

/** The graph after the named passes, in order. */
export function runPasses(graph: Graph, passes: readonly PassName[], options: PassOptions = {}): Graph {
  return passes.reduce((g, name) => TARGET_PASSES[name](g, options), graph);
}
