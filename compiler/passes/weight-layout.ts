/**
 * layoutWeights: stores each Linear's weights in the order the SIMD wasm kernel for its model's
 * size reads fastest (attribute `layout`, ir/ops/linear.ts's WeightLayout):
 *
 * - a model whose matmul weights stay in cache between calls (at most CACHED_WEIGHT_BYTES) gets
 *   them transposed, [K, N], "kn" (kernels/linear-kn.ts: broadcast activations, outputs as
 *   accumulators, no horizontal sums): there instructions bound the matmul;
 * - a bigger one, whose weights stream from memory on every call, gets each group of four rows
 *   interleaved by four columns, "n4" (kernels/linear-n4.ts): the row-major kernel's blocking over
 *   one sequential stream per group, read through one pointer. A weight whose N or K is not a
 *   multiple of 4 stays [N, K] (kernels/linear.ts).
 *
 * Measured on this project's machine (4 MiB L2), same process: stories260K (1 MiB of weights)
 * prefill of 32 tokens 6-10% faster transposed; USE-Lite (26 MiB) 5-20% slower transposed for
 * sentences of 4 to 16 tokens, and its matmuls 4-10% faster interleaved than row-major. A weight
 * read by anything but Linear's weight input (a tied embedding, also a Gather table) is left alone.
 */
import { deferredValue, graphIndex, isDeferred, valueBytes, type Graph, type Value } from "../ir/graph.js";
import { storeWeights, type WeightLayout } from "../ir/ops/linear.js";

/** Models whose Linear weights add up to at most this many bytes get them transposed: half a big core's L2. */
export const CACHED_WEIGHT_BYTES = 2 * 1024 * 1024;

export function layoutWeights(graph: Graph): { graph: Graph; layout?: WeightLayout; moved: number } {
  const weights = new Set(graph.nodes.filter((n) => n.op.endsWith("Linear")).map((n) => n.inputs[1]));
  const bytes = [...weights].reduce((sum, w) => sum + (graph.values.get(w)!.kind === "const" ? valueBytes(graph.values.get(w)!) : 0), 0);
  const layout: WeightLayout = bytes <= CACHED_WEIGHT_BYTES ? "kn" : "n4";
  const { readers } = graphIndex(graph);
  /** Weight name -> its copy in `layout`, for weights that only Linears read, as their weights. */
  const moved = new Map<string, Value>();
  for (const node of graph.nodes) {
    const w = node.op === "Linear" && node.attrs.layout === undefined ? graph.values.get(node.inputs[1])! : undefined;
    if (!w || moved.has(w.name) || w.kind !== "const" || w.dtype !== "f32") continue;
    if (layout === "n4" && w.shape.some((d) => (d as number) % 4)) continue;
    if (readers.get(w.name)!.every((r) => r.op === "Linear" && r.inputs.indexOf(w.name) === 1 && r.inputs.lastIndexOf(w.name) === 1))
      moved.set(w.name, stored(w, layout));
  }
  if (!moved.size) return { graph, moved: 0 };
  // The copies take the originals' places, so weights.bin keeps its order.
  const values = new Map([...graph.values].map(([name, v]) => (moved.has(name) ? [moved.get(name)!.name, moved.get(name)!] : [name, v])));
  const nodes = graph.nodes.map((n) => {
    const t = n.op === "Linear" ? moved.get(n.inputs[1]) : undefined;
    return t ? { ...n, inputs: n.inputs.map((i, j) => (j === 1 ? t.name : i)), attrs: { ...n.attrs, layout } } : n;
  });
  return { graph: { ...graph, values, nodes }, layout, moved: moved.size };
}

/** w ([N, K] as written) stored in `layout`, as a value of its own name (read from w's file each time, where w's values are). */
function stored(w: Value, layout: WeightLayout): Value {
  const [N, K] = w.shape as number[];
  const name = `${w.name}.${layout}`,
    shape = layout === "kn" ? [K, N] : [N, K];
  if (isDeferred(w)) return deferredValue(name, shape, { length: N * K, read: () => storeWeights(w.data as Float32Array, N, K, layout) });
  return { ...w, name, shape, data: storeWeights(w.data as Float32Array, N, K, layout) };
}
