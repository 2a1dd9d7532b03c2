/**
 * A per-token bias on a tied output head: logits[t, v] = h[t] · E[v] + b[v]. SEE's factors rebuild
 * the table that both the embedding and a tied head read; at 2x the head carries most of what the
 * compressed model loses, and V more parameters (one bias per token, zero at the start) buy more
 * than the rank term they cost. `seec distill --head-bias` trains it with the factors, and the
 * `.see` file ships it as the see/2 model weight HEAD_BIAS, which `applySee` puts back in the graph.
 */
import { SeecError } from "../../runtime/errors.js";
import type { Graph } from "../ir/graph.js";
import { linearOperands } from "../ir/ops/linear.js";

/** The bias's tensor name, in the graph and (as `model.see.head_bias`) in the `.see` file. */
export const HEAD_BIAS = "see.head_bias";

/** The graph with a zero bias on its tied head (the Linear that reads the embedding as its weight). */
export function withHeadBias(graph: Graph, embedding: string): Graph {
  if (graph.values.has(HEAD_BIAS)) return graph;
  const vocab = graph.values.get(embedding)?.shape[0];
  const heads = graph.nodes.filter((n) => n.op === "Linear" && n.inputs[1] === embedding);
  if (heads.length !== 1 || typeof vocab !== "number")
    throw new SeecError(
      "usage.head_bias",
      `${graph.name} has no tied output head: a head bias needs the embedding read as the logits' weight`,
      {
        at: "--head-bias",
        hint: "a head bias is for decoders whose output head is their token embedding (llama2.c's stories models, GGUF with tied weights)",
      },
    );
  const head = heads[0];
  const o = linearOperands(head.op, head.inputs, head.attrs);
  if (o.bias || o.residual || o.activation)
    throw new SeecError("unsupported.head_bias", `the tied head ${head.name} already has a bias or a fused epilogue`, {
      at: `node ${head.name}`,
    });
  const values = new Map(graph.values);
  values.set(HEAD_BIAS, { name: HEAD_BIAS, kind: "const", dtype: "f32", shape: [vocab], data: new Float32Array(vocab) });
  const nodes = graph.nodes.map((n) => (n === head ? { ...n, inputs: [n.inputs[0], n.inputs[1], HEAD_BIAS] } : n));
  return { ...graph, values, nodes };
}
