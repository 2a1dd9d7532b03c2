/**
 * The closed set of IR op names. ops/index.ts's registry is declared against it, so does every
 * backend's table (a misspelled or missing key is a type error); a leaf file so graph.ts can type
 * Node.op without importing the ops (which import graph.ts).
 */
export const OP_NAMES = [
  "Add",
  "AddRows",
  "Attention",
  "Concat",
  "Copy",
  "EntangledEmbedding",
  "EntangledLogits",
  "EntangledTable",
  "Gather",
  "L2Normalize",
  "LastRow",
  "LayerNorm",
  "Linear",
  "Map",
  "MatMul",
  "MeanLinear",
  "MeanQLinear",
  "MeanRows",
  "Q4Linear",
  "QGather",
  "QLinear",
  "Reduce",
  "Relu",
  "RMSNorm",
  "RoPE",
  "ScaledAttention",
  "SelfAttention",
  "Softmax",
  "SwiGLU",
  "Tanh",
] as const;

export type OpName = (typeof OP_NAMES)[number];

const NAMES: ReadonlySet<string> = new Set(OP_NAMES);

export function isOpName(op: string): op is OpName {
  return NAMES.has(op);
}
