/**
 * TF.js graph models: model.json (a TensorFlow GraphDef as JSON) and its weight shards. Weights
 * are read in weightsManifest order across the concatenated shards, in their dtype, with
 * quantized weights (uint8/uint16 affine, float16) expanded to float32. Every size is checked.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { SeecError } from "../../runtime/errors.js";
import { concatBytes } from "../util/bytes.js";
import { halfToFloat } from "../util/float16.js";

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

/** Bytes per stored element: quantized weights by their storage type, the others by their dtype. */
const STORED_WIDTH = new Map([
  ["uint8", 1],
  ["uint16", 2],
  ["float16", 2],
]);
const DTYPE_WIDTH = new Map([
  ["float32", 4],
  ["int32", 4],
  ["bool", 1],
]);

/** Reads model.json (or the directory holding it) and all its shards. */
export async function readTfjsGraph(path: string): Promise<TfGraph> {
  const file = (await stat(path).catch(() => undefined))?.isDirectory() ? join(path, "model.json") : path;
  const bad = (message: string, at?: string): never => {
    throw new SeecError("input.tfjs", message, { file, at });
  };
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new SeecError(
      (e as NodeJS.ErrnoException).code === "ENOENT" ? "io.not_found" : "input.tfjs",
      `cannot read the TF.js model: ${oneLine((e as Error).message)}`,
      { file },
    );
  }
  // A byte-order mark is not JSON, but TF.js reads model.json through fetch().json(), which drops it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return bad(`model.json is not valid JSON: ${oneLine((e as Error).message)}`);
  }
  if (!isObject(json)) return bad(`model.json holds ${kind(json)}, not an object: is it a TF.js graph model?`);
  const topology = json.modelTopology;
  if (!isObject(topology) || !Array.isArray(topology.node) || !Array.isArray(json.weightsManifest))
    return bad("model.json has no modelTopology.node or weightsManifest: is it a TF.js graph model?");
  const nodes = topology.node.map((n, i) => readNode(n, `modelTopology.node[${i}]`, bad));

  const weights = new Map<string, TfTensor>();
  for (const [g, group] of json.weightsManifest.entries()) {
    const where = `weightsManifest[${g}]`;
    if (!isObject(group)) return bad(`${where} is ${kind(group)}, not an object`, where);
    const { paths, weights: entries } = group;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === "string" && p !== ""))
      return bad(`${where}.paths must be a list of shard file names, not ${short(paths)}`, `${where}.paths`);
    if (!Array.isArray(entries)) return bad(`${where}.weights must be a list, not ${short(entries)}`, `${where}.weights`);
    const manifest = entries.map((w, i) => readEntry(w, `${where}.weights[${i}]`, bad));
    const bytes = await readShards(dirname(file), paths as string[], file, where);
    let offset = 0;
    for (const w of manifest) {
      if (weights.has(w.name)) return bad(`the manifest lists weight ${w.name} twice`, `weight ${w.name}`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const width = q ? STORED_WIDTH.get(q.dtype) : DTYPE_WIDTH.get(w.dtype);
      // float16 stores float32 weights only; uint8/uint16 affine quantization float32 or int32 ones.
      const fits = DTYPE_WIDTH.has(w.dtype) && (!q || (q.dtype === "float16" ? w.dtype === "float32" : w.dtype !== "bool"));
      if (!width || !fits)
        throw new SeecError("unsupported.tfjs_dtype", `weight ${w.name} has dtype ${w.dtype}${q ? ` quantized as ${q.dtype}` : ""}`, {
          file,
          at: `weight ${w.name}`,
        });
      const size = count * width;
      if (offset + size > bytes.byteLength)
        throw new SeecError(
          "input.truncated",
          `the weight shards end inside ${w.name}: it needs bytes ${offset}..${offset + size}, the shards hold ${bytes.byteLength}`,
          { file, at: `weight ${w.name}` },
        );
      weights.set(w.name, {
        dtype: w.dtype as TfTensor["dtype"],
        shape: w.shape,
        data: decode(bytes.subarray(offset, offset + size), w, count),
      });
      offset += size;
    }
    if (offset !== bytes.byteLength)
      throw new SeecError("input.tfjs", `the shards hold ${bytes.byteLength} bytes; the manifest describes ${offset}`, {
        file,
        at: where,
        hint: "the shards do not belong to this model.json",
      });
  }
  return { file, nodes, weights };
}

function readNode(n: unknown, where: string, bad: (message: string, at?: string) => never): TfNode {
  if (!isObject(n)) return bad(`${where} is ${kind(n)}, not an object`, where);
  if (typeof n.name !== "string" || n.name === "") return bad(`${where} has no name`, where);
  if (/[\u0000-\u001f\u007f]/.test(n.name)) return bad(`${where} is named ${short(n.name)}: node names have no control characters`, where);
  const at = `node ${n.name}`;
  if (typeof n.op !== "string" || n.op === "") return bad(`node ${n.name} has no op`, at);
  if (n.input !== undefined && !(Array.isArray(n.input) && n.input.every((i) => typeof i === "string")))
    return bad(`the inputs of node ${n.name} must be a list of node names, not ${short(n.input)}`, at);
  if (n.attr !== undefined && !isObject(n.attr)) return bad(`the attributes of node ${n.name} must be an object, not ${short(n.attr)}`, at);
  return {
    name: n.name,
    op: n.op,
    inputs: (n.input as string[] | undefined) ?? [],
    attr: (n.attr as Record<string, TfAttr> | undefined) ?? {},
  };
}

function readEntry(w: unknown, where: string, bad: (message: string, at?: string) => never): ManifestEntry {
  if (!isObject(w)) return bad(`${where} is ${kind(w)}, not an object`, where);
  if (typeof w.name !== "string" || w.name === "") return bad(`${where} has no name`, where);
  if (/[\u0000-\u001f\u007f]/.test(w.name))
    return bad(`${where} is named ${short(w.name)}: weight names have no control characters`, where);
  const at = `weight ${w.name}`;
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    return bad(`weight ${w.name} has shape ${short(w.shape)}: a shape is a list of whole numbers, none negative`, at);
  if (typeof w.dtype !== "string") return bad(`weight ${w.name} has dtype ${short(w.dtype)}`, at);
  const q = w.quantization;
  if (q !== undefined) {
    const number = (x: unknown) => x === undefined || (typeof x === "number" && Number.isFinite(x));
    if (!isObject(q) || typeof q.dtype !== "string" || !number(q.scale) || !number(q.min))
      return bad(`weight ${w.name} has quantization ${short(q)}: expected {dtype, scale, min} with finite numbers`, at);
  }
  return w as unknown as ManifestEntry;
}

async function readShards(dir: string, paths: string[], file: string, where: string): Promise<Uint8Array> {
  for (const [i, p] of paths.entries()) {
    // Shards are named relative to model.json (TF.js fetches them beside it): nothing outside its folder is read.
    const rel = relative(dir, resolve(dir, p));
    if (isAbsolute(p) || p.includes("\0") || rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw new SeecError("input.tfjs", `weight shard ${short(p)} is not a file beside model.json`, { file, at: `${where}.paths[${i}]` });
  }
  const parts = await Promise.all(
    paths.map((p) =>
      readFile(join(dir, p)).catch((e) => {
        throw new SeecError("io.not_found", `cannot read weight shard ${short(p)}: ${oneLine((e as Error).message)}`, {
          file,
          hint: "keep the shards beside model.json",
        });
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

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function kind(x: unknown): string {
  return x === null ? "null" : Array.isArray(x) ? "a list" : typeof x === "object" ? "an object" : `a ${typeof x}`;
}

/** A JSON value for a message: one line, at most 60 characters. */
function short(x: unknown): string {
  const s = x === undefined ? "nothing" : oneLine(JSON.stringify(x) ?? String(x));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Escapes line breaks and other control characters, so an error stays on one line. */
export function oneLine(s: string): string {
  return s.replace(
    /[\u0000-\u001f\u007f\u2028\u2029]/g,
    (c) => ({ "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A node input: `name`, `name:k` (output k) or `^name` (a control dependency). */
export function parseInput(input: string): { node: string; index: number; control: boolean } {
  const control = input.startsWith("^");
  const m = /^(.*?)(?::(\d+))?$/.exec(control ? input.slice(1) : input)!;
  return { node: m[1], index: m[2] === undefined ? 0 : Number(m[2]), control };
}

/**
 * Checks that the graph is one: weights hold the values their shapes say, node names are unique,
 * every Const has its value, every input names a node (and an output it has), and no path loops.
 * A graph that fails is not a TF graph at all (`input.tfjs_graph`); whether seec compiles it is
 * another question, the frontend's.
 */
export function checkTfjsGraph(g: TfGraph): void {
  const bad = (message: string, at: string): never => {
    throw new SeecError("input.tfjs_graph", message, { file: g.file, at });
  };
  for (const [name, t] of g.weights) {
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      bad(`weight ${name} has shape ${JSON.stringify(t.shape)}`, `weight ${name}`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      bad(`weight ${name} holds ${t.data.length} values; its shape [${t.shape.join(", ")}] has ${count}`, `weight ${name}`);
  }
  const byName = new Map<string, TfNode>();
  for (const n of g.nodes) {
    if (byName.has(n.name)) bad(`two nodes are named ${n.name}`, `node ${n.name}`);
    byName.set(n.name, n);
  }
  const outputs = (n: TfNode) => (n.op === "SplitV" ? Number(n.attr.num_split?.i) || 0 : 1);
  for (const n of g.nodes) {
    if (n.op === "Const" && !g.weights.has(n.name)) bad(`Const node ${n.name} has no value in the weights manifest`, `node ${n.name}`);
    for (const input of n.inputs) {
      const { node, index, control } = parseInput(input);
      const src = byName.get(node);
      if (!src) bad(`node ${n.name} reads ${input}, which no node defines`, `node ${n.name}`);
      else if (!control && index >= outputs(src))
        bad(`node ${n.name} reads ${input}, but ${src.op} node ${node} has ${outputs(src)} output(s)`, `node ${n.name}`);
    }
  }
  // Kahn's algorithm: whatever is never freed lies on a cycle or downstream of one.
  const waiting = new Map(g.nodes.map((n) => [n, n.inputs.length]));
  const consumers = new Map<TfNode, TfNode[]>();
  for (const n of g.nodes)
    for (const input of n.inputs) {
      const src = byName.get(parseInput(input).node)!;
      if (!consumers.has(src)) consumers.set(src, []);
      consumers.get(src)!.push(n);
    }
  const ready = g.nodes.filter((n) => n.inputs.length === 0);
  while (ready.length) {
    for (const c of consumers.get(ready.pop()!) ?? []) {
      const left = waiting.get(c)! - 1;
      waiting.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  const stuck = g.nodes.find((n) => waiting.get(n)! > 0);
  if (stuck) {
    // Walk up through inputs that are stuck too until a node repeats: that node is on the cycle.
    const seen = new Set<TfNode>();
    let n = stuck;
    while (!seen.has(n)) {
      seen.add(n);
      n = n.inputs.map((i) => byName.get(parseInput(i).node)!).find((s) => waiting.get(s)! > 0)!;
    }
    bad(`the graph has a cycle through node ${n.name}`, `node ${n.name}`);
  }
}
