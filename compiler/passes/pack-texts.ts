/**
 * packTexts: an encoder that embeds one text per call becomes one that embeds up to `texts` texts
 * per call, their tokens packed end to end into the T rows (at most `tokens` in all) and their
 * token counts in a new input, `lengths` (i32 [B]). Every row-wise op (the embedding lookup, the
 * matmuls, norms and activations) then runs once over all the texts' rows, so each weight is read
 * once per batch, not once per text; the ops that mix rows take `lengths` and run per text
 * (compiler/ir/ops/per-text.ts: positions restart, attention stays inside a text, one pooled row
 * per text), and everything after the pooling has a row per text: the output is [B, width].
 *
 * Packing, not padding: no row is computed for a token that is not there, and no mask is needed,
 * since each text's attention runs over its own rows (a contiguous slice). poolEarly's MeanLinear
 * runs per text too: the means of every text, then one matmul over them (a read of its weights).
 *
 * A graph this cannot prove right to pack (not an encoder of tokens [T] in, an op that is neither
 * row-wise nor one of the per-text ops) is returned as it is: its artifact embeds one text a call.
 */
import { SeecError } from "../../runtime/errors.js";
import type { Graph, Value } from "../ir/graph.js";
import { opDef } from "../ir/ops/index.js";
import type { OpName } from "../ir/op-names.js";

export interface PackOptions {
  /** The most texts one call takes (1: no packing). */
  texts: number;
  /** The most tokens one call takes, all texts together (at least the model's maximum length). */
  tokens: number;
}

/** Texts per call, and tokens per call per text, unless the build says otherwise (seec build --batch). */
export const DEFAULT_BATCH = 32;
export const TOKENS_PER_TEXT = 32;

/** The packed batch's bounds for `texts` texts: room for TOKENS_PER_TEXT tokens a text on average, and for one text at its longest. */
export function packOptions(texts: number, maxLength: number): PackOptions {
  return { texts, tokens: Math.max(maxLength, texts * TOKENS_PER_TEXT) };
}

/** Ops that compute each row from that row alone (or from constants): right over packed rows as they are. */
const ROW_WISE = new Set<OpName>([
  "Gather",
  "QGather",
  "EntangledEmbedding",
  "EntangledTable",
  "Add",
  "Relu",
  "Tanh",
  "SwiGLU",
  "Linear",
  "QLinear",
  "Q4Linear",
  "LayerNorm",
  "RMSNorm",
  "L2Normalize",
]);
/** Ops that mix a text's rows, and how many inputs they have before the lengths: they run per text. */
const PER_TEXT: Partial<Record<OpName, number>> = { AddRows: 2, SelfAttention: 3, MeanRows: 1, MeanLinear: 3, MeanQLinear: 4 };

export function packTexts(graph: Graph, { texts, tokens }: PackOptions): { graph: Graph; packed: boolean } {
  const unchanged = { graph, packed: false };
  const tokensIn = graph.values.get("tokens");
  const maxLength = graph.model.config.maxLength;
  if (
    texts < 2 ||
    graph.model.family !== "encoder" ||
    !Number.isInteger(maxLength) ||
    tokens < maxLength ||
    graph.inputs.length !== 1 ||
    tokensIn?.kind !== "input" ||
    tokensIn.shape.length !== 1 ||
    tokensIn.shape[0] !== "T" ||
    Object.keys(graph.dims).join() !== "T" ||
    // Every op row-wise or per text (a MeanLinear with its bias: the lengths come after all its inputs).
    graph.nodes.some((n) => !ROW_WISE.has(n.op) && n.inputs.length !== PER_TEXT[n.op])
  )
    return unchanged;

  const values = new Map(graph.values);
  const lengths: Value = { name: "lengths", kind: "input", dtype: "i32", shape: ["B"] };
  if (values.has(lengths.name)) return unchanged;
  values.set(lengths.name, lengths);
  const nodes = graph.nodes.map((n) => (PER_TEXT[n.op] ? { ...n, inputs: [...n.inputs, lengths.name] } : n));
  // Every activation's shape again, in order: [T, ...] stays, what follows the pooling has B rows.
  // A graph whose shapes then do not add up (a pooled row meeting a constant one) is left as it was.
  try {
    for (const n of nodes)
      opDef(n.op)
        .infer(
          n.inputs.map((i) => values.get(i)!),
          n.attrs,
          n.name,
        )
        .forEach((t, i) => values.set(n.outputs[i], { ...values.get(n.outputs[i])!, ...t }));
  } catch (e) {
    if (e instanceof SeecError && e.code === "internal.ir") return unchanged;
    throw e;
  }
  // embed() reads a row per text.
  if (graph.outputs.some((o) => values.get(o)!.shape[0] !== "B")) return unchanged;
  return {
    packed: true,
    graph: {
      ...graph,
      values,
      nodes,
      inputs: [...graph.inputs, lengths.name],
      dims: { T: { max: tokens }, B: { max: texts } },
      model: { ...graph.model, batch: { texts, tokens } },
    },
  };
}
