/** The op registry: every op seec knows, by name. Backends render exactly these. */
import { SeecError } from "../../../runtime/errors.js";
import { Attention, ScaledAttention, SelfAttention } from "./attention.js";
import { Add, AddRows, MeanRows, Relu, SwiGLU, Tanh } from "./elementwise.js";
import { EntangledEmbedding, EntangledLogits, EntangledTable } from "./entangled.js";
import { Gather, LastRow } from "./indexing.js";
import { Linear, MeanLinear, MeanQLinear, QLinear } from "./linear.js";
import { L2Normalize, LayerNorm, RMSNorm } from "./norm.js";
import type { OpDef } from "./op.js";
import { RoPE } from "./rope.js";
import { Concat, Copy, Map, MatMul, Reduce, Softmax } from "./tensor.js";

export const OPS: Readonly<Record<string, OpDef>> = {
  Add, AddRows, Attention, Concat, Copy, EntangledEmbedding, EntangledLogits, EntangledTable, Gather, L2Normalize, LastRow, LayerNorm,
  Linear, Map, MatMul, MeanLinear, MeanQLinear, MeanRows, QLinear, Reduce, Relu, RMSNorm, RoPE, ScaledAttention, SelfAttention, Softmax, SwiGLU, Tanh,
};

export function opDef(op: string): OpDef {
  const def = OPS[op];
  if (!def) throw new SeecError("internal.ir", `op "${op}" is not in the registry`);
  return def;
}

export type { OpDef, Tensor } from "./op.js";
