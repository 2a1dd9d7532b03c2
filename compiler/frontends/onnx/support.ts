/** Which ONNX ops seec reads, and the lowering of each: checked up front, one error for them all. */
import { SeecError } from "../../../runtime/errors.js";
import { CONTROL_FLOW_LOWERINGS, CONTROL_FLOW_OPS } from "./control-flow.js";
import { LAYOUT_OPS } from "./layout-ops.js";
import { CONTRIB_LLM_LOWERINGS } from "./lower-contrib-llm.js";
import { DECODER_LOWERINGS } from "./lower-decoder.js";
import { FUSED_LOWERINGS } from "./lower-fused.js";
import { LOWERINGS, type Lowering } from "./lower-ops.js";
import { EINSUM_LOWERINGS } from "./lower-einsum.js";
import { GRID_LOWERINGS } from "./lower-grid.js";
import { INDEXING_LOWERINGS } from "./lower-indexing.js";
import { LINALG_LOWERINGS } from "./lower-linalg.js";
import { QUANT_LOWERINGS } from "./lower-quant.js";
import { RECURRENT_LOWERINGS } from "./lower-recurrent.js";
import { RESIZE_LOWERINGS } from "./lower-resize.js";
import { SIGNAL_LOWERINGS } from "./lower-signal.js";
import { SPATIAL_LOWERINGS } from "./lower-spatial.js";
import type { OnnxModel, OnnxNode } from "./read.js";

/** Every lowering by key (`domain:op` outside the default domain), one table per file that defines them. */
const TABLES: readonly Readonly<Record<string, Lowering>>[] = [
  LOWERINGS,
  SPATIAL_LOWERINGS,
  INDEXING_LOWERINGS,
  RESIZE_LOWERINGS,
  EINSUM_LOWERINGS,
  SIGNAL_LOWERINGS,
  GRID_LOWERINGS,
  RECURRENT_LOWERINGS,
  LINALG_LOWERINGS,
  QUANT_LOWERINGS,
  FUSED_LOWERINGS,
  CONTRIB_LLM_LOWERINGS,
  DECODER_LOWERINGS,
  CONTROL_FLOW_LOWERINGS,
];

/** The node's lowering to IR, if it has one. */
export function loweringOf(node: OnnxNode): Lowering | undefined {
  const key = node.domain ? `${node.domain}:${node.op}` : node.op;
  return TABLES.find((t) => Object.hasOwn(t, key))?.[key];
}

/** Read: lowered to IR, or (the sources of shapes: Shape, Constant, Range, ...) only ever folded. */
const supported = (node: OnnxNode) =>
  !!loweringOf(node) || (!node.domain && (Object.hasOwn(LAYOUT_OPS, node.op) || CONTROL_FLOW_OPS.has(node.op)));

/** The graph's nodes and those of every subgraph in them (If's branches, Loop's and Scan's bodies), however deep. */
export function allNodes(nodes: readonly OnnxNode[]): OnnxNode[] {
  return nodes.flatMap((n) => [
    n,
    ...allNodes(Object.values(n.attrs).flatMap((a) => (typeof a === "object" && a !== null && "body" in a ? a.body.nodes : []))),
  ]);
}

/** Every node whose op seec does not read, listed in one error before any other work. */
export function checkOps(model: OnnxModel): void {
  const unsupported = allNodes(model.nodes).filter((n) => !supported(n));
  if (unsupported.length === 0) return;
  const byOp = new Map<string, OnnxNode[]>();
  for (const n of unsupported) {
    const key = `${n.domain || "ai.onnx"}:${n.op}`;
    byOp.set(key, [...(byOp.get(key) ?? []), n]);
  }
  const lines = [...byOp].map(([key, nodes]) => {
    const [domain] = key.split(":");
    const opset = model.opsets.get(domain === "ai.onnx" ? "" : domain);
    return `${key} (opset ${opset ?? "?"}): ${nodes.length} node${nodes.length > 1 ? "s" : ""}, e.g. ${nodes
      .slice(0, 3)
      .map((n) => n.name)
      .join(", ")}`;
  });
  throw new SeecError(
    "unsupported.onnx_op",
    `the graph uses ${byOp.size} op type${byOp.size > 1 ? "s" : ""} seec does not support: ${lines.join("; ")}`,
    {
      file: model.file,
      hint: "see the README's list of supported ONNX ops",
    },
  );
}
