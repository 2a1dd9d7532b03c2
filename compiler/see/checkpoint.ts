/**
 * A distillation's checkpoint: everything its loop holds between steps — the parameters, Adam's
 * moments, the best parameters so far, the order of the training examples and where the loop is in
 * it, the curves — as one safetensors file. Resuming from it continues the run exactly where it
 * stopped: the same seed makes the same data, and the file makes the rest.
 */
import { SeecError } from "../../runtime/errors.js";
import { readSafetensors, writeSafetensors, type StTensor } from "../factors/safetensors.js";

export interface Checkpoint {
  /** The options that shape the run (distill's, less callbacks), as JSON: a resume must match them. */
  fingerprint: Record<string, unknown>;
  step: number;
  epoch: number;
  cursor: number;
  /** The training examples' order (indices into the data), as the loop has shuffled it. */
  order: Int32Array;
  params: Record<string, Float32Array>;
  adam: { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> };
  best: { loss: number; step: number; params: Record<string, Float32Array> };
  curve: { step: number; loss: number }[];
  losses: number[];
  tokens: number;
  trainSeconds: number;
}

const FORMAT = "seec-distill-checkpoint/1";

export function writeCheckpoint(c: Checkpoint): Uint8Array {
  const tensors = new Map<string, StTensor>();
  const put = (prefix: string, group: Record<string, Float32Array>) => {
    for (const [name, data] of Object.entries(group)) tensors.set(`${prefix}/${name}`, { dtype: "F32", shape: [data.length], data });
  };
  put("param", c.params);
  put("adam.m", c.adam.m);
  put("adam.v", c.adam.v);
  put("best", c.best.params);
  tensors.set("order", { dtype: "I32", shape: [c.order.length], data: c.order });
  const { params: _p, adam, best, order: _o, ...scalars } = c;
  const meta = { ...scalars, adamStep: adam.step, bestLoss: best.loss, bestStep: best.step };
  return writeSafetensors(tensors, { format: FORMAT, checkpoint: JSON.stringify(meta) });
}

export function readCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  const { metadata, tensors } = readSafetensors(bytes, file);
  if (metadata.format !== FORMAT)
    throw new SeecError("input.checkpoint", `not a seec distill checkpoint (format ${JSON.stringify(metadata.format ?? null)})`, {
      file,
      hint: "--resume reads the .ckpt file seec distill writes beside its output",
    });
  const meta = JSON.parse(metadata.checkpoint ?? "{}");
  const group = (prefix: string) =>
    Object.fromEntries(
      [...tensors].filter(([k]) => k.startsWith(`${prefix}/`)).map(([k, t]) => [k.slice(prefix.length + 1), t.data as Float32Array]),
    );
  const order = tensors.get("order");
  if (!order || order.dtype !== "I32") throw new SeecError("input.checkpoint", "the checkpoint has no example order", { file });
  return {
    fingerprint: meta.fingerprint,
    step: meta.step,
    epoch: meta.epoch,
    cursor: meta.cursor,
    order: order.data as Int32Array,
    params: group("param"),
    adam: { step: meta.adamStep, m: group("adam.m"), v: group("adam.v") },
    best: { loss: meta.bestLoss, step: meta.bestStep, params: group("best") },
    curve: meta.curve,
    losses: meta.losses,
    tokens: meta.tokens,
    trainSeconds: meta.trainSeconds,
  };
}

/** The first option whose value differs between a checkpoint and this run, or undefined. */
export function fingerprintDifference(a: Record<string, unknown>, b: Record<string, unknown>): string | undefined {
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `${key} (${JSON.stringify(a[key])} then, ${JSON.stringify(b[key])} now)`;
  return undefined;
}
