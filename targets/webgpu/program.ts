/** A planned graph as a WebGPU program (model.webgpu.json): buffers per tensor, WGSL dispatches in order. */
import { bindShape, DTYPE_BYTES, elementCount, maxDims } from "../../compiler/ir/graph.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import type { GpuProgram } from "../../runtime/webgpu-program.js";
import { kernelsFor } from "./kernels.js";

export function webgpuProgram({ graph, plan, init, forward }: PlannedGraph): GpuProgram {
  const dims = maxDims(graph);
  const weights = new Map(plan.weights.entries.map((e) => [e.name, e.offset]));
  const tensors = [...graph.values.values()].map((v) => {
    const bytes = Math.max(4, Math.ceil((elementCount(bindShape(v.shape, dims)) * DTYPE_BYTES[v.dtype]) / 4) * 4);
    return { name: v.name, bytes, ...(weights.has(v.name) ? { weights: weights.get(v.name) } : {}) };
  });
  const c = { shape: (t: string) => graph.values.get(t)!.shape };
  return { format: "seec-webgpu/1", tensors, init: init.flatMap((n) => kernelsFor(n, c)), forward: forward.flatMap((n) => kernelsFor(n, c)) };
}
