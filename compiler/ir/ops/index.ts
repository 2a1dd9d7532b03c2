/** The op registry: every op seec knows, by name. Backends render exactly these. */
import { SeecError } from "../../../runtime/errors.js";
import { Attention, ScaledAttention, SelfAttention } from "./attention.js";
import { Add, AddRows, MeanRows, Relu, SwiGLU, Tanh } from "./elementwise.js";
import { EntangledEmbedding, EntangledLogits, EntangledTable } from "./entangled.js";
import { Gather, LastRow, QGather } from "./indexing.js";
import { Linear, MeanLinear, MeanQLinear, QLinear } from "./linear.js";
import { Q4Linear } from "./linear-q4.js";
import { L2Normalize, LayerNorm, RMSNorm } from "./norm.js";
import type { OpDef } from "./op.js";
import { isOpName, type OpName } from "../op-names.js";
import { RoPE } from "./rope.js";
import { Concat, Copy, Map, MatMul, Reduce, Softmax } from "./tensor.js";

/** Every op in OP_NAMES (op-names.ts), and nothing else: a missing or extra key is a type error. */
export const OPS = {
  Add,
  AddRows,
  Attention,
  Concat,
  Copy,
  EntangledEmbedding,
  EntangledLogits,
  EntangledTable,
  Gather,
  L2Normalize,
  LastRow,
  LayerNorm,
  Linear,
  Map,
  MatMul,
  MeanLinear,
  MeanQLinear,
  MeanRows,
  Q4Linear,
  QGather,
  QLinear,
  Reduce,
  Relu,
  RMSNorm,
  RoPE,
  ScaledAttention,
  SelfAttention,
  Softmax,
  SwiGLU,
  Tanh,
} as const satisfies Readonly<Record<OpName, OpDef>>;

/** `op` as an OpName, or internal.ir when it is not in the registry. */
export function opName(op: string): OpName {
  if (!isOpName(op)) throw new SeecError("internal.ir", `op "${op}" is not in the registry`);
  return op;
}

export function opDef(op: string): OpDef {
  return OPS[opName(op)];
}

export type { OpDef, Tensor } from "./op.js";
export { isOpName, OP_NAMES, type OpName } from "../op-names.js";
