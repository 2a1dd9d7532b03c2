/**
 * fuseMaps: elementwise maps the IR has an op of its own for become that op, so a backend runs its
 * kernel and the passes after it see it. Imported graphs spell both with Maps:
 *
 *   Map add(a, b), a and b f32 of the sum's shape     ->  Add(a, b)      (a matmul before it takes it as its residual)
 *   Map mul(Map mul(g, Map sigmoid(g)), u), one shape  ->  SwiGLU(g, u)   (PyTorch's SiLU(g) · u: one pass and one buffer for three)
 *
 * Shapes are compared as the IR has them, a symbolic dimension by its name, so a graph built for
 * any length keeps [T, 4] + [1, 4] a broadcasting Map. The sigmoid and the first product must have
 * no other reader and not be graph outputs (either operand order), and nothing in between may
 * write g in place (SwiGLU reads it where the last product ran).
 */
import { graphIndex, type Graph, type Node } from "../ir/graph.js";
import { mapAttrs } from "../ir/ops/tensor.js";
import { writtenBetween } from "./in-place.js";

export function fuseMaps(graph: Graph): { graph: Graph; fused: Record<string, number> } {
  const { producer, readers } = graphIndex(graph);
  const outputs = new Set(graph.outputs);
  const values = new Map(graph.values);
  const replaced = new Map<Node, Node>();
  const removed = new Set<Node>();

  const shapeKey = (t: string) => JSON.stringify(values.get(t)!.shape);
  const isMap = (n: Node | undefined, fn: string): n is Node =>
    n?.op === "Map" && mapAttrs(n.attrs).fn === fn && mapAttrs(n.attrs).dtype === "f32" && !replaced.has(n) && !removed.has(n);
  /** The f32 Map of `fn` making `t`, if `reader` alone reads `t` and it is no graph output. */
  const onlyInto = (t: string, fn: string, reader: Node): Node | undefined => {
    const n = producer.get(t);
    return isMap(n, fn) && readers.get(t)!.length === 1 && !outputs.has(t) && readers.get(t)![0] === reader ? n : undefined;
  };
  /** silu = g · sigmoid(g), either way round: its two nodes and g. */
  const siluOf = (silu: string, reader: Node): { nodes: Node[]; gate: string } | undefined => {
    const product = onlyInto(silu, "mul", reader);
    for (const [gate, s] of product ? [product.inputs, [...product.inputs].reverse()] : []) {
      const sigmoid = onlyInto(s, "sigmoid", product!);
      if (sigmoid?.inputs[0] === gate) return { nodes: [sigmoid, product!], gate };
    }
    return undefined;
  };

  let swiglu = 0;
  for (const n of graph.nodes) {
    if (n.inputs.length !== 2) continue;
    const y = n.outputs[0];
    const oneShape = n.inputs.every((t) => values.get(t)!.dtype === "f32" && shapeKey(t) === shapeKey(y));
    if (!oneShape) continue;
    if (isMap(n, "add")) replaced.set(n, { ...n, op: "Add", attrs: {} });
    if (!isMap(n, "mul")) continue;
    for (const [silu, up] of [n.inputs, [...n.inputs].reverse()]) {
      const found = siluOf(silu, n);
      if (!found || writtenBetween(graph.nodes, found.nodes[0], n).includes(found.gate)) continue;
      replaced.set(n, { ...n, op: "SwiGLU", name: `${n.name}/SwiGLU`, inputs: [found.gate, up], attrs: {} });
      for (const gone of found.nodes) {
        removed.add(gone);
        values.delete(gone.outputs[0]);
      }
      swiglu++;
      break;
    }
  }
  if (!replaced.size) return { graph, fused: {} };
  const nodes = graph.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  return { graph: { ...graph, values, nodes }, fused: swiglu ? { SwiGLU: swiglu } : {} };
}
