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
import { SEEC_DOMAIN } from "./lower-decoder.js";
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
  /** KV cache rows: the exported caches', or `context` where that is given. */
  context: number;
  layers: number;
}

/** The decoder with its caches as state of `context` rows (at most the exported caches'; theirs by default). */
export function seecDecoder(source: OnnxModel, context?: number): SeecDecoder {
  const refuse = (message: string, at?: string): never => {
    throw new SeecError("input.onnx", `this graph calls seec's Attention but is not a decoder seec exported: ${message}`, {
      file: source.file,
      at,
      hint: "rewrite it with the seec version that wrote it: seec export-onnx <model> -o model.onnx",
    });
  };
  const input = (name: string) => source.inputs.find((i) => i.name === name);
  for (const [name, dtype, rank] of [
    ["tokens", "int32", 1],
    ["pos", "int32", 1],
  ] as const) {
    const i = input(name);
    if (!i || i.dtype !== dtype || i.dims.length !== rank) refuse(`it needs an input ${name} of ${dtype} [${name === "pos" ? 1 : "T"}]`);
  }
  if (!source.outputs.some((o) => o.name === "logits")) refuse("it has no output named logits");

  const readers = new Map<string, OnnxNode[]>();
  for (const n of source.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const caches = new Set<string>();
  /** The Identity nodes that name each cache's `.next` output. */
  const dropped = new Set<OnnxNode>();
  let rows = 0,
    layers = 0;
  const nodes = source.nodes.map((node): OnnxNode => {
    const call = callOf(node);
    if (call === "RoPE") return { ...node, op: "RoPE" };
    if (call !== "Attention") return node;
    const at = `node ${node.name}`;
    if (node.inputs.length !== 6 || node.outputs.length !== 3)
      refuse(`${at} takes q, k, v, pos and two caches and gives y and the caches`, at);
    const [q, k, v, pos, kCache, vCache] = node.inputs;
    const [y, kNext, vNext] = node.outputs;
    for (const [cache, next] of [
      [kCache, kNext],
      [vCache, vNext],
    ]) {
      const info = input(cache);
      if (!info || info.dtype !== "float32" || info.dims.length !== 2 || typeof info.dims[0] !== "number")
        return refuse(`its cache ${cache} is not a graph input of float32 [context, width]`, at);
      if (caches.has(cache)) refuse(`two attentions write the cache ${cache}`, at);
      caches.add(cache);
      if (rows && info.dims[0] !== rows) refuse(`its caches hold ${rows} and ${info.dims[0]} rows`, at);
      rows = info.dims[0] as number;
      // The updated cache goes only to its output, through an Identity named <cache>.next.
      const named = readers.get(next) ?? [];
      if (named.length !== 1 || named[0].op !== "Identity" || named[0].outputs[0] !== `${cache}.next`)
        refuse(`its updated cache ${next} goes elsewhere than the output ${cache}.next`, at);
      dropped.add(named[0]);
    }
    layers++;
    return { ...node, op: "Attention", inputs: [q, k, v, pos], outputs: [y], attrs: { ...node.attrs, kCache, vCache } };
  });
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
  return { model, context: kept, layers };
}
