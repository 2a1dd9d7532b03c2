/**
 * composeCopies: a strided copy of a strided copy becomes one copy where either of the two is a
 * plain reshape (the same elements in the same order), so the tensor between them needs neither a
 * pass over memory nor bytes of its own. Imported graphs write views in chains — Reshape then
 * Transpose to split heads, Transpose then Reshape to merge them — and each view is a Copy.
 *
 *   Copy_b(Copy_a(x)), b a reshape   ->  Copy_a(x) {outShape: b's}   (a's reads, stored in b's shape)
 *   Copy_b(Copy_a(x)), a a reshape   ->  Copy_b(x)                   (a's output is x's elements in x's order)
 *
 * Only where the tensor between them has no other reader and is not a graph output. The first form
 * runs where a ran (it reads x when a read it); the second where b ran, so not past a node that
 * writes x in place in between. Copies of a graph built for any length (symbolic attributes) are
 * left alone.
 */
import { isSymbolic } from "../ir/affine.js";
import { elementCount, graphIndex, type Graph, type Node } from "../ir/graph.js";
import { copyAttrs, stridesOf } from "../ir/ops/tensor.js";
import { writtenBetween } from "./in-place.js";

export function composeCopies(graph: Graph): { graph: Graph; composed: number } {
  const { producer, readers } = graphIndex(graph);
  const outputs = new Set(graph.outputs);
  const values = new Map(graph.values);
  let nodes = [...graph.nodes];
  let composed = 0;

  /** The numeric shape of a tensor, or undefined where a dimension is symbolic. */
  const numeric = (t: string): number[] | undefined => {
    const shape = values.get(t)!.shape;
    return shape.every((d) => typeof d === "number") ? (shape as number[]) : undefined;
  };
  /** Whether the copy stores its input's elements in their order (only the shape changes). */
  const isReshape = (n: Node): boolean => {
    const from = numeric(n.inputs[0]);
    if (!from) return false;
    const { shape, strides, offset } = copyAttrs(n.attrs);
    const contiguous = stridesOf(shape);
    // A dimension of one is never stepped along: its stride says nothing.
    return offset === 0 && elementCount(shape) === elementCount(from) && shape.every((d, i) => d === 1 || strides[i] === contiguous[i]);
  };

  for (const b of graph.nodes) {
    if (b.op !== "Copy" || isSymbolic(b.attrs)) continue;
    const z = b.inputs[0];
    const a = producer.get(z);
    if (!a || a.op !== "Copy" || isSymbolic(a.attrs) || readers.get(z)!.length !== 1 || outputs.has(z)) continue;
    const x = a.inputs[0];
    let by: Node, at: Node;
    if (isReshape(b) && numeric(b.outputs[0])) {
      const outShape = numeric(b.outputs[0])!;
      const { shape } = copyAttrs(a.attrs);
      const reads = { shape: a.attrs.shape, strides: a.attrs.strides, offset: a.attrs.offset };
      const same = shape.length === outShape.length && shape.every((d, i) => d === outShape[i]);
      by = { ...a, outputs: b.outputs, attrs: same ? reads : { ...reads, outShape } };
      at = a;
    } else if (isReshape(a) && !writtenBetween(nodes, a, b).includes(x)) {
      by = { ...b, inputs: [x] };
      at = b;
    } else continue;
    nodes = nodes.flatMap((n) => (n === at ? [by] : n === a || n === b ? [] : [n]));
    values.delete(z);
    for (const t of by.outputs) producer.set(t, by);
    readers.set(x, [...(readers.get(x) ?? []).filter((r) => r !== a), by]);
    composed++;
  }
  if (!composed) return { graph, composed };
  return { graph: { ...graph, values, nodes }, composed };
}
