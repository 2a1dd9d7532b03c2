/** What `seec inspect` reports: ops, parameters by tensor group, and the memory plan. */
import { bindShape, elementCount, valueBytes, type Graph } from "./ir/graph.js";
import type { MemoryPlan } from "./passes/plan-memory.js";

export interface Inspection {
  name: string;
  model: Graph["model"];
  ops: Record<string, number>;
  /** Parameters by group: the tensor name without its layer index and ".weight". */
  parameters: Record<string, { tensors: number; parameters: number; bytes: number }>;
  totalParameters: number;
  memory: MemoryPlan & { totalBytes: number };
}

export function inspectGraph(graph: Graph, plan: MemoryPlan): Inspection {
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  const parameters: Inspection["parameters"] = {};
  let totalParameters = 0;
  for (const v of graph.values.values()) {
    if (v.kind !== "const") continue;
    const group = v.name.replace(/^layers\.\d+\./, "layers.*.").replace(/\.weight$/, "");
    const count = elementCount(bindShape(v.shape, {}));
    const g = (parameters[group] ??= { tensors: 0, parameters: 0, bytes: 0 });
    g.tensors++;
    g.parameters += count;
    g.bytes += valueBytes(v);
    totalParameters += count;
  }
  return {
    name: graph.name,
    model: graph.model,
    ops,
    parameters,
    totalParameters,
    memory: { ...plan, totalBytes: plan.weights.bytes + plan.arena.bytes + plan.state.bytes },
  };
}
