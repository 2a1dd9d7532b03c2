/** What a pass that moves a read later must check: the tensors updated in place in between. */
import type { Node } from "../ir/graph.js";
import { opDef } from "../ir/ops/index.js";

/** Tensors that nodes strictly between `from` and `to` update in place. */
export function writtenBetween(nodes: readonly Node[], from: Node, to: Node): string[] {
  const between = nodes.slice(nodes.indexOf(from) + 1, nodes.indexOf(to));
  return between.flatMap((n) => (opDef(n.op).writes ?? []).map((i) => n.inputs[i]));
}
