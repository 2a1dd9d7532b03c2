/**
 * transposeSmallWeights: when a model's matmul weights are small enough to stay in cache between
 * calls, its Linears get them stored transposed, [K, N] (attribute `layout: "kn"`), for the SIMD
 * wasm kernel that reads them that way (kernels/linear-kn.ts: broadcast activations, outputs as
 * accumulators, no horizontal sums). A model whose weights stream from memory on every call keeps
 * [N, K]: there the weights' bytes bound the matmul, and linear() reads each row in one run.
 *
 * Measured on this project's machine (4 MiB L2), same process: stories260K (1 MiB of weights)
 * prefill of 32 tokens 6-10% faster transposed; USE-Lite (26 MiB) 5-20% slower transposed for
 * sentences of 4 to 16 tokens. A weight read by anything but Linear's weight input (a tied
 * embedding, also a Gather table) is left alone.
 */
import { graphIndex, type Graph, type Value } from "../ir/graph.js";

/** Models whose Linear weights add up to at most this many bytes get them transposed: half a big core's L2. */
export const CACHED_WEIGHT_BYTES = 2 * 1024 * 1024;

export function transposeSmallWeights(graph: Graph): { graph: Graph; transposed: number } {
  const weights = new Set(graph.nodes.filter((n) => n.op.endsWith("Linear")).map((n) => n.inputs[1]));
  const bytes = [...weights].reduce((sum, w) => sum + (graph.values.get(w)!.data?.byteLength ?? 0), 0);
  if (bytes > CACHED_WEIGHT_BYTES) return { graph, transposed: 0 };
  const { readers } = graphIndex(graph);
  /** Weight name -> its transposed copy, for weights that only Linears read, as their weights. */
  const moved = new Map<string, Value>();
  for (const node of graph.nodes) {
    const w = node.op === "Linear" && node.attrs.layout === undefined ? graph.values.get(node.inputs[1])! : undefined;
    if (!w || moved.has(w.name) || w.kind !== "const" || w.dtype !== "f32") continue;
    if (readers.get(w.name)!.every((r) => r.op === "Linear" && r.inputs.indexOf(w.name) === 1 && r.inputs.lastIndexOf(w.name) === 1))
      moved.set(w.name, { ...transpose(w), name: `${w.name}.kn` });
  }
  if (!moved.size) return { graph, transposed: 0 };
  // The copies take the originals' places, so weights.bin keeps its order.
  const values = new Map([...graph.values].map(([name, v]) => (moved.has(name) ? [moved.get(name)!.name, moved.get(name)!] : [name, v])));
  const nodes = graph.nodes.map((n) => {
    const t = n.op === "Linear" ? moved.get(n.inputs[1]) : undefined;
    return t ? { ...n, inputs: n.inputs.map((i, j) => (j === 1 ? t.name : i)), attrs: { ...n.attrs, layout: "kn" } } : n;
  });
  return { graph: { ...graph, values, nodes }, transposed: moved.size };
}

function transpose(w: Value): Value {
  const [N, K] = w.shape as number[];
  const data = w.data as Float32Array, t = new Float32Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t[k * N + n] = data[n * K + k];
  return { ...w, shape: [K, N], data: t };
}
