/**
 * fuseEpilogues: the Relu and the residual Add that follow a matmul become part of it, so a
 * backend finishes each output row in the matmul's own call instead of passing over the tensor
 * again (and the tensor between them needs no memory of its own).
 *
 *   Relu(Linear(x, w, b))            -> Linear(x, w, b) {activation: relu}
 *   Add(Linear(x, w, b), r)          -> Linear(x, w, b, r) {residual: 1}    (either operand; QLinear, Q4Linear too)
 *
 * Epilogue order is act(x·wᵀ + b) + r, so Add(Relu(Linear)) fuses both. The matmul's output must
 * have no other reader and not be a graph output; a residual must have the sum's shape (no
 * broadcasting). A matmul fused with an Add runs where the Add ran (its residual may be computed
 * after it, as USE-Lite's residual projection is), which is safe unless a node in between writes
 * to one of its inputs: then it is left alone.
 */
import { graphIndex, type Graph, type Node } from "../ir/graph.js";
import { linearOperands } from "../ir/ops/linear.js";
import { writtenBetween } from "./in-place.js";

const MATMULS = new Set(["Linear", "QLinear", "Q4Linear"]);

export function fuseEpilogues(graph: Graph): { graph: Graph; fused: number } {
  const { producer, readers } = graphIndex(graph);
  const outputs = new Set(graph.outputs);
  const values = new Map(graph.values);
  let nodes = [...graph.nodes];
  let fused = 0;

  /** The matmul producing `t`, if it can take an epilogue that is now its only reader. */
  const matmul = (t: string, residual: boolean): Node | undefined => {
    const p = producer.get(t);
    if (!p || !MATMULS.has(p.op) || readers.get(t)!.length !== 1 || outputs.has(t)) return undefined;
    const ops = linearOperands(p.op, p.inputs, p.attrs);
    return ops.residual || (!residual && ops.activation) ? undefined : p;
  };
  /** Puts `by` (old with an epilogue) where `at` (the epilogue's node) was; false if that is unsafe. */
  const replace = (old: Node, by: Node, at: Node): boolean => {
    if (writtenBetween(nodes, old, at).some((t) => old.inputs.includes(t))) return false;
    nodes = nodes.flatMap((n) => (n === old ? [] : n === at ? [by] : [n]));
    for (const t of old.outputs) values.delete(t);
    for (const t of by.outputs) producer.set(t, by);
    fused++;
    return true;
  };

  for (const relu of graph.nodes.filter((n) => n.op === "Relu")) {
    const p = matmul(relu.inputs[0], false);
    if (p) replace(p, { ...p, outputs: relu.outputs, attrs: { ...p.attrs, activation: "relu" } }, relu);
  }
  const shape = (t: string) => values.get(t)!.shape.join(",");
  for (const add of graph.nodes.filter((n) => n.op === "Add")) {
    for (const [a, r] of [add.inputs, [...add.inputs].reverse()]) {
      const p = a !== r && shape(r) === shape(add.outputs[0]) ? matmul(a, true) : undefined;
      if (p && replace(p, { ...p, inputs: [...p.inputs, r], outputs: add.outputs, attrs: { ...p.attrs, residual: 1 } }, add)) break;
    }
  }
  if (!fused) return { graph, fused };
  return { graph: { ...graph, values, nodes }, fused };
}
