/**
 * An ONNX decoder with a KV cache as a stateful decoder (seec build --decoder): the past/present
 * pairs become KV caches in the module's memory, and the graph takes `tokens` and `pos` as a
 * llama2.c artifact does, so the runtime's step(), generate() and stream() drive it.
 *
 * The graph is rewritten in ONNX terms, before it is lowered:
 * 1. Each attention that reads a past (an input holding earlier keys or values) becomes
 *    ai.seec:CachedAttention over the new tokens' q, k, v (lower-decoder.ts: the IR's Attention op
 *    on `state` caches [context, Nkv·H]): ONNX Attention (opset 23) with past_key/past_value,
 *    com.microsoft Attention with its stacked past (ORT's transformer optimizer),
 *    MultiHeadAttention and GroupQueryAttention with past_key/past_value, and attention written out as
 *    MatMul(q, Concat(past, k)) → scale → mask → Softmax → MatMul(·, Concat(past, v)) (PyTorch's
 *    GPT-2 exports, stacked past_N or separate key/value). Masks are taken as causal over every
 *    earlier token (no padding): attention_mask and the exporters' causal-mask plumbing drop out,
 *    once folding shows they do (causalMasks: MultiHeadAttention's attention_bias and a written-out
 *    Add or Where must leave every score a token may see as it is, and hide those of later new tokens
 *    or leave them too; ALiBi, a sliding window are refused). With more than one new token a call,
 *    some mask or the op itself (GroupQueryAttention, is_causal, unidirectional) must hide the later
 *    new tokens, as the KV cache's attention does.
 * 2. input_ids is `tokens` ([T] i32: T tokens a call, `tokens` in the options; the build merges the
 *    rewrites at several T into one graph whose T is symbolic), position_ids is pos (pos + t).
 * 3. The present outputs go; the first other output's last row is `logits`.
 * 4. What the graph computed from the past's length at build time (position ids from
 *    Shape(past), offsets) is folded at three sample lengths; a value that is pos · slope + base
 *    at all three is computed from pos at run time (ai.seec:PositionAffine). Anything else that
 *    still reads a past, or whose shape follows its length, is refused by name.
 */
import { SeecError } from "../../../runtime/errors.js";
import { foldGraph } from "./fold.js";
import { SEEC_DOMAIN } from "./seec-domain.js";
import { attr, type OnnxModel, type OnnxNode, type OnnxValueInfo } from "./read.js";
import { DATA_TYPE_NUMBERS, isFloat, tensor, type OnnxTensor } from "./tensor.js";

/** Context when neither --context nor the model's position tables say. */
export const DEFAULT_DECODER_CONTEXT = 512;

export interface StatefulDecoder {
  model: OnnxModel;
  /** KV cache rows. */
  context: number;
  /** Token ids the embedding reads (its rows), where found. */
  vocabSize?: number;
  /** Attention layers given a cache. */
  layers: number;
  notes: string[];
}

const SUPPORTED =
  "supported: ONNX Attention (opset 23) with past_key/past_value, com.microsoft Attention with a stacked past, MultiHeadAttention or GroupQueryAttention with past_key/past_value inputs, or attention written out as MatMul/Softmax over Concat(past, new) keys and values (PyTorch's GPT-2 exports)";

function refuse(model: OnnxModel, message: string, at?: string): never {
  throw new SeecError("unsupported.onnx_decoder", message, { file: model.file, at, hint: SUPPORTED });
}

const SHAPE_ONLY = new Set(["Shape", "Size", "EyeLike"]);
/** Cast's `to`, for the two kinds of mask an attention takes. */
const CAST_TYPES: Record<number, string> = { 1: "float32", 9: "bool", 10: "float16" };
/** Ops whose output is boolean. */
const BOOL_OUT = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf"]);
/** Ops whose output has their inputs' (common) element type. */
const ARITHMETIC = new Set(["Add", "Sub", "Mul", "Div", "Neg", "Min", "Max"]);
/** Ops whose output has their first input's element type. */
const TYPE_KEEPING = new Set(["Unsqueeze", "Squeeze", "Reshape", "Expand", "Identity", "Slice", "Transpose", "Flatten"]);

/** For each tensor, the graph inputs its values are computed from (shape reads excluded). */
function inputDependencies(model: OnnxModel): Map<string, Set<string>> {
  const deps = new Map<string, Set<string>>();
  for (const input of model.inputs) deps.set(input.name, new Set([input.name]));
  for (const node of model.nodes) {
    const d = new Set<string>();
    if (!SHAPE_ONLY.has(node.op)) for (const i of node.inputs) for (const x of deps.get(i) ?? []) d.add(x);
    for (const o of node.outputs) if (o) deps.set(o, d);
  }
  return deps;
}

/** Inputs that feed tokens and positions rather than cached keys and values. */
const TOKEN_INPUTS = new Set(["input_ids", "position_ids", "attention_mask", "token_type_ids"]);

interface Site {
  /** The node whose output the cached attention computes (replaced). */
  node: OnnxNode;
  replacement: OnnxNode[];
  pasts: string[];
  /** The tensors the attention's scores are masked or biased by (written out, or MultiHeadAttention's attention_bias), and what each must be for one new token that sees every key. */
  masks?: MaskTerm[];
  /** The op hides later new tokens itself (GroupQueryAttention; is_causal; unidirectional). */
  causal?: boolean;
}

/** A mask or bias on the scores: an addend (all zeros), or a Where's condition (all true where the scores are its second input, all false where its third). */
interface MaskTerm {
  node: string;
  tensor: string;
  keep: "zero" | "true" | "false" | "mask_index";
}

/** The past/present pairs of a graph, by structure: a past input that flows into a present output through a Concat or an attention's past. */
export function kvPairs(model: OnnxModel): { past: string; present: string }[] {
  const deps = inputDependencies(model);
  const producer = new Map(model.nodes.flatMap((n) => n.outputs.filter(Boolean).map((o) => [o, n] as const)));
  const pairs: { past: string; present: string }[] = [];
  for (const output of model.outputs) {
    const node = producer.get(output.name);
    if (!node || !(node.op === "Concat" || /Attention$/.test(node.op))) continue;
    for (const past of deps.get(output.name) ?? [])
      if (!TOKEN_INPUTS.has(past) && model.inputs.some((i) => i.name === past && i.dtype && isFloat(i.dtype)))
        pairs.push({ past, present: output.name });
  }
  return pairs;
}

export interface DecoderOptions {
  /** KV cache rows (default: the model's position tables, else DEFAULT_DECODER_CONTEXT). */
  context?: number;
  /** Tokens a call (default 1). */
  tokens?: number;
}

export function statefulDecoder(source: OnnxModel, opts: DecoderOptions): StatefulDecoder {
  const model: OnnxModel = {
    ...source,
    initializers: new Map(source.initializers),
    nodes: source.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })),
  };
  const inputNames = new Set(model.inputs.map((i) => i.name));
  for (const reserved of ["tokens", "pos", "logits"])
    if (inputNames.has(reserved)) refuse(model, `the graph has an input named "${reserved}", which a stateful decoder takes itself`);
  const ids = model.inputs.find((i) => i.name === "input_ids");
  if (!ids) refuse(model, `a stateful decoder needs an input_ids input; the graph's inputs are ${[...inputNames].join(", ")}`);
  const T = opts.tokens ?? 1;
  const fixed = ids.dims.at(-1);
  if (typeof fixed === "number" && fixed < T)
    refuse(
      model,
      `input_ids is [${ids.dims.join(", ")}]: the graph was exported for ${fixed} token${fixed === 1 ? "" : "s"} a call`,
      "input input_ids",
    );
  const deps = inputDependencies(model);
  const producer = new Map(model.nodes.flatMap((n) => n.outputs.filter(Boolean).map((o) => [o, n] as const)));
  const readers = new Map<string, OnnxNode[]>();
  for (const n of model.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const isPastInput = (name: string) =>
    !TOKEN_INPUTS.has(name) && model.inputs.some((i) => i.name === name && i.dtype !== undefined && isFloat(i.dtype));
  /** Computed from past inputs alone (gathers, transposes of the cache). */
  const pastDerived = (t: string) => {
    const d = deps.get(t);
    return !!d && d.size > 0 && [...d].every(isPastInput);
  };
  const tokenDerived = (t: string) => deps.get(t)?.has("input_ids") ?? false;
  const constantValue = (t: string): number | undefined => {
    const init = model.initializers.get(t);
    if (init) return init.data.length === 1 ? init.data[0] : undefined;
    const p = producer.get(t);
    const v = p?.op === "Constant" ? p.attrs.value : undefined;
    return v && typeof v === "object" && "data" in v && v.data.length === 1 ? v.data[0] : undefined;
  };

  /** A tensor's element type where the graph says it (an input, an initializer, a Cast's target, through reshapes). */
  const elementType = (t: string): string | undefined => {
    const input = model.inputs.find((i) => i.name === t);
    if (input) return input.dtype;
    const init = model.initializers.get(t);
    if (init) return init.dtype;
    const p = producer.get(t);
    if (p?.op === "Cast") return CAST_TYPES[attr(p, "to", 0)];
    if (p && !p.domain && BOOL_OUT.has(p.op)) return "bool";
    if (p && !p.domain && ARITHMETIC.has(p.op)) return p.inputs.map(elementType).find((x) => x !== undefined);
    if (p && !p.domain && p.op === "Where") return elementType(p.inputs[1]) ?? elementType(p.inputs[2]);
    return p && TYPE_KEEPING.has(p.op) && !p.domain ? elementType(p.inputs[0]) : undefined;
  };

  const sites: Site[] = [];
  let layer = 0;
  const cached = (inputs: string[], output: string, attrs: OnnxNode["attrs"], name: string): OnnxNode => ({
    name: `${name}/cached`,
    op: "CachedAttention",
    domain: SEEC_DOMAIN,
    inputs,
    outputs: [output],
    attrs: { ...attrs, layer: layer++, context: opts.context ?? DEFAULT_DECODER_CONTEXT },
  });

  for (const node of model.nodes) {
    if (node.domain === "com.microsoft" && node.op === "MultiHeadAttention") {
      const [q, k, v, bias, keyPadding, attentionBias, pastKey, pastValue, , cacheIndirection] = node.inputs;
      if (!pastKey && !pastValue) continue;
      if (!isPastInput(pastKey) || !isPastInput(pastValue))
        refuse(model, `node ${node.name} reads past_key/past_value that are not graph inputs`, `node ${node.name}`);
      if (bias) refuse(model, `node ${node.name}: MultiHeadAttention with a packed bias input is not supported in a stateful decoder`);
      if (cacheIndirection)
        refuse(model, `node ${node.name}: MultiHeadAttention with cache_indirection (beam search) is not supported in a stateful decoder`);
      if (!k || !v) refuse(model, `node ${node.name}: MultiHeadAttention with packed QKV is not supported in a stateful decoder`);
      const heads = attr(node, "num_heads", 0) || refuse(model, `node ${node.name}: MultiHeadAttention needs num_heads`);
      sites.push({
        node,
        pasts: [pastKey, pastValue],
        // The cached attention adds no bias: attention_bias must be a causal mask (zeros for the one new token), not ALiBi's;
        // key_padding_mask must pad nothing (nonzero everywhere, or lengths [B] that reach every key).
        masks: [
          ...(attentionBias ? [{ node: node.name, tensor: attentionBias, keep: "zero" as const }] : []),
          ...(keyPadding ? [{ node: node.name, tensor: keyPadding, keep: "mask_index" as const }] : []),
        ],
        causal: attr(node, "unidirectional", 0) === 1,
        replacement: [cached([q, k, v, "pos"], node.outputs[0], { heads, kvHeads: heads, scale: attr(node, "scale", 0) }, node.name)],
      });
    } else if (node.domain === "com.microsoft" && node.op === "GroupQueryAttention") {
      const [q, k, v, pastKey, pastValue, , , cos, sin, , attentionBias, headSink, kScale, vScale] = node.inputs;
      if (!pastKey && !pastValue) continue;
      if (!isPastInput(pastKey) || !isPastInput(pastValue))
        refuse(model, `node ${node.name} reads past_key/past_value that are not graph inputs`, `node ${node.name}`);
      const uncovered = [
        attr(node, "softcap", 0) && "softcap",
        attr(node, "local_window_size", -1) >= 0 && "local_window_size",
        attr(node, "smooth_softmax", 0) && "smooth_softmax",
        headSink && "head_sink",
        attentionBias && "attention_bias",
        (kScale || vScale || attr(node, "kv_cache_bit_width", 0)) && "a quantized KV cache",
      ].filter(Boolean);
      if (uncovered.length)
        refuse(model, `node ${node.name}: GroupQueryAttention with ${uncovered.join(", ")} is not supported in a stateful decoder`);
      const heads = attr(node, "num_heads", 0),
        kvHeads = attr(node, "kv_num_heads", 0);
      if (!heads || !kvHeads || heads % kvHeads !== 0)
        refuse(model, `node ${node.name}: GroupQueryAttention's num_heads ${heads} must be a multiple of kv_num_heads ${kvHeads}`);
      const rotary = attr(node, "do_rotary", 0);
      if (rotary && (!cos || !sin)) refuse(model, `node ${node.name}: GroupQueryAttention with do_rotary needs cos_cache and sin_cache`);
      sites.push({
        node,
        pasts: [pastKey, pastValue],
        causal: true,
        replacement: [
          cached(
            [q, k ?? "", v ?? "", "pos", ...(rotary ? [cos, sin] : [])],
            node.outputs[0],
            { heads, kvHeads, scale: attr(node, "scale", 0), rotary, interleaved: attr(node, "rotary_interleaved", 0) },
            node.name,
          ),
        ],
      });
    } else if (node.domain === "com.microsoft" && node.op === "Attention") {
      // ORT's fused attention (the transformer optimizer's GPT-2): q, k and v from one matmul, the
      // past stacked as [2, B, N, P, H] (keys then values) and the present likewise.
      const [input, weights, bias, maskIndex, past, attentionBias, pastSequenceLength] = node.inputs;
      if (!past) continue;
      if (!isPastInput(past)) refuse(model, `node ${node.name} reads a past that is not a graph input`, `node ${node.name}`);
      const sizes = node.attrs.qkv_hidden_sizes;
      const uncovered = [
        attr(node, "do_rotary", 0) && "do_rotary",
        attr(node, "past_present_share_buffer", 0) && "past_present_share_buffer",
        pastSequenceLength && "past_sequence_length",
        Array.isArray(sizes) && new Set<unknown>(sizes).size > 1 && "unequal qkv_hidden_sizes",
      ].filter(Boolean);
      if (uncovered.length)
        refuse(model, `node ${node.name}: Attention with ${uncovered.join(", ")} is not supported in a stateful decoder`);
      const heads = attr(node, "num_heads", 0) || refuse(model, `node ${node.name}: Attention needs num_heads`);
      const [qkv, q, k, v] = ["qkv", "q", "k", "v"].map((x) => `${node.name}/${x}`);
      const projected = bias ? `${node.name}/qkv_unbiased` : qkv;
      sites.push({
        node,
        pasts: [past],
        causal: attr(node, "unidirectional", 0) === 1,
        masks: [
          // mask_index: 1 where a token is attended (2-D, 3-D), or the sequence's end (1-D [B]; [2B]: ends, then starts).
          ...(maskIndex ? [{ node: node.name, tensor: maskIndex, keep: "mask_index" as const }] : []),
          ...(attentionBias ? [{ node: node.name, tensor: attentionBias, keep: "zero" as const }] : []),
        ],
        replacement: [
          { name: `${node.name}/qkv_matmul`, op: "MatMul", domain: "", inputs: [input, weights], outputs: [projected], attrs: {} },
          ...(bias ? [{ name: `${node.name}/qkv_bias`, op: "Add", domain: "", inputs: [projected, bias], outputs: [qkv], attrs: {} }] : []),
          { name: `${node.name}/qkv_split`, op: "Split", domain: "", inputs: [qkv], outputs: [q, k, v], attrs: { axis: -1 } },
          cached([q, k, v, "pos"], node.outputs[0], { heads, kvHeads: heads, scale: attr(node, "scale", 0) }, node.name),
        ],
      });
    } else if (!node.domain && node.op === "Attention") {
      // ONNX's Attention (opset 23): q, k, v [B, S, N·H] with q_num_heads/kv_num_heads, or [B, N, S, H].
      const [q, k, v, attnMask, pastKey, pastValue, nonpad] = node.inputs;
      if (!pastKey && !pastValue) continue;
      if (!isPastInput(pastKey) || !isPastInput(pastValue))
        refuse(model, `node ${node.name} reads past_key/past_value that are not graph inputs`, `node ${node.name}`);
      const scoresRead = node.outputs[3] && model.nodes.some((n) => n.inputs.includes(node.outputs[3]));
      const uncovered = [
        attr(node, "softcap", 0) && "softcap",
        nonpad && "nonpad_kv_seqlen",
        (scoresRead || model.outputs.some((o) => o.name === node.outputs[3])) && "its qk_matmul_output read",
      ].filter(Boolean);
      if (uncovered.length)
        refuse(model, `node ${node.name}: Attention with ${uncovered.join(", ")} is not supported in a stateful decoder`);
      // A boolean mask keeps a score where it is true; a float one is added to it.
      const maskType = attnMask ? elementType(attnMask) : undefined;
      if (attnMask && !maskType)
        refuse(model, `node ${node.name}: seec cannot tell whether attn_mask ${attnMask} is boolean or additive`, `node ${node.name}`);
      sites.push({
        node,
        pasts: [pastKey, pastValue],
        masks: attnMask ? [{ node: node.name, tensor: attnMask, keep: maskType === "bool" ? "true" : "zero" }] : [],
        causal: attr(node, "is_causal", 0) === 1,
        replacement: [
          cached(
            [q, k, v, "pos"],
            node.outputs[0],
            { heads: attr(node, "q_num_heads", 0), kvHeads: attr(node, "kv_num_heads", 0), scale: attr(node, "scale", 0) },
            node.name,
          ),
        ],
      });
    } else if (node.op === "Softmax" && !node.domain) {
      const site = writtenOut(node);
      if (site) sites.push(site);
    }
  }

  /** Attention written out over Concat(past, new): the site ending at the MatMul after this Softmax, if it is one. */
  function writtenOut(softmax: OnnxNode): Site | undefined {
    const after = readers.get(softmax.outputs[0]) ?? [];
    if (after.length !== 1 || after[0].op !== "MatMul" || after[0].inputs[0] !== softmax.outputs[0]) return undefined;
    const out = after[0];
    let scale = 1;
    let t = softmax.inputs[0];
    const masks: MaskTerm[] = [];
    for (let p = producer.get(t); p && p.op !== "MatMul"; p = producer.get(t)) {
      const data = p.inputs.filter((i) => i && tokenDerived(i));
      if (data.length !== 1 || p.inputs.some((i) => i && i !== data[0] && tokenDerived(i))) return undefined;
      if (p.op === "Div" || p.op === "Mul") {
        // scores / c or scores · c, by a constant scalar.
        const c = constantValue(p.inputs[p.inputs[0] === data[0] ? 1 : 0]);
        if (c === undefined || (p.op === "Div" && p.inputs[0] !== data[0])) return undefined;
        scale = p.op === "Div" ? scale / c : scale * c;
      } else if (p.op === "Add") {
        for (const i of p.inputs) if (i !== data[0]) masks.push({ node: p.name, tensor: i, keep: "zero" });
      } else if (p.op === "Where") {
        if (p.inputs[0] === data[0]) return undefined;
        masks.push({ node: p.name, tensor: p.inputs[0], keep: p.inputs[1] === data[0] ? "true" : "false" });
      } else if (p.op !== "Cast") return undefined;
      t = data[0];
    }
    const scores = producer.get(t);
    if (!scores || scores.op !== "MatMul") return undefined;
    const [q, keys] = scores.inputs;
    const concat = (name: string) => {
      const c = producer.get(name);
      if (c?.op !== "Concat" || c.inputs.length !== 2 || !pastDerived(c.inputs[0]) || !tokenDerived(c.inputs[1])) return undefined;
      return { axis: attr(c, "axis", 0), past: c.inputs[0], next: c.inputs[1] };
    };
    const values = concat(out.inputs[1]);
    if (!values || (values.axis !== 2 && values.axis !== -2)) return undefined;
    let k: OnnxNode[], kName: string;
    const direct = concat(keys);
    if (direct && (direct.axis === 3 || direct.axis === -1)) {
      // Keys stored transposed, [B, N, H, T]: the new ones turned back to [B, N, T, H].
      kName = `${direct.next}/keys`;
      k = [
        { name: `${out.name}/keys`, op: "Transpose", domain: "", inputs: [direct.next], outputs: [kName], attrs: { perm: [0, 1, 3, 2] } },
      ];
    } else {
      const turn = producer.get(keys);
      const perm = turn?.attrs.perm;
      const under = turn?.op === "Transpose" && Array.isArray(perm) && perm.join() === "0,1,3,2" ? concat(turn.inputs[0]) : undefined;
      if (!under || (under.axis !== 2 && under.axis !== -2)) return undefined;
      [k, kName] = [[], under.next];
    }
    const pasts = [...new Set([...(deps.get(keys) ?? []), ...(deps.get(out.inputs[1]) ?? [])])].filter(isPastInput);
    return {
      node: out,
      pasts,
      masks,
      replacement: [...k, cached([q, kName, values.next, "pos"], out.outputs[0], { heads: 0, kvHeads: 0, scale }, out.name)],
    };
  }

  if (sites.length === 0) {
    const other = model.nodes.find((n) => /Attention$/.test(n.op) && n.inputs.some((i) => isPastInput(i)));
    refuse(
      model,
      other
        ? `node ${other.name} (${other.domain || "ai.onnx"}:${other.op}) reads a past, a layout seec does not map onto its KV cache`
        : "no attention in the graph reads a past seec recognizes (a past input concatenated with the new keys or values)",
      other && `node ${other.name}`,
    );
  }

  // Replace the sites; tokens and pos come in; input_ids and position_ids are computed from them.
  const replaced = new Map(sites.map((s) => [s.node, s.replacement]));
  const int64 = (name: string, values: number[], shape: number[]) => model.initializers.set(name, tensor("int64", shape, values));
  int64("seec/input_ids_shape", [1, T], [2]);
  const front: OnnxNode[] = [
    { name: "seec/input_ids", op: "Reshape", domain: "", inputs: ["tokens", "seec/input_ids_shape"], outputs: ["input_ids"], attrs: {} },
  ];
  const positions = model.inputs.find((i) => i.name === "position_ids");
  if (positions) {
    const shape = positions.dims.map((d, i) => (i === positions.dims.length - 1 ? T : typeof d === "number" ? d : 1));
    const base = tensor(
      "int64",
      shape,
      Array.from({ length: T }, (_, t) => t),
    );
    const slope = tensor("int64", shape, new Array(T).fill(1));
    front.push({
      name: "seec/position_ids",
      op: "PositionAffine",
      domain: SEEC_DOMAIN,
      inputs: ["pos"],
      outputs: ["position_ids"],
      attrs: { base, slope },
    });
  }
  const presents = new Set(kvPairs(model).map((p) => p.present));
  for (const s of sites) for (const o of s.node.outputs.slice(1)) if (o && model.outputs.some((x) => x.name === o)) presents.add(o);
  const logitsOut = model.outputs.find((o) => !presents.has(o.name));
  if (!logitsOut) refuse(model, "the graph outputs only present key/value caches: there are no logits to sample from");
  const renamed = logitsOut.name === "logits" ? "logits/onnx" : logitsOut.name;
  const nodes = [...front, ...model.nodes.flatMap((n) => replaced.get(n) ?? [n])].map((n) => ({
    ...n,
    inputs: n.inputs.map((i) => (i === "logits" ? renamed : i)),
    outputs: n.outputs.map((o) => (o === "logits" ? renamed : o)),
  }));
  // The head on the last row only: a MatMul by a constant (the LM head) reads its input's last row,
  // so that a prompt's chunk multiplies one row by the vocabulary's weights, not T rows.
  const head = nodes.find((n) => n.outputs.includes(renamed));
  if (head?.op === "MatMul" && !head.domain && model.initializers.has(head.inputs[1])) {
    nodes.splice(nodes.indexOf(head), 0, {
      name: "seec/last_hidden",
      op: "Slice",
      domain: "",
      inputs: [head.inputs[0], "seec/logits_start", "seec/logits_end", "seec/logits_axis"],
      outputs: ["seec/last_hidden"],
      attrs: {},
    });
    head.inputs[0] = "seec/last_hidden";
  }
  int64("seec/logits_start", [-1], [1]);
  int64("seec/logits_end", [2 ** 53], [1]);
  int64("seec/logits_axis", [-2], [1]);
  int64("seec/logits_shape", [-1], [1]);
  nodes.push(
    {
      name: "seec/last_row",
      op: "Slice",
      domain: "",
      inputs: [renamed, "seec/logits_start", "seec/logits_end", "seec/logits_axis"],
      outputs: ["seec/last_row"],
      attrs: {},
    },
    { name: "seec/logits", op: "Reshape", domain: "", inputs: ["seec/last_row", "seec/logits_shape"], outputs: ["logits"], attrs: {} },
  );
  const pastInputs = new Set(sites.flatMap((s) => s.pasts));
  const tokensInput: OnnxValueInfo = { name: "tokens", elementType: "int32", dtype: "int32", dims: [T] };
  const posInput: OnnxValueInfo = { name: "pos", elementType: "int32", dtype: "int32", dims: [1] };
  let current: OnnxModel = {
    ...model,
    nodes,
    inputs: [tokensInput, posInput, ...model.inputs.filter((i) => i.name !== "input_ids" && i.name !== "position_ids")],
    outputs: [{ name: "logits", elementType: "float", dtype: "float32", dims: [] }],
  };
  current = pruned(current);

  // Values computed from the past's length: fold at three lengths, keep what is affine in it.
  const lengthInputs = current.inputs.filter((i) => i.name !== "tokens" && i.name !== "pos" && isLengthInput(i.name));
  function isLengthInput(name: string) {
    return pastInputs.has(name) || isPastInput(name) || name === "attention_mask";
  }
  const notes: string[] = [];
  if (lengthInputs.length > 0) current = followPastLength(current, lengthInputs, T, refuseIn(current));
  for (const input of current.inputs.slice(2)) {
    const reader = current.nodes.find((n) => n.inputs.includes(input.name))!;
    refuse(
      current,
      isLengthInput(input.name)
        ? `node ${reader.name} (${reader.op}) reads ${input.name} outside the attention seec maps onto the KV cache`
        : `node ${reader.name} (${reader.op}) reads input ${input.name}, which a stateful decoder (tokens and pos only) cannot feed`,
      `node ${reader.name}`,
    );
  }

  // The context: --context, within what the position tables hold.
  const tables = positionTables(current);
  const most = tables.length ? Math.min(...tables) : undefined;
  let context = opts.context ?? most ?? DEFAULT_DECODER_CONTEXT;
  if (most !== undefined && context > most) {
    notes.push(`--context ${context} is past the ${most} positions the model's tables hold; the context is ${most}`);
    context = most;
  }
  for (const n of current.nodes) if (n.op === "CachedAttention" && n.domain === SEEC_DOMAIN) n.attrs.context = context;
  // The masks at the context the cache has (a sliding window shows at its last rows).
  for (const s of sites) causalMasks(model, s, context, T);
  // The token embedding: a Gather from a table at the ids (reshaped, sliced or cast on the way).
  const idNames = new Set(["input_ids"]);
  for (const n of current.nodes)
    if (["Reshape", "Slice", "Unsqueeze", "Squeeze", "Flatten", "Cast", "Identity"].includes(n.op) && idNames.has(n.inputs[0]))
      idNames.add(n.outputs[0]);
  const embedding = current.nodes.find((n) => n.op === "Gather" && idNames.has(n.inputs[1]) && current.initializers.has(n.inputs[0]));
  return {
    model: current,
    context,
    vocabSize: embedding ? current.initializers.get(embedding.inputs[0])!.shape[0] : undefined,
    layers: sites.length,
    notes,
  };
}

/**
 * The cached attention is causal: each new token sees every earlier token and itself, and nothing is
 * added to the scores. The masks and biases a graph puts on them must drop out: each term, computed
 * with the past P tokens long (a few lengths up to the context), T new tokens and an attention_mask
 * of P + T ones (no padding), must keep every score a token may see (an addend of zeros, a Where that
 * picks the scores there) and, over [T, P + T], keep or hide (an addend of −10⁴ or less, a Where that
 * picks the other side) every score of a later new token. With more than one new token, a term or the
 * op itself must hide them. A bias (ALiBi, relative positions), a sliding window or a mask seec
 * cannot compute at build time is refused by name, not dropped.
 *
 * Several new tokens after a past are a case some exporters' mask plumbing does not compute (ONNX
 * Runtime's model builder adds a [T, T] causal mask to a [T, P + T] padding one: a prompt, or one
 * token after it). There the masks must keep every score of one token at every past length, and be
 * causal over a prompt of T tokens (P = 0): what the graph computes at the lengths it can.
 */
function causalMasks(model: OnnxModel, site: Site, context: number, T: number): void {
  if (T > 1) causalMasks(model, site, context, 1);
  const terms = site.masks ?? [];
  let hidden = site.causal === true;
  const ids = model.inputs.find((i) => i.name === "input_ids");
  const tokenDims = new Set(ids?.dims.filter((d): d is string => typeof d === "string" && !/batch/i.test(d)));
  const mask = model.inputs.find((i) => i.name === "attention_mask");
  const sub = terms.length ? pruned({ ...model, outputs: terms.map((t) => ({ name: t.tensor, elementType: "float", dims: [] })) }) : model;
  // Past lengths 1, 2 and 5 (and 0 for a prompt of T) must fold; the context's last rows too where the graph's tables
  // reach them (a sliding window). Only lengths whose P + T tokens the context holds: where the runtime can be.
  const lengths = [...new Set([...(T > 1 ? [0] : []), 1, 2, 5, Math.max(1, context - T)])].filter((P) => P === 0 || P + T <= context);
  for (const P of terms.length ? lengths : []) {
    const initializers = new Map(sub.initializers);
    if (mask && sub.inputs.includes(mask)) {
      const dims = mask.dims.map((d, k) => (k === mask.dims.length - 1 ? P + T : typeof d === "number" ? d : 1));
      initializers.set(mask.name, tensor(mask.dtype ?? "int64", dims, new Array(dims.reduce((a, b) => a * b, 1)).fill(1)));
    }
    const inputs = sub.inputs
      .filter((i) => !initializers.has(i.name))
      .map((i) => {
        const symbols = i.dims.filter((d) => typeof d !== "number");
        const shape = i.dims.map((d) =>
          typeof d === "number"
            ? d
            : /batch/i.test(d) || (symbols.length > 1 && d === symbols[0])
              ? 1
              : i.name === "input_ids" || (i.name === "position_ids" && tokenDims.has(d))
                ? T
                : P,
        );
        return { name: i.name, dtype: i.dtype ?? "float32", shape };
      });
    let folded: ReturnType<typeof foldGraph> | undefined;
    try {
      folded = foldGraph({ ...sub, initializers, inputs: sub.inputs.filter((i) => !initializers.has(i.name)) }, inputs);
    } catch {
      if (P > 5 || (T > 1 && P > 0)) continue;
      folded = undefined;
    }
    for (const t of terms) {
      const v = folded?.constant.has(t.tensor) ? folded.values.get(t.tensor) : undefined;
      if (!v)
        refuse(
          model,
          `node ${t.node} masks the attention's scores with ${t.tensor}, which seec cannot compute at build time to check it is causal over every earlier token`,
          `node ${t.node}`,
        );
      const kind = maskKind(t, v, P, T);
      if (!kind)
        refuse(
          model,
          `node ${t.node} ${t.keep === "zero" ? "adds a bias" : "applies a mask"} (${t.tensor}) that is not causal over every earlier token with ${P} past tokens${T > 1 ? ` and ${T} new ones` : ""}; the KV cache's attention adds none`,
          `node ${t.node}`,
        );
      if (kind === "causal") hidden = true;
    }
  }
  if (T > 1 && !hidden)
    refuse(
      model,
      `node ${site.node.name}: nothing hides the later of several new tokens from the earlier ones (no causal mask, is_causal or unidirectional), as the KV cache's attention does`,
      `node ${site.node.name}`,
    );
}

/**
 * What a mask term does to the scores of T new tokens after P past ones: "all" where it keeps every
 * score, "causal" where it keeps exactly those of the keys up to each token's own position (its
 * last two axes [T, P + T]), undefined otherwise.
 */
function maskKind(term: MaskTerm, v: OnnxTensor, P: number, T: number): "all" | "causal" | undefined {
  if (term.keep === "mask_index" && v.shape.length === 1) return maskIndexKeepsAll(v.data, P + T) ? "all" : undefined;
  const keeps = (x: number) => (term.keep === "zero" || term.keep === "false" ? x === 0 : x !== 0);
  const hides = (x: number) => (term.keep === "zero" ? x <= -1e4 : !keeps(x));
  if (Array.from(v.data).every(keeps)) return "all";
  const [rows, keys] = v.shape.slice(-2);
  if (T === 1 || v.shape.length < 2 || rows !== T || keys !== P + T) return undefined;
  for (let i = 0; i < v.data.length; i++) {
    const j = i % keys,
      t = Math.floor(i / keys) % T;
    if (!(j <= P + t ? keeps(v.data[i]) : hides(v.data[i]))) return undefined;
  }
  return "causal";
}

/** com.microsoft Attention's 1-D mask_index for one sequence of T keys: its end (exclusive), or its end then its start; every key kept where the end is T or more and the start 0 or less. */
function maskIndexKeepsAll(data: ArrayLike<number>, T: number): boolean {
  if (data.length === 1) return data[0] >= T;
  if (data.length === 2) return data[0] >= T && data[1] <= 0;
  return false; // [3B + 2]: query and key starts and ends
}

function refuseIn(model: OnnxModel) {
  return (message: string, at?: string) => refuse(model, message, at);
}

/** Only the nodes the outputs need (the presents' and masks' computations fall away). */
function pruned(model: OnnxModel): OnnxModel {
  const needed = new Set(model.outputs.map((o) => o.name));
  const keep: OnnxNode[] = [];
  for (const n of [...model.nodes].reverse())
    if (n.outputs.some((o) => o && needed.has(o))) {
      keep.push(n);
      for (const i of n.inputs) if (i) needed.add(i);
    }
  return { ...model, nodes: keep.reverse(), inputs: model.inputs.filter((i) => needed.has(i.name)) };
}

/**
 * Folds the graph with the past `P` = 1, 2 and 5 tokens long: a constant that differs between them
 * and is read by a node computing at run time is replaced by base + pos · slope when it is that
 * at all three lengths; a tensor computed at run time whose shape follows the length is refused.
 */
function followPastLength(model: OnnxModel, lengthInputs: OnnxValueInfo[], T: number, fail: (m: string, at?: string) => never): OnnxModel {
  const lengths = [1, 2, 5];
  const folds = lengths.map((P) => {
    const inputs = model.inputs.map((i) => {
      const named = lengthInputs.includes(i);
      const symbols = i.dims.filter((d) => typeof d !== "number");
      const shape = i.dims.map((d) => {
        if (typeof d === "number") return d;
        if (!named) return 1;
        if (/batch/i.test(d) || (symbols.length > 1 && d === symbols[0])) return 1;
        return i.name === "attention_mask" ? P + T : P;
      });
      return { name: i.name, dtype: i.dtype!, shape };
    });
    return foldGraph(model, inputs);
  });
  const [a, b, c] = folds;
  const same = (x: OnnxTensor, y: OnnxTensor) => x.shape.join() === y.shape.join() && x.data.every((v, i) => v === y.data[i]);
  const producer = new Map(model.nodes.flatMap((n) => n.outputs.filter(Boolean).map((o) => [o, n] as const)));
  const affineOf = new Map<string, string>();
  /** Per node, the inputs it reads from run-time computations instead of the folded constants. */
  const rewired = new Map<OnnxNode, Map<string, string>>();
  const added: OnnxNode[] = [];
  const following = (i: string) => {
    const [x, y, z] = [a, b, c].map((f) => f.values.get(i)!);
    return !(same(x, y) && same(y, z));
  };
  /**
   * pos as PositionAffine reads it: a float value's from pos cast to its type, so that the nodes
   * reading it compute in floats (folding types an op's output as its first input's: pos's int32
   * would make a Mul of the value and a float constant an integer one, its fractions dropped).
   */
  const posAs = (dtype: OnnxTensor["dtype"]): string => {
    if (!isFloat(dtype)) return "pos";
    const name = `seec/pos/${dtype}`;
    if (!added.some((n) => n.outputs[0] === name))
      added.push({ name, op: "Cast", domain: "", inputs: ["pos"], outputs: [name], attrs: { to: DATA_TYPE_NUMBERS[dtype] } });
    return name;
  };
  /** Makes `n` read `i` (a constant that follows the past's length) computed at run time. */
  function follow(n: OnnxNode, i: string): void {
    const [x, y, z] = [a, b, c].map((f) => f.values.get(i)!);
    if (x.shape.join() !== y.shape.join() || y.shape.join() !== z.shape.join())
      fail(`node ${n.name} (${n.op}) reads ${i}, whose shape follows the past's length`, `node ${n.name}`);
    let name = affineOf.get(i);
    if (!name) {
      const slope = tensor(
        x.dtype,
        x.shape,
        Array.from(x.data, (v, k) => y.data[k] - v),
      );
      const base = tensor(
        x.dtype,
        x.shape,
        Array.from(x.data, (v, k) => v - lengths[0] * slope.data[k]),
      );
      const tolerance = (v: number) => (isFloat(x.dtype) ? 1e-6 * Math.max(1, Math.abs(v)) : 0);
      if (z.data.every((v, k) => Math.abs(v - (base.data[k] + lengths[2] * slope.data[k])) <= tolerance(v))) {
        name = `${i}/at_pos`;
        added.push({
          name: `seec/${name}`,
          op: "PositionAffine",
          domain: SEEC_DOMAIN,
          inputs: [posAs(x.dtype)],
          outputs: [name],
          attrs: { base, slope },
        });
      } else {
        // Not affine (rows gathered at the positions, say): computed at run time from inputs that are.
        const p = producer.get(i);
        if (!p || SHAPE_ONLY.has(p.op) || !p.inputs.some((j) => j && a.constant.has(j) && following(j)))
          fail(
            `node ${n.name} (${n.op}) reads ${i}, which the graph computes from the past's length other than as pos · a + b`,
            `node ${n.name}`,
          );
        for (const j of p.inputs) if (j && a.constant.has(j) && following(j)) follow(p, j);
        name = i;
      }
      affineOf.set(i, name);
    }
    if (name !== i) rewired.set(n, new Map([...(rewired.get(n) ?? []), [i, name]]));
  }
  for (const n of model.nodes) {
    if (!n.outputs.some((o) => o && !a.constant.has(o))) continue;
    for (const i of n.inputs) if (i && a.constant.has(i) && following(i)) follow(n, i);
  }
  const nodes = [...added, ...model.nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => rewired.get(n)?.get(i) ?? i) }))];
  return pruned({ ...model, nodes });
}

/** Rows of the tables positions index (rotary caches, position embeddings): the most positions the model knows. */
function positionTables(model: OnnxModel): number[] {
  const rows: number[] = [];
  const affine = new Set(model.nodes.filter((n) => n.op === "PositionAffine").flatMap((n) => n.outputs));
  for (const n of model.nodes) {
    if (n.op === "CachedAttention" && n.attrs.rotary && model.initializers.has(n.inputs[4]))
      rows.push(model.initializers.get(n.inputs[4])!.shape[0]);
    if (n.op === "RotaryEmbedding" && n.domain === "com.microsoft" && model.initializers.has(n.inputs[2]))
      rows.push(model.initializers.get(n.inputs[2])!.shape[0]);
    // ONNX's (opset 23): cos_cache second, its rows indexed by position_ids (without them, the cache is per token).
    if (n.op === "RotaryEmbedding" && !n.domain && n.inputs[3] && model.initializers.has(n.inputs[1]))
      rows.push(model.initializers.get(n.inputs[1])!.shape[0]);
    if (n.op === "Gather" && affine.has(n.inputs[1]) && model.initializers.has(n.inputs[0]))
      rows.push(model.initializers.get(n.inputs[0])!.shape[0]);
  }
  return rows;
}
