/**
 * layoutWeights: stores each Linear's weights in the order the SIMD wasm kernel for its model's
 * size reads fastest (attribute `layout`, ir/ops/linear.ts's WeightLayout):
 *
 * - a model whose matmul weights stay in cache between calls (at most CACHED_WEIGHT_BYTES) gets
 *   them transposed, [K, N], "kn" (kernels/linear-kn.ts: broadcast activations, outputs as
 *   accumulators, no horizontal sums): there instructions bound the matmul;
 * - a bigger one, whose weights stream from memory on every call, and any weight that only ever
 *   multiplies a few rows fixed at build time (MATVEC_ROWS), gets each group of four rows
 *   interleaved by four columns, "n4" (kernels/linear-n4.ts): the row-major kernel's blocking over
 *   one sequential stream per group, read through one pointer. A weight whose N or K is not a
 *   multiple of 4 stays [N, K] (kernels/linear.ts).
 *
 * int8 weights (QLinear) whose N is a multiple of 4 and K of 16 get each group of four rows
 * interleaved by sixteen columns, "n4k16" (kernels/linear-q8.ts's qlinearN4), whatever the model's
 * size, and a tied table's lookup (QGather) reads the same bytes so: a 65 MB weight multiplied by
 * one token from memory 2.1-2.3x faster than the rows as written, which the hardware prefetcher
 * follows as four short streams a group; in cache, as fast. Others stay [N, K]. 4-bit weights
 * (Q4Linear) whose N is a multiple of 4 get each group of four rows' Q4_0 blocks interleaved block by
 * block, "n4" (ir/ops/linear-q4.ts's Q4Layout) for the same reason: stories110M-shaped q4 decode
 * 96.6 -> 178.2 tokens/s on wasm-simd and 115.9 -> 227.4 on wasm-relaxed (1.8x, 2.0x).
 *
 * Measured on this project's machine (4 MiB L2), same process: stories260K (1 MiB of weights)
 * prefill of 32 tokens 6-10% faster transposed; USE-Lite (26 MiB) 5-20% slower transposed for
 * sentences of 4 to 16 tokens, and its matmuls 4-10% faster interleaved than row-major. A weight
 * read by anything but Linear's weight input is left alone, except a tied embedding's table
 * (Gather), which reads "n4" too (kernels/indexing.ts's gatherN4) where its classifier takes n4.
 */
import { deferredValue, graphIndex, isDeferred, valueBytes, type Graph, type Node, type Value } from "../ir/graph.js";
import { storeWeights, type WeightLayout } from "../ir/ops/linear.js";
import { storeQ4Blocks } from "../ir/ops/linear-q4.js";

/** Models whose Linear weights add up to at most this many bytes get them transposed: half a big core's L2. */
export const CACHED_WEIGHT_BYTES = 2 * 1024 * 1024;

/**
 * Linears of at most this many rows a call, fixed at build time, take n4 whatever the model's size.
 * Measured (a 128-step ONNX LSTM, batch 1, whose step multiplies the state by R [4H, H]): n4 1.65x
 * faster than kn at H = 128 and 2.3x at H = 256; stories260K's T = 1 decode, whose row counts vary
 * with T, keeps kn.
 */
export const MATVEC_ROWS = 4;

export function layoutWeights(graph: Graph): { graph: Graph; layout?: WeightLayout; moved: number } {
  const weights = new Set(graph.nodes.filter((n) => n.op.endsWith("Linear")).map((n) => n.inputs[1]));
  const bytes = [...weights].reduce((sum, w) => sum + (graph.values.get(w)!.kind === "const" ? valueBytes(graph.values.get(w)!) : 0), 0);
  const layout: WeightLayout = bytes <= CACHED_WEIGHT_BYTES ? "kn" : "n4";
  const { readers } = graphIndex(graph);
  /** The rows a Linear multiplies in one call, where the build fixes them (Infinity where they vary with T). */
  const rowsOf = (node: Node) => {
    const rows = graph.values.get(node.inputs[0])!.shape.slice(0, -1);
    return rows.every((d): d is number => typeof d === "number") ? rows.reduce((a, d) => a * d, 1) : Infinity;
  };
  /** Weight name -> its copy in the layout chosen for it, for weights that only Linears read, as their weights. */
  const moved = new Map<string, Value>();
  for (const node of graph.nodes) {
    if (node.op === "Q4Linear") {
      const w = graph.values.get(node.inputs[1])!;
      if (
        node.attrs.layout === undefined &&
        !moved.has(w.name) &&
        w.kind === "const" &&
        (w.shape[0] as number) % 4 === 0 &&
        readers.get(w.name)!.every((r) => r.attrs.layout === undefined && readsAs(r, w.name, 1, ["Q4Linear"]))
      )
        moved.set(
          w.name,
          stored(w, "n4", (data) =>
            storeQ4Blocks(data as Int8Array, w.shape[0] as number, graph.values.get(node.inputs[0])!.shape[1] as number, "n4"),
          ),
        );
      continue;
    }
    const int8 = node.op === "QLinear";
    const w = (node.op === "Linear" || int8) && node.attrs.layout === undefined ? graph.values.get(node.inputs[1])! : undefined;
    if (!w || moved.has(w.name) || w.kind !== "const" || w.dtype !== (int8 ? "i8" : "f32")) continue;
    const linears = readers.get(w.name)!;
    if (int8) {
      // Whatever the model's size: in cache the interleaved rows read as fast, from memory twice as
      // fast. A tied table's lookup (QGather) reads them so too.
      const [N, K] = w.shape as number[];
      if (
        N % 4 === 0 &&
        K % 16 === 0 &&
        linears.every((r) => r.attrs.layout === undefined && readsAs(r, w.name, r.op === "QGather" ? 0 : 1, ["QLinear", "QGather"]))
      )
        moved.set(w.name, stored(w, "n4k16"));
      continue;
    }
    // A tied table's lookup (Gather) reads it as its classifier does where that is "n4".
    const lookedUp = linears.some((r) => r.op === "Gather");
    if (!linears.every((r) => r.attrs.layout === undefined && (readsAs(r, w.name, 1, ["Linear"]) || readsAs(r, w.name, 0, ["Gather"]))))
      continue;
    // A weight that only ever multiplies a few fixed rows (a recurrent step's state) is read as a
    // matrix-vector product, where kn's strided walk down its columns loses to n4's sequential one.
    const fours = w.shape.every((d) => (d as number) % 4 === 0);
    const own = layout === "kn" && fours && linears.every((r) => r.op === "Gather" || rowsOf(r) <= MATVEC_ROWS) ? "n4" : layout;
    if (own === "n4" ? !fours : lookedUp) continue;
    moved.set(w.name, stored(w, own));
  }
  if (!moved.size) return { graph, moved: 0 };
  // The copies take the originals' places, so weights.bin keeps its order.
  const values = new Map([...graph.values].map(([name, v]) => (moved.has(name) ? [moved.get(name)!.name, moved.get(name)!] : [name, v])));
  const nodes = graph.nodes.map((n) => {
    const at = n.op === "QGather" || n.op === "Gather" ? 0 : 1;
    const t = ["Linear", "QLinear", "Q4Linear", "QGather", "Gather"].includes(n.op) ? moved.get(n.inputs[at]) : undefined;
    return t ? { ...n, inputs: n.inputs.map((i, j) => (j === at ? t.name : i)), attrs: { ...n.attrs, layout: layoutOf(t) } } : n;
  });
  return { graph: { ...graph, values, nodes }, layout, moved: moved.size };
}

/** Whether `node` is one of `ops` and reads `name` as its input `at` alone. */
const readsAs = (node: Node, name: string, at: number, ops: string[]) =>
  ops.includes(node.op) && node.inputs.indexOf(name) === at && node.inputs.lastIndexOf(name) === at;

/** The layout a stored copy's name says (`stored` names it). */
const layoutOf = (v: Value) => v.name.slice(v.name.lastIndexOf(".") + 1) as WeightLayout;

/**
 * w ([N, K] as written) stored in `layout`, as a value of its own name (read from w's file each
 * time, where w's values are), by `arrange` where the weight is not a plain matrix (Q4_0 blocks).
 */
function stored(
  w: Value,
  layout: WeightLayout,
  arrange = (data: Float32Array | Int8Array) => storeWeights(data, w.shape[0] as number, w.shape[1] as number, layout),
): Value {
  const [N, K] = w.shape as number[];
  const name = `${w.name}.${layout}`,
    shape = layout === "kn" ? [K, N] : [N, K];
  const store = () => arrange(w.data as Float32Array | Int8Array);
  if (isDeferred(w)) return deferredValue(name, shape, { length: N * K, read: store }, w.dtype);
  return { ...w, name, shape, data: store() };
}
