/**
 * A decoder seec exported (seec export-onnx), read back as the decoder it was: `tokens` and `pos`
 * in, `logits` out, each KV cache an input `<cache>` with an output `<cache>.next`, and the two ops
 * that read `pos` at run time written as calls of functions in seec's domain (ai.seec:Attention,
 * ai.seec:RoPE; targets/onnx/export.ts). Their bodies, which ONNX Runtime inlines, slice the caches
 * at `pos`, which seec's frontend cannot lower; the calls map back onto seec's own ops instead
 * (lower-decoder.ts): the caches leave the interface and become the module's state, as in a build
 * of the model itself, so run(), step() and generate() drive the artifact.
 */
import { SeecError } from "../../../runtime/errors.js";
import { SEEC_DOMAIN } from "./seec-domain.js";
import { allNodes } from "./support.js";
import type { OnnxModel, OnnxNode } from "./read.js";

/** A call's function name: the body's name, or `name_N` where calls needed other bodies. */
const callOf = (node: OnnxNode): "Attention" | "RoPE" | undefined => {
  if (node.domain !== SEEC_DOMAIN) return undefined;
  const name = node.op.replace(/_\d+$/, "");
  return name === "Attention" || name === "RoPE" ? name : undefined;
};

/** The graph is a decoder seec exported: it calls seec's Attention. */
export function isSeecDecoder(model: OnnxModel): boolean {
  return model.nodes.some((n) => callOf(n) === "Attention");
}

export interface SeecDecoder {
  /** The graph with the caches in the module: no cache inputs, no `.next` outputs, each call one op. */
  model: OnnxModel;
  /** KV cache rows: the exported caches', or `context` where that is given and fewer. */
  context: number;
  /** The exported caches' rows. */
  rows: number;
  layers: number;
}

/** The decoder with its caches as state of `context` rows (at most the exported caches'; theirs by default). */
export function seecDecoder(source: OnnxModel, context?: number): SeecDecoder {
  const refuse = (message: string, at?: string): never => {
    throw new SeecError("input.onnx", `this graph calls seec's Attention but is not a decoder seec exported: ${message}`, {
      file: source.file,
      at,
      hint: "write it again with seec export-onnx <model> -o model.onnx",
    });
  };
  const input = (name: string) => source.inputs.find((i) => i.name === name);
  for (const [name, dtype, rank] of [
    ["tokens", "int32", 1],
    ["pos", "int32", 1],
  ] as const) {
    const i = input(name);
    if (!i || i.dtype !== dtype || i.dims.length !== rank || (name === "pos" && i.dims[0] !== 1))
      refuse(`it needs an input ${name} of ${dtype} [${name === "pos" ? 1 : "T"}]`);
  }
  if (!source.outputs.some((o) => o.name === "logits")) refuse("it has no output named logits");
  // What ONNX Runtime needs to run it: the functions it calls, and their domain imported.
  if (!source.opsets.has(SEEC_DOMAIN)) refuse(`it does not import the domain ${SEEC_DOMAIN}`);
  for (const n of source.nodes)
    if (callOf(n) && source.functions && !source.functions.includes(`${n.domain}:${n.op}`))
      refuse(`node ${n.name} calls ${n.domain}:${n.op}, which the file does not define`, `node ${n.name}`);

  const readers = new Map<string, OnnxNode[]>();
  // Subgraphs' reads count: a cache read inside a branch is read elsewhere too.
  for (const n of allNodes(source.nodes)) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const outputs = new Set(source.outputs.map((o) => o.name));
  /** A positive whole-number attribute of a call. */
  const count = (node: OnnxNode, key: string): number => {
    const v = node.attrs[key];
    return typeof v === "number" && Number.isInteger(v) && v > 0
      ? v
      : refuse(`node ${node.name}'s ${key} is ${JSON.stringify(v) ?? "missing"}, not a positive whole number`, `node ${node.name}`);
  };
  const caches = new Set<string>();
  /** The Identity nodes that name each cache's `.next` output. */
  const dropped = new Set<OnnxNode>();
  let rows = 0,
    layers = 0,
    headDim = 0,
    table = Infinity;
  const nodes = source.nodes.map((node): OnnxNode => {
    const call = callOf(node);
    const at = `node ${node.name}`;
    if (call === "RoPE") {
      if (node.inputs.length !== 4 || node.outputs.length !== 1) refuse(`${at} takes x, pos, cos and sin and gives y`, at);
      const [, pos, cos, sin] = node.inputs;
      const d = count(node, "headDim");
      if (d % 2) refuse(`${at}'s headDim ${d} is odd: RoPE turns pairs`, at);
      if (pos !== "pos") refuse(`${at} reads its position from ${pos}, not the input pos`, at);
      for (const t of [cos, sin]) {
        const shape = source.initializers.get(t)?.shape;
        if (!shape || shape.length !== 2 || shape[1] !== d / 2) refuse(`${at}'s ${t} is not a table of [positions, ${d / 2}]`, at);
        table = Math.min(table, shape![0]);
      }
      if (headDim && d !== headDim) refuse(`${at}'s headDim ${d} is not its attention's ${headDim}`, at);
      headDim = d;
      return { ...node, op: "RoPE" };
    }
    if (call !== "Attention") return node;
    if (node.inputs.length !== 6 || node.outputs.length !== 3)
      refuse(`${at} takes q, k, v, pos and two caches and gives y and the caches`, at);
    const [q, k, v, pos, kCache, vCache] = node.inputs;
    const [y, kNext, vNext] = node.outputs;
    const [heads, kvHeads, d] = ["heads", "kvHeads", "headDim"].map((key) => count(node, key));
    if (heads % kvHeads) refuse(`${at}'s heads ${heads} are not a multiple of its kvHeads ${kvHeads}`, at);
    if (headDim && d !== headDim) refuse(`${at}'s headDim ${d} is not its RoPE's ${headDim}`, at);
    headDim = d;
    if (pos !== "pos") refuse(`${at} reads its position from ${pos}, not the input pos`, at);
    if (kCache === vCache) refuse(`${at} reads one cache, ${kCache}, for its keys and its values`, at);
    for (const [cache, next] of [
      [kCache, kNext],
      [vCache, vNext],
    ]) {
      const info = input(cache);
      if (!info || info.dtype !== "float32" || info.dims.length !== 2 || typeof info.dims[0] !== "number" || !(info.dims[0] > 0))
        return refuse(`its cache ${cache} is not a graph input of float32 [context, width]`, at);
      if (info.dims[1] !== kvHeads * d) refuse(`its cache ${cache} is ${info.dims[1]} wide, not kvHeads · headDim = ${kvHeads * d}`, at);
      if (caches.has(cache)) refuse(`two attentions write the cache ${cache}`, at);
      caches.add(cache);
      if (rows && info.dims[0] !== rows) refuse(`its caches hold ${rows} and ${info.dims[0]} rows`, at);
      rows = info.dims[0] as number;
      const elsewhere = (readers.get(cache) ?? []).find((r) => r !== node);
      if (elsewhere) refuse(`its cache ${cache} is read by node ${elsewhere.name} as well`, at);
      // The updated cache goes only to its output, through an Identity named <cache>.next.
      const named = readers.get(next) ?? [];
      if (named.length !== 1 || named[0].op !== "Identity" || named[0].outputs[0] !== `${cache}.next` || !outputs.has(`${cache}.next`))
        refuse(`its updated cache ${next} goes elsewhere than the output ${cache}.next`, at);
      if (readers.has(`${cache}.next`)) refuse(`the output ${cache}.next is read inside the graph`, at);
      dropped.add(named[0]);
    }
    layers++;
    return { ...node, op: "Attention", inputs: [q, k, v, pos], outputs: [y], attrs: { ...node.attrs, kCache, vCache } };
  });
  // RoPE reads a table row per position: no more positions than the tables hold.
  if (rows > table) refuse(`its caches hold ${rows} rows, its RoPE tables ${table} positions`);
  const kept = Math.min(context ?? rows, rows);
  for (const n of nodes) if (n.domain === SEEC_DOMAIN && n.op === "Attention") n.attrs.context = kept;
  for (const i of source.inputs)
    if (i.name !== "tokens" && i.name !== "pos" && !caches.has(i.name)) refuse(`its input ${i.name} is neither tokens, pos nor a cache`);
  const model: OnnxModel = {
    ...source,
    nodes: nodes.filter((n) => !dropped.has(n)),
    inputs: source.inputs.filter((i) => !caches.has(i.name)),
    outputs: source.outputs.filter((o) => !o.name.endsWith(".next") || !caches.has(o.name.slice(0, -".next".length))),
  };
  return { model, context: kept, rows, layers };
}
