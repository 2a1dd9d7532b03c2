/**
 * rowSums: gives each QLinear the sums of its int8 weight rows (attribute `sums: 1`, an i32 [N]
 * input after the scales; ir/ops/linear.ts). The relaxed-SIMD kernel (kernels-relaxed/linear-q8s.ts)
 * multiplies int8 weights by 7-bit activations carrying an offset of 64, as
 * `i16x8.relaxed_dot_i8x16_i7x16_s` needs them non-negative, and takes 64 · the row's sum back out;
 * summing the rows at build time keeps that subtraction off the kernel's inner loop. Costs 4 bytes
 * a weight row in weights.bin (0.5% of a 768-wide int8 weight). MeanQLinear, one row a text, keeps
 * the SIMD128 kernel.
 */
import { deferredValue, isDeferred, type Graph, type Value } from "../ir/graph.js";
import { weightIndex, type WeightLayout } from "../ir/ops/linear.js";

export function rowSums(graph: Graph): { graph: Graph; summed: number } {
  const sums = new Map<string, Value>();
  for (const node of graph.nodes) {
    const layout = (node.attrs.layout ?? "nk") as WeightLayout;
    if (node.op !== "QLinear" || node.attrs.sums !== undefined || (layout !== "nk" && layout !== "n4k16")) continue;
    const w = graph.values.get(node.inputs[1])!;
    if (w.kind !== "const" || w.dtype !== "i8" || sums.has(w.name)) continue;
    sums.set(w.name, summed(w, layout));
  }
  if (!sums.size) return { graph, summed: 0 };
  const values = new Map(graph.values);
  for (const v of sums.values()) values.set(v.name, v);
  const nodes = graph.nodes.map((n) => {
    const s = n.op === "QLinear" && n.attrs.sums === undefined ? sums.get(n.inputs[1]) : undefined;
    return s ? { ...n, inputs: [...n.inputs.slice(0, 3), s.name, ...n.inputs.slice(3)], attrs: { ...n.attrs, sums: 1 } } : n;
  });
  return { graph: { ...graph, values, nodes }, summed: sums.size };
}

/** The row sums of w (int8 [N, K] stored in `layout`), as a value of its own; where w is made on demand, so are they. */
function summed(w: Value, layout: WeightLayout): Value {
  const [N, K] = w.shape as number[];
  const name = `${w.name}.sums`,
    at = weightIndex(layout, N, K);
  const sum = () => {
    const q = w.data as Int8Array,
      out = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += q[at(n, k)];
      out[n] = s;
    }
    return out;
  };
  if (isDeferred(w)) return deferredValue(name, [N], { length: N, read: sum }, "i32");
  return { name, kind: "const", dtype: "i32", shape: [N], data: sum() };
}
