/**
 * The `.see` file (SEE.md §3): safetensors with `__metadata__.see` = the JSON spec, tensors
 * `tables.<source>` f32 [rank, rows, q], `index.<slot>` [vocab] (or [rank, vocab] for a perTerm
 * slot; u8 or u16 where the source's rows fit, else i32; any of the three is read), `bag.<slot>.offsets`
 * i32 [vocab+1], `bag.<slot>.ids` i32 [nnz], optional `bag.<slot>.weights` f32 [nnz],
 * `norm.weight` and `norm.bias` f32 [dim]; in see/2, `model.<name>` f32 for each model weight the
 * spec's `weights` lists (trained with the factors, replacing the model's), and `adapter.<name>.a`
 * f32 [N, rank] and `adapter.<name>.b` f32 [rank, K] for each low-rank adapter the spec's `adapters`
 * lists (the built model reads W + A·B). The reader checks every shape and index bound.
 */
import { SeecError } from "../../runtime/errors.js";
import { checkSpec, indexBytes, LAYERNORM_EPSILON, narrowIndex, type Bag, type SeeFactors, type SeeSpec } from "./factors.js";
import { readSafetensors, writeSafetensors, type StTensor } from "./safetensors.js";

export function readSee(bytes: Uint8Array, file: string): SeeFactors {
  const { metadata, tensors } = readSafetensors(bytes, file);
  if (typeof metadata.see !== "string")
    throw new SeecError("input.see", "the safetensors file has no __metadata__.see entry", {
      file,
      hint: "is this a .see file written by seec factorize?",
    });
  let spec: SeeSpec;
  try {
    spec = JSON.parse(metadata.see);
  } catch (e) {
    throw new SeecError("input.see", `__metadata__.see is not valid JSON: ${(e as Error).message}`, { file, at: "metadata.see" });
  }
  checkSpec(spec, file);

  const take = (name: string, dtype: StTensor["dtype"] | "index", shape: number[]): StTensor["data"] => {
    const t = tensors.get(name);
    if (!t) throw new SeecError("input.see", `tensor ${name} is missing`, { file, at: `tensor ${name}` });
    const dtypeOk = dtype === "index" ? t.dtype !== "F32" : t.dtype === dtype;
    if (!dtypeOk || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new SeecError(
        "input.see",
        `tensor ${name} is ${t.dtype} [${t.shape.join(", ")}], expected ${dtype === "index" ? "U8, U16 or I32" : dtype} [${shape.join(", ")}]`,
        { file, at: `tensor ${name}` },
      );
    tensors.delete(name);
    if (dtype === "F32") {
      const i = (t.data as Float32Array).findIndex((v) => !Number.isFinite(v));
      if (i >= 0)
        throw new SeecError("input.see", `${name}[${i}] is ${t.data[i]}: factors are finite numbers`, { file, at: `tensor ${name}` });
    }
    return t.data;
  };
  const inRange = (name: string, values: Int32Array, limit: number) => {
    const i = values.findIndex((v) => v < 0 || v >= limit);
    if (i >= 0) throw new SeecError("input.see", `${name}[${i}] = ${values[i]} is outside [0, ${limit})`, { file, at: `tensor ${name}` });
  };

  const tables: Record<string, Float32Array> = {};
  for (const [name, s] of Object.entries(spec.sources))
    tables[name] = take(`tables.${name}`, "F32", [spec.rank, s.rows, s.q]) as Float32Array;
  const slots = spec.slots.map((slot, j) => {
    const rows = spec.sources[slot.source].rows;
    if (!slot.bag) {
      const stored = take(`index.${j}`, "index", slot.perTerm ? [spec.rank, spec.vocab] : [spec.vocab]);
      const index = stored instanceof Int32Array ? stored : Int32Array.from(stored);
      inRange(`index.${j}`, index, rows);
      return { index };
    }
    const offsets = take(`bag.${j}.offsets`, "I32", [spec.vocab + 1]) as Int32Array;
    const nnz = offsets[spec.vocab];
    if (offsets[0] !== 0 || offsets.some((o, i) => i > 0 && o < offsets[i - 1]))
      throw new SeecError("input.see", `bag.${j}.offsets must start at 0 and never decrease`, { file, at: `tensor bag.${j}.offsets` });
    const ids = take(`bag.${j}.ids`, "I32", [nnz]) as Int32Array;
    inRange(`bag.${j}.ids`, ids, rows);
    const weights = tensors.has(`bag.${j}.weights`)
      ? (take(`bag.${j}.weights`, "F32", [nnz]) as Float32Array)
      : bagWeights(offsets, slot.bag);
    const bag: Bag = { offsets, ids, weights };
    return { bag };
  });
  const norm =
    spec.norm === "layernorm"
      ? {
          weight: take("norm.weight", "F32", [spec.dim]) as Float32Array,
          bias: take("norm.bias", "F32", [spec.dim]) as Float32Array,
          epsilon: LAYERNORM_EPSILON,
        }
      : undefined;
  const weights =
    spec.weights &&
    Object.fromEntries(Object.entries(spec.weights).map(([name, shape]) => [name, take(`model.${name}`, "F32", shape) as Float32Array]));
  const adapters =
    spec.adapters &&
    Object.fromEntries(
      Object.entries(spec.adapters).map(([name, { rank, shape }]) => [
        name,
        {
          a: take(`adapter.${name}.a`, "F32", [shape[0], rank]) as Float32Array,
          b: take(`adapter.${name}.b`, "F32", [rank, shape[1]]) as Float32Array,
        },
      ]),
    );
  if (tensors.size > 0)
    throw new SeecError("input.see", `unexpected tensors: ${[...tensors.keys()].join(", ")}`, {
      file,
      hint: "the metadata does not describe these tensors",
    });
  return { spec, tables, slots, norm, ...(weights ? { weights } : {}), ...(adapters ? { adapters } : {}) };
}

export function writeSee(f: SeeFactors): Uint8Array {
  const tensors = new Map<string, StTensor>();
  for (const [name, s] of Object.entries(f.spec.sources))
    tensors.set(`tables.${name}`, { dtype: "F32", shape: [f.spec.rank, s.rows, s.q], data: f.tables[name] });
  f.slots.forEach((s, j) => {
    if ("index" in s) {
      const shape = f.spec.slots[j].perTerm ? [f.spec.rank, f.spec.vocab] : [f.spec.vocab];
      // Wide enough for every entry (i32 for a negative one), so that a reader names an index out of range rather than a wrapped one.
      const rows = s.index.reduce((most, i) => Math.max(most, i < 0 ? 2 ** 31 : i + 1), f.spec.sources[f.spec.slots[j].source].rows);
      const bytes = indexBytes(rows);
      const data = narrowIndex(s.index, bytes);
      return void tensors.set(`index.${j}`, { dtype: bytes === 1 ? "U8" : bytes === 2 ? "U16" : "I32", shape, data });
    }
    tensors.set(`bag.${j}.offsets`, { dtype: "I32", shape: [f.spec.vocab + 1], data: s.bag.offsets });
    tensors.set(`bag.${j}.ids`, { dtype: "I32", shape: [s.bag.ids.length], data: s.bag.ids });
    tensors.set(`bag.${j}.weights`, { dtype: "F32", shape: [s.bag.weights.length], data: s.bag.weights });
  });
  if (f.norm) {
    tensors.set("norm.weight", { dtype: "F32", shape: [f.spec.dim], data: f.norm.weight });
    tensors.set("norm.bias", { dtype: "F32", shape: [f.spec.dim], data: f.norm.bias });
  }
  const weights = Object.entries(f.weights ?? {});
  for (const [name, data] of weights) tensors.set(`model.${name}`, { dtype: "F32", shape: f.spec.weights![name], data });
  const adapters = Object.entries(f.adapters ?? {});
  for (const [name, { a, b }] of adapters) {
    const { rank, shape } = f.spec.adapters![name];
    tensors.set(`adapter.${name}.a`, { dtype: "F32", shape: [shape[0], rank], data: a });
    tensors.set(`adapter.${name}.b`, { dtype: "F32", shape: [rank, shape[1]], data: b });
  }
  const spec: SeeSpec =
    weights.length || adapters.length
      ? {
          ...f.spec,
          format: "see/2",
          weights: weights.length ? f.spec.weights : undefined,
          adapters: adapters.length ? f.spec.adapters : undefined,
        }
      : { ...f.spec, format: "see/1", weights: undefined, adapters: undefined };
  return writeSafetensors(tensors, { see: JSON.stringify(spec) });
}

/** Weights of a bag stored without them: 1/count for "mean", 1 for "sum". */
export function bagWeights(offsets: Int32Array, mode: "mean" | "sum"): Float32Array {
  const w = new Float32Array(offsets[offsets.length - 1]);
  for (let t = 0; t + 1 < offsets.length; t++) {
    const n = offsets[t + 1] - offsets[t];
    w.fill(mode === "mean" ? 1 / n : 1, offsets[t], offsets[t + 1]);
  }
  return w;
}
