/**
 * poolEarly: a mean over the token rows moves ahead of the row-wise affine work that feeds it,
 * so that work runs on one row instead of T. An encoder that pools its last layer (USE-Lite:
 * mean_pool(ffn.residual)) then runs that layer's second FFN matmul once, not once per token.
 *
 *   MeanRows(Add(a, b))        -> Add(MeanRows(a), MeanRows(b))
 *   MeanRows(Linear(x, w, b))  -> MeanLinear(x, w, b)
 *   MeanRows(QLinear(x, w, s, b)) -> MeanQLinear(x, w, s, b)
 *
 * Exact in real arithmetic (the mean commutes with sums and affine maps; with no rows, every form
 * gives zeros); in floating point the sums are reordered. A node is moved only when the pooled
 * tensor has no other reader and is not a graph output, so nothing is computed twice.
 */
import { graphIndex, type Graph, type Node } from "../ir/graph.js";

export function poolEarly(graph: Graph): { graph: Graph; moved: number } {
  const { producer, readers } = graphIndex(graph);
  const outputs = new Set(graph.outputs);
  const values = new Map(graph.values);
  const removed = new Set<Node>();
  let moved = 0;

  /** The nodes that compute `pool` = MeanRows(`x`), earliest first. */
  const pooled = (pool: Node): Node[] => {
    const x = pool.inputs[0];
    const p = producer.get(x);
    if (!p || readers.get(x)!.length !== 1 || outputs.has(x)) return [pool];
    if (p.op === "Add") {
      const [a, b] = p.inputs;
      if (a === b) return [pool];
      removed.add(p);
      moved++;
      const [ma, mb] = [a, b].map((t) => {
        const name = `${t}.mean`;
        values.set(name, { name, kind: "activation", dtype: "f32", shape: [1, graph.values.get(t)!.shape[1]] });
        return { name, op: "MeanRows", inputs: [t], outputs: [name], attrs: {} } satisfies Node;
      });
      return [
        ...pooled(ma),
        ...pooled(mb),
        { name: pool.name, op: "Add", inputs: [ma.outputs[0], mb.outputs[0]], outputs: pool.outputs, attrs: {} },
      ];
    }
    if ((p.op === "Linear" || p.op === "QLinear") && Object.keys(p.attrs).length === 0) {
      removed.add(p);
      moved++;
      return [{ ...pool, op: `Mean${p.op}`, inputs: p.inputs, attrs: p.attrs }];
    }
    return [pool];
  };

  const nodes = graph.nodes.flatMap((n) => (n.op === "MeanRows" ? pooled(n) : [n]));
  if (!moved) return { graph, moved };
  const kept = nodes.filter((n) => !removed.has(n));
  for (const n of removed) for (const o of n.outputs) values.delete(o);
  return { graph: { ...graph, values, nodes: kept }, moved };
}
