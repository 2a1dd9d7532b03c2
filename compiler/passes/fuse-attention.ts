/**
 * fuseAttention: attention written out op by op (an imported graph's MatMul → scale → mask →
 * Softmax → MatMul) becomes one ScaledAttention node, which runs as an online softmax over the
 * keys with no [S, T] score matrix in memory.
 *
 * Matched: p = Softmax(chain(MatMul(q, kᵀ))) read only by MatMul(p, v), where kᵀ is a strided
 * Copy (a transpose: k is the same view with its last two axes swapped) and the chain is, in
 * order, any scalings by constants, any
 * additions of tensors the scores do not feed, and at most one Where(cond, scores, fill) or
 * Where(cond, fill, scores) with a constant fill. Every intermediate must have that one reader.
 */
import { elementCount, graphIndex, type Graph, type Node, type Value } from "../ir/graph.js";
import { copyAttrs, mapAttrs } from "../ir/ops/tensor.js";

export function fuseAttention(graph: Graph): { graph: Graph; fused: number } {
  const { producer, readers } = graphIndex(graph);
  const outputs = new Set(graph.outputs);
  const only = (t: string, op: string) => {
    const r = readers.get(t) ?? [];
    return r.length === 1 && r[0].op === op && !outputs.has(t) ? r[0] : undefined;
  };
  const scalar = (t: string) => {
    const v = graph.values.get(t)!;
    return v.kind === "const" && elementCount(v.shape as number[]) === 1 ? v.data![0] : undefined;
  };

  const values = new Map(graph.values);
  const replaced = new Map<Node, Node[]>();
  const removed = new Set<Node>();
  let fused = 0;
  for (const qk of graph.nodes.filter((n) => n.op === "MatMul")) {
    const kt = producer.get(qk.inputs[1]);
    if (!kt || kt.op !== "Copy" || kt.attrs.outShape || (readers.get(kt.outputs[0]) ?? []).length !== 1) continue;
    // Follow the scores forward through elementwise maps to the softmax.
    const chain: Node[] = [];
    let next = readers.get(qk.outputs[0]) ?? [];
    let at = qk.outputs[0];
    while (next.length === 1 && next[0].op === "Map" && !outputs.has(at)) {
      chain.push(next[0]);
      at = next[0].outputs[0];
      next = readers.get(at) ?? [];
    }
    const softmax = next.length === 1 && !outputs.has(at) ? next[0] : undefined;
    if (!softmax || softmax.op !== "Softmax") continue;
    const pv = only(softmax.outputs[0], "MatMul");
    if (!pv || pv.inputs[0] !== softmax.outputs[0]) continue;
    const [q, v] = [qk.inputs[0], pv.inputs[1]];
    const rank = graph.values.get(q)!.shape.length;
    const { shape: ktShape, strides: ktStrides } = copyAttrs(kt.attrs);
    if (rank < 3 || rank > 4 || ktShape.length !== rank || graph.values.get(v)!.shape.length !== rank) continue;

    // The chain's grammar: scale* add* where?
    let scale = 1,
      stage = 0,
      ok = true;
    const biases: string[] = [];
    let keep: { cond: string; fill: number; keepWhenTrue: boolean } | undefined;
    let current = qk.outputs[0];
    for (const m of chain) {
      const other = m.inputs.filter((i) => i !== current);
      const { fn, dtype } = mapAttrs(m.attrs);
      // Scores in f32 throughout: a map that makes them i32 (a cast) is not attention's.
      if (dtype !== "f32") ok = false;
      else if (
        (fn === "mul" || fn === "div") &&
        stage === 0 &&
        other.length === 1 &&
        scalar(other[0]) !== undefined &&
        (fn === "mul" || m.inputs[0] === current)
      ) {
        scale = fn === "mul" ? scale * scalar(other[0])! : scale / scalar(other[0])!;
      } else if (fn === "add" && stage <= 1 && other.length === 1) {
        stage = 1;
        biases.push(other[0]);
      } else if (fn === "where" && stage <= 1 && m.inputs[1] !== m.inputs[2] && (m.inputs[1] === current || m.inputs[2] === current)) {
        const fill = scalar(m.inputs[1] === current ? m.inputs[2] : m.inputs[1]);
        if (fill === undefined || graph.values.get(m.inputs[0])!.dtype !== "i32") ok = false;
        else keep = { cond: m.inputs[0], fill, keepWhenTrue: m.inputs[1] === current };
        stage = 2;
      } else ok = false;
      if (!ok) break;
      current = m.outputs[0];
    }
    if (!ok) continue;

    // kᵀ was a strided view of its source: the same view with the last two axes swapped is k.
    const extra: Node[] = [];
    const swap = (xs: readonly number[]) => [...xs.slice(0, -2), xs[xs.length - 1], xs[xs.length - 2]];
    const k = `${pv.name}/k`;
    values.set(k, { ...graph.values.get(kt.outputs[0])!, name: k, shape: swap(ktShape) });
    extra.push({
      name: k,
      op: "Copy",
      inputs: kt.inputs,
      outputs: [k],
      attrs: { shape: swap(ktShape), strides: swap(ktStrides), offset: kt.attrs.offset },
    });
    const add = (name: string, op: Node["op"], inputs: string[], attrs: Node["attrs"], like: Value) => {
      values.set(name, { ...like, name, kind: "activation", data: undefined });
      extra.push({ name, op, inputs, outputs: [name], attrs });
      return name;
    };
    // Several additions become one bias, summed in order: the last sum is <pv>/bias, those before it <pv>/bias.1, .2...
    let bias = biases[0];
    biases.slice(1).forEach((b, i) => {
      const name = i === biases.length - 2 ? `${pv.name}/bias` : `${pv.name}/bias.${i + 1}`;
      bias = add(name, "Map", [bias, b], { fn: "add", dtype: "f32" }, broadcastValue(values.get(bias)!, values.get(b)!));
    });
    const keepTensor =
      keep &&
      (keep.keepWhenTrue
        ? keep.cond
        : add(`${pv.name}/keep`, "Map", [keep.cond], { fn: "not", dtype: "i32" }, graph.values.get(keep.cond)!));
    const attrs = { scale, bias: bias ? 1 : 0, keep: keep ? 1 : 0, fill: keep?.fill ?? 0, causal: 0, causalFill: 0 };
    const attention: Node = {
      name: pv.name,
      op: "ScaledAttention",
      inputs: [q, k, v, ...(bias ? [bias] : []), ...(keepTensor ? [keepTensor] : [])],
      outputs: pv.outputs,
      attrs,
    };
    for (const n of [kt, qk, ...chain, softmax]) {
      removed.add(n);
      n.outputs.forEach((o) => values.delete(o));
    }
    replaced.set(pv, [...extra, attention]);
    fused++;
  }
  const nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? (removed.has(n) ? [] : [n]));
  return { graph: { ...graph, values, nodes }, fused };
}

function broadcastValue(a: Value, b: Value): Value {
  const rank = Math.max(a.shape.length, b.shape.length);
  const dim = (v: Value, i: number) => (v.shape[i - rank + v.shape.length] as number) ?? 1;
  return { ...a, shape: Array.from({ length: rank }, (_, i) => Math.max(dim(a, i), dim(b, i))) };
}
