/**
 * applySee: replaces the dense token embedding with its SEE factors. The Gather on the
 * embedding becomes EntangledEmbedding; a tied output head (a Linear whose weight is the
 * embedding) becomes EntangledLogits ("stream": rows rebuilt per call, no V·d memory) or a
 * Linear over an EntangledTable built once at load ("materialize"). The dense table leaves the graph.
 */
import { SeecError } from "../../runtime/errors.js";
import type { Graph, Node, Value } from "../ir/graph.js";
import { entangledAttrs, entangledOperands, entangledScratchLayout } from "../ir/ops/entangled.js";
import { withAdapter, type SeeFactors } from "../factors/factors.js";

export type HeadStrategy = "materialize" | "stream";

/** The factors' embedding, model weights (see/2) and adapters checked against the graph they apply to: mismatch.see, named. */
export function checkSeeFits(graph: Graph, f: SeeFactors, file?: string): void {
  const target = graph.values.get(f.spec.replaces);
  if (!target || target.kind !== "const")
    throw new SeecError("mismatch.see", `the factors replace "${f.spec.replaces}", which is not a weight of ${graph.name}`, {
      file,
      hint: `the graph's embedding is ${graph.nodes.find((n) => n.op === "Gather")?.inputs[0] ?? "(none)"}`,
    });
  if (target.shape[0] !== f.spec.vocab || target.shape[1] !== f.spec.dim)
    throw new SeecError(
      "mismatch.see",
      `the factors are for a ${f.spec.vocab} × ${f.spec.dim} embedding; ${f.spec.replaces} is [${target.shape.join(", ")}]`,
      { file },
    );
  const weight = (name: string) => (name === f.spec.replaces ? undefined : graph.values.get(name));
  for (const name of Object.keys(f.weights ?? {})) {
    const v = weight(name),
      shape = f.spec.weights![name];
    if (!v || v.kind !== "const" || v.dtype !== "f32" || v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i]))
      throw new SeecError(
        "mismatch.see",
        `the file replaces model weight ${name} [${shape.join(", ")}], which ${graph.name} ${v ? `has as ${v.kind} ${v.dtype} [${v.shape.join(", ")}]` : "does not have"}`,
        { file, at: `tensor model.${name}` },
      );
  }
  for (const name of Object.keys(f.adapters ?? {})) {
    const v = weight(name),
      { shape } = f.spec.adapters![name];
    if (!v || v.kind !== "const" || v.dtype !== "f32" || v.shape.length !== 2 || v.shape[0] !== shape[0] || v.shape[1] !== shape[1])
      throw new SeecError(
        "mismatch.see",
        `the file adapts model weight ${name} [${shape.join(", ")}], which ${graph.name} ${v ? `has as ${v.kind} ${v.dtype} [${v.shape.join(", ")}]` : "does not have"}`,
        { file, at: `tensor adapter.${name}.a` },
      );
  }
}

export function applySee(graph: Graph, f: SeeFactors, head: HeadStrategy, file?: string): Graph {
  checkSeeFits(graph, f, file);
  const values = new Map(graph.values);
  values.delete(f.spec.replaces);
  // see/2: model weights trained with the factors replace the model's own.
  for (const [name, data] of Object.entries(f.weights ?? {})) values.set(name, { ...graph.values.get(name)!, data });
  // see/2: low-rank adapters, merged here: the model reads W + A·B.
  for (const [name, { a, b }] of Object.entries(f.adapters ?? {})) {
    const v = values.get(name)!,
      { rank, shape } = f.spec.adapters![name];
    values.set(name, { ...v, data: withAdapter(v.data as Float32Array, a, b, shape[0], rank, shape[1]) });
  }
  const prefix = "see.";
  const operands = entangledOperands(f).map((o) => {
    const name = prefix + o.name;
    values.set(name, {
      name,
      kind: "const",
      dtype: o.data instanceof Float32Array ? "f32" : o.data instanceof Int8Array ? "i8" : "i32",
      shape: o.shape,
      data: o.data,
    });
    return name;
  });
  const attrs = { ...entangledAttrs(f) };
  const scratch = `${prefix}scratch`;
  values.set(scratch, { name: scratch, kind: "state", dtype: "f32", shape: [entangledScratchLayout(attrs).floats] });
  const factorInputs = [...operands, scratch];

  const nodes: Node[] = [];
  let table: string | undefined;
  for (const node of graph.nodes) {
    const uses = node.inputs.indexOf(f.spec.replaces);
    if (uses < 0) {
      nodes.push(node);
      continue;
    }
    if (node.op === "Gather" && uses === 0) {
      nodes.push({ ...node, op: "EntangledEmbedding", inputs: [node.inputs[1], ...factorInputs], attrs });
    } else if (node.op === "Linear" && uses === 1 && head === "stream") {
      nodes.push({ ...node, op: "EntangledLogits", inputs: [node.inputs[0], ...factorInputs], attrs });
    } else if (node.op === "Linear" && uses === 1) {
      if (!table) {
        table = `${prefix}table`;
        const v: Value = { name: table, kind: "activation", dtype: "f32", shape: [f.spec.vocab, f.spec.dim] };
        values.set(table, v);
        nodes.unshift({ name: table, op: "EntangledTable", inputs: factorInputs, outputs: [table], attrs });
      }
      nodes.push({ ...node, inputs: [node.inputs[0], table] });
    } else
      throw new SeecError("unsupported.see", `${node.op} node ${node.name} reads the embedding in a way SEE cannot replace`, {
        file,
        at: `node ${node.name}`,
      });
  }
  return { ...graph, values, nodes };
}
