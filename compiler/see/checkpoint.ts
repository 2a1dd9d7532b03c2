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
  const meta = checkpointMeta(metadata.checkpoint, file);
  const group = (prefix: string) =>
    Object.fromEntries(
      [...tensors]
        .filter(([k]) => k.startsWith(`${prefix}/`))
        .map(([k, t]) => {
          const data = t.data as Float32Array;
          const i = t.dtype === "F32" ? data.findIndex((v) => !Number.isFinite(v)) : -1;
          if (t.dtype !== "F32" || i >= 0)
            throw new SeecError("input.checkpoint", t.dtype !== "F32" ? `tensor ${k} is ${t.dtype}, not F32` : `${k}[${i}] is ${data[i]}`, {
              file,
              at: `tensor ${k}`,
              hint: "the checkpoint is damaged: start the run again without --resume",
            });
          return [k.slice(prefix.length + 1), data];
        }),
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

/** The scalars writeCheckpoint puts in the metadata. */
type CheckpointMeta = Omit<Checkpoint, "order" | "params" | "adam" | "best"> & { adamStep: number; bestLoss: number; bestStep: number };

/** The checkpoint's metadata (JSON), each field of the type the loop needs, or input.checkpoint naming the first that is not. */
function checkpointMeta(text: unknown, file: string): CheckpointMeta {
  const bad = (what: string) =>
    new SeecError("input.checkpoint", `the checkpoint's metadata ${what}`, {
      file,
      at: "metadata.checkpoint",
      hint: "the checkpoint is damaged: start the run again without --resume",
    });
  let meta: unknown;
  try {
    meta = JSON.parse(typeof text === "string" ? text : "");
  } catch {
    throw bad("is not JSON");
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw bad("is not an object");
  const m = meta as Record<string, unknown>;
  if (typeof m.fingerprint !== "object" || m.fingerprint === null || Array.isArray(m.fingerprint)) throw bad("has no fingerprint object");
  for (const key of ["step", "epoch", "cursor", "adamStep", "bestStep", "tokens"])
    if (!Number.isSafeInteger(m[key]) || (m[key] as number) < 0) throw bad(`field ${key} is ${JSON.stringify(m[key])}, not a whole number`);
  // An infinite best loss (none scored yet) is written as null.
  if (m.bestLoss === null) m.bestLoss = Infinity;
  for (const key of ["bestLoss", "trainSeconds"]) if (typeof m[key] !== "number") throw bad(`field ${key} is not a number`);
  const numbers = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === "number");
  if (!numbers(m.losses)) throw bad("field losses is not a list of numbers");
  if (!Array.isArray(m.curve) || m.curve.length === 0 || !m.curve.every((c) => typeof c?.step === "number" && typeof c?.loss === "number"))
    throw bad("field curve is not a list of { step, loss }");
  return m as unknown as CheckpointMeta;
}
