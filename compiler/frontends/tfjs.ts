/**
 * TF.js graph models: model.json (a TensorFlow GraphDef as JSON) and its weight shards. Weights
 * are read in weightsManifest order across the concatenated shards, in their dtype, with
 * quantized weights (uint8/uint16 affine, float16) expanded to float32. Every size is checked.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SeecError } from "../../runtime/errors.js";
import { concatBytes } from "../bytes.js";

export interface TfNode {
  name: string;
  op: string;
  inputs: string[];
  attr: Record<string, TfAttr>;
}

export interface TfAttr {
  i?: string;
  f?: number;
  b?: boolean;
  s?: string;
  type?: string;
  list?: { i?: string[]; s?: string[] };
  shape?: unknown;
  tensor?: unknown;
}

export interface TfTensor {
  dtype: "float32" | "int32" | "bool";
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TfGraph {
  file: string;
  nodes: TfNode[];
  weights: Map<string, TfTensor>;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: "uint8" | "uint16" | "float16"; scale?: number; min?: number };
}

/** Reads model.json (or the directory holding it) and all its shards. */
export async function readTfjsGraph(path: string): Promise<TfGraph> {
  const file = (await stat(path).catch(() => undefined))?.isDirectory() ? join(path, "model.json") : path;
  let json: { modelTopology?: { node?: { name: string; op: string; input?: string[]; attr?: Record<string, TfAttr> }[] }; weightsManifest?: { paths: string[]; weights: ManifestEntry[] }[] };
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new SeecError((e as NodeJS.ErrnoException).code === "ENOENT" ? "io.not_found" : "input.tfjs", `cannot read the TF.js model: ${(e as Error).message}`, { file });
  }
  const nodes = json.modelTopology?.node;
  if (!Array.isArray(nodes) || !Array.isArray(json.weightsManifest))
    throw new SeecError("input.tfjs", "model.json has no modelTopology.node or weightsManifest: is it a TF.js graph model?", { file });
  const weights = new Map<string, TfTensor>();
  for (const group of json.weightsManifest) {
    const bytes = await readShards(dirname(file), group.paths, file);
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const width = w.quantization ? { uint8: 1, uint16: 2, float16: 2 }[w.quantization.dtype] : w.dtype === "bool" ? 1 : 4;
      if (!width || !["float32", "int32", "bool"].includes(w.dtype))
        throw new SeecError("unsupported.tfjs_dtype", `weight ${w.name} has dtype ${w.dtype}${w.quantization ? ` quantized as ${w.quantization.dtype}` : ""}`, { file });
      const size = count * width;
      if (offset + size > bytes.byteLength)
        throw new SeecError("input.truncated", `the weight shards end inside ${w.name}: it needs bytes ${offset}..${offset + size}, the shards hold ${bytes.byteLength}`, { file, at: `weight ${w.name}` });
      weights.set(w.name, { dtype: w.dtype as TfTensor["dtype"], shape: w.shape, data: decode(bytes.subarray(offset, offset + size), w, count) });
      offset += size;
    }
    if (offset !== bytes.byteLength)
      throw new SeecError("input.tfjs", `the shards hold ${bytes.byteLength} bytes; the manifest describes ${offset}`, { file, hint: "the shards do not belong to this model.json" });
  }
  return { file, nodes: nodes.map((n) => ({ name: n.name, op: n.op, inputs: n.input ?? [], attr: n.attr ?? {} })), weights };
}

async function readShards(dir: string, paths: string[], file: string): Promise<Uint8Array> {
  const parts = await Promise.all(
    paths.map((p) =>
      readFile(join(dir, p)).catch((e) => {
        throw new SeecError("io.not_found", `cannot read weight shard ${p}: ${(e as Error).message}`, { file, hint: "keep the shards beside model.json" });
      }),
    ),
  );
  return concatBytes(parts);
}

function decode(raw: Uint8Array, w: ManifestEntry, count: number): Float32Array | Int32Array {
  const copy = raw.slice();
  const q = w.quantization;
  if (!q) {
    if (w.dtype === "bool") return Int32Array.from(copy);
    return w.dtype === "int32" ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
  }
  if (q.dtype === "float16") return Float32Array.from(new Uint16Array(copy.buffer), halfToFloat);
  const ints = q.dtype === "uint8" ? copy : new Uint16Array(copy.buffer);
  const values = Float32Array.from({ length: count }, (_, i) => ints[i] * (q.scale ?? 1) + (q.min ?? 0));
  return w.dtype === "int32" ? Int32Array.from(values, Math.round) : values;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
