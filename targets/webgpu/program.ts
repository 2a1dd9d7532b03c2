/** A planned graph as a WebGPU program (model.webgpu.json): buffers per tensor, WGSL dispatches in order. */
import { isSymbolic } from "../../compiler/ir/affine.js";
import { bindShape, DTYPE_BYTES, elementCount, maxDims } from "../../compiler/ir/graph.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import { SeecError } from "../../runtime/errors.js";
import { groupsFor, type GpuProgram, type GpuTensor } from "../../runtime/webgpu-program.js";
import { kernelsFor, type KernelContext } from "./kernels.js";
import { dynamicShapes } from "./wgsl.js";

/** maxComputeWorkgroupsPerDimension: what every WebGPU adapter allows. */
const MAX_GROUPS = 65535;

/** Buffers hold whole 4-byte words (int8 weights are read as u32). */
const words = (bytes: number) => Math.max(4, Math.ceil(bytes / 4) * 4);

/** The generators that read attributes holding T (a graph built for any length): the rest refuse such a node by name. */
const SYMBOLIC_ATTRS = new Set(["Map", "Copy", "Concat", "MatMul", "Reduce", "Softmax", "ScaledAttention"]);

export function webgpuProgram({ graph, plan, init, forward }: PlannedGraph): GpuProgram {
  const symbolic = graph.nodes.find((n) => isSymbolic(n.attrs) && !SYMBOLIC_ATTRS.has(n.op));
  if (symbolic) throw dynamicShapes(`node ${symbolic.name} (${symbolic.op})`);
  const dims = maxDims(graph);
  const weights = new Map(plan.weights.entries.map((e) => [e.name, e]));
  const tensors: GpuTensor[] = [...graph.values.values()].map((v) => ({
    name: v.name,
    bytes: words(elementCount(bindShape(v.shape, dims)) * DTYPE_BYTES[v.dtype]),
    ...(weights.has(v.name) ? { weights: weights.get(v.name)!.offset } : {}),
  }));
  const spans = new Map<string, ReturnType<KernelContext["span"]>>();
  const c: KernelContext = {
    shape: (t) => graph.values.get(t)!.shape,
    dtype: (t) => graph.values.get(t)!.dtype,
    span(names) {
      const tensor = `${names[0]}..${names[names.length - 1]}`;
      let span = spans.get(tensor);
      if (!span) {
        const entries = names.map((n) => weights.get(n)!);
        const start = Math.min(...entries.map((e) => e.offset));
        tensors.push({ name: tensor, bytes: words(Math.max(...entries.map((e) => e.offset + e.bytes)) - start), weights: start });
        span = { tensor, at: entries.map((e) => (e.offset - start) / 4) };
        spans.set(tensor, span);
      }
      return span;
    },
  };
  const program = { init: init.flatMap((n) => kernelsFor(n, c)), forward: forward.flatMap((n) => kernelsFor(n, c)) };
  const longest = Math.max(1, ...Object.values(dims));
  for (const d of [...program.init, ...program.forward])
    for (const g of d.groups) {
      const count = groupsFor(g, longest);
      if (count > MAX_GROUPS)
        throw new SeecError("unsupported.webgpu", `the kernel needs ${count} workgroups along one axis; WebGPU guarantees ${MAX_GROUPS}`, {
          at: `node ${d.node}`,
          hint: "build for wasm-simd, or with a smaller --max-chunk",
        });
    }
  // Buffers only for what a kernel binds or the caller exchanges (factors read through a span need none of their own).
  const used = new Set([...graph.inputs, ...graph.outputs, ...[...program.init, ...program.forward].flatMap((d) => d.tensors)]);
  return { format: "seec-webgpu/2", tensors: tensors.filter((t) => used.has(t.name)), ...program };
}
