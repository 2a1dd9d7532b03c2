/**
 * ONNX models as exporters write them, decoded with onnx-proto (protobufjs over ONNX's own
 * schema): initializers inline or in external data files, nodes put in topological order, names
 * defined twice resolved as ONNX Runtime resolves them (the later definition wins).
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import onnxProto from "onnx-proto";
import { SeecError } from "../../../runtime/errors.js";
import { functionLibrary, inlineFunctions, type FunctionLibrary } from "./functions.js";
import { DATA_TYPES, fromProto, type OnnxDType, type OnnxTensor } from "./tensor.js";

const { onnx } = onnxProto;

export type OnnxAttr = number | string | number[] | string[] | OnnxTensor | OnnxGraphAttr;
/**
 * A subgraph attribute (If's branches, Loop's and Scan's bodies): control-flow.ts expands it where
 * it is used. Read as a file is (a getter, the first time it is asked for: the op check reads every
 * one before any other work).
 */
export interface OnnxGraphAttr {
  graph: string;
  readonly body: OnnxSubgraph;
}

/**
 * A subgraph: its nodes in order, its formal inputs (Loop's and Scan's) and outputs, its own
 * initializers. A name it reads that none of them defines is the enclosing graph's.
 */
export interface OnnxSubgraph {
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: Map<string, OnnxTensor>;
}

/** A node's (or op context's) number attribute, or `fallback` where it is absent. */
export function attr(node: { attrs: Readonly<Record<string, OnnxAttr>> }, key: string, fallback: number): number {
  const v = node.attrs[key];
  return typeof v === "number" ? v : fallback;
}

export interface OnnxNode {
  name: string;
  op: string;
  /** "" for the default domain (ai.onnx). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
}

export interface OnnxValueInfo {
  name: string;
  /** ONNX element type name (e.g. "float", "int64"). */
  elementType: string;
  /** The same as seec reads it; undefined for element types it does not read. */
  dtype?: OnnxDType;
  /** Each dimension's size, or its symbolic name ("" when the exporter left it anonymous). */
  dims: (number | string)[];
}

export interface OnnxModel {
  file: string;
  /** Opset version by domain ("" = ai.onnx). */
  opsets: Map<string, number>;
  producer: string;
  nodes: OnnxNode[];
  /** Graph inputs that are not initializers, in order. */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: Map<string, OnnxTensor>;
  /** The model-local functions the file defines (`domain:name`; inlined, but seec's own, which stay calls). */
  functions?: string[];
}

export async function readOnnx(file: string): Promise<OnnxModel> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new SeecError(
      "io.not_found",
      `cannot read the ONNX model: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
      { file },
    );
  }
  let proto: import("onnx-proto").onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new SeecError("input.onnx", `not an ONNX model: ${(e as Error).message}`, { file });
  }
  const graph = proto.graph;
  if (!graph) throw new SeecError("input.onnx", "the ONNX model has no graph", { file });

  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? "", await tensorWithData(t, file));
  const context: ReadContext = { file, library: functionLibrary(proto, bytes, file) };
  const nodes = readNodes(graph.node ?? [], context, "");
  const graphInputs = (graph.input ?? []).map(valueInfo);
  const outputs = (graph.output ?? []).map(valueInfo);
  checkDefined(nodes, outputs, new Set([...initializers.keys(), ...graphInputs.map((i) => i.name)]), file);
  return {
    file,
    opsets: new Map((proto.opsetImport ?? []).map((o) => [o.domain === "ai.onnx" ? "" : (o.domain ?? ""), Number(o.version)])),
    producer: [proto.producerName, proto.producerVersion].filter(Boolean).join(" "),
    nodes: topologicalOrder(nodes, new Set([...initializers.keys(), ...graphInputs.map((i) => i.name)]), file),
    inputs: graphInputs.filter((i) => !initializers.has(i.name)),
    outputs,
    initializers,
    functions: (proto.functions ?? []).map((f) => `${f.domain === "ai.onnx" ? "" : (f.domain ?? "")}:${f.name ?? ""}`),
  };
}

/** What reading a node needs beside it: the file (for errors), the model's functions (to inline calls). */
interface ReadContext {
  file: string;
  library: FunctionLibrary;
}

/** A graph's or subgraph's nodes, calls of model-local functions inlined; an unnamed node named by its op and place (under `scope` in a subgraph). */
function readNodes(protoNodes: import("onnx-proto").onnx.INodeProto[], context: ReadContext, scope: string): OnnxNode[] {
  return inlineFunctions(protoNodes, context.library).map((n, i): OnnxNode => {
    const name = n.name || `${scope}${n.opType}_${i}`;
    return {
      name,
      op: n.opType ?? "",
      domain: n.domain === "ai.onnx" ? "" : (n.domain ?? ""),
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? "", attribute(a, context, name)])),
    };
  });
}

/** A subgraph attribute of node `node`, read whole (its initializers inline: external data is for the main graph). */
function subgraph(g: import("onnx-proto").onnx.IGraphProto, context: ReadContext, node: string, attr: string): OnnxSubgraph {
  const initializers = new Map<string, OnnxTensor>();
  for (const t of g.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
      throw new SeecError("unsupported.onnx_attribute", `the ${attr} of node ${node} keeps initializer "${t.name}" in external data`, {
        file: context.file,
        at: `node ${node}`,
      });
    initializers.set(t.name ?? "", fromProto(t, context.file));
  }
  const inputs = (g.input ?? []).map(valueInfo);
  const nodes = readNodes(g.node ?? [], context, `${node}/${attr}/`);
  return {
    nodes: topologicalOrder(nodes, new Set([...initializers.keys(), ...inputs.map((i) => i.name)]), context.file),
    inputs,
    outputs: (g.output ?? []).map(valueInfo),
    initializers,
  };
}

/** Reads one TensorProto file (the ONNX backend-test layout's input_<k>.pb / output_<k>.pb). */
export async function readTensorFile(file: string): Promise<OnnxTensor & { name: string }> {
  const proto = onnx.TensorProto.decode(new Uint8Array(await readFile(file)));
  return { name: proto.name, ...(await tensorWithData(proto, file)) };
}

async function tensorWithData(t: import("onnx-proto").onnx.ITensorProto, file: string): Promise<OnnxTensor> {
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return fromProto(t, file);
  const info = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
  const dir = resolve(dirname(file));
  const path = resolve(dir, info.location ?? "");
  if (!info.location || !(path + sep).startsWith(dir + sep))
    throw new SeecError("input.onnx", `tensor "${t.name}" names external data outside the model's folder: ${info.location}`, { file });
  let data: Uint8Array;
  try {
    data = new Uint8Array(await readFile(path));
  } catch {
    throw new SeecError("io.not_found", `tensor "${t.name}" keeps its data in ${info.location}, which is not beside the model`, {
      file: join(dir, info.location),
      hint: "keep the .data file next to the .onnx file",
    });
  }
  const offset = Number(info.offset ?? 0);
  const length = info.length !== undefined ? Number(info.length) : data.length - offset;
  if (offset + length > data.length)
    throw new SeecError(
      "input.onnx",
      `tensor "${t.name}" reads bytes ${offset}..${offset + length} of ${info.location}, which has ${data.length}`,
      { file },
    );
  return fromProto({ ...t, rawData: data.subarray(offset, offset + length), dataLocation: 0 }, file);
}

function attribute(a: import("onnx-proto").onnx.IAttributeProto, context: ReadContext, node: string): OnnxAttr {
  const { file } = context;
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return a.f ?? 0;
    case T.INT:
      return Number(a.i ?? 0);
    case T.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case T.FLOATS:
      return [...(a.floats ?? [])];
    case T.INTS:
      return (a.ints ?? []).map(Number);
    case T.STRINGS:
      return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
    case T.TENSOR:
      if (!a.t)
        throw new SeecError("input.onnx", `attribute "${a.name}" of node ${node} is a tensor without a value`, {
          file,
          at: `node ${node}`,
        });
      return fromProto(a.t, file);
    case T.GRAPH: {
      // An absent graph reads as an empty one, as an absent value of any type reads as its default.
      const g = a.g ?? {};
      // Read when first asked for (checking the ops): what a subgraph holds that seec cannot read is then named with the rest.
      let body: OnnxSubgraph | undefined;
      return {
        graph: g.name ?? "",
        get body() {
          return (body ??= subgraph(g, context, node, a.name ?? ""));
        },
      };
    }
    default:
      throw new SeecError(
        "unsupported.onnx_attribute",
        `attribute "${a.name}" of node ${node} has type ${T[a.type ?? 0] ?? a.type}, which seec does not read`,
        { file, at: `node ${node}` },
      );
  }
}

function valueInfo(v: import("onnx-proto").onnx.IValueInfoProto): OnnxValueInfo {
  const t = v.type?.tensorType;
  return {
    name: v.name ?? "",
    elementType: (onnx.TensorProto.DataType[t?.elemType ?? 0] ?? "UNDEFINED").toLowerCase(),
    dtype: DATA_TYPES[t?.elemType ?? 0],
    dims: (t?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) >= 0 ? Number(d.dimValue) : "",
    ),
  };
}

/** Every tensor a node reads or the graph outputs is an input, an initializer or some node's output. */
function checkDefined(nodes: readonly OnnxNode[], outputs: readonly OnnxValueInfo[], available: ReadonlySet<string>, file: string): void {
  const defined = new Set([...available, ...nodes.flatMap((n) => n.outputs)]);
  for (const n of nodes) {
    const missing = n.inputs.find((i) => i && !defined.has(i));
    if (missing)
      throw new SeecError("input.onnx", `node ${n.name} (${n.op}) reads tensor "${missing}", which no node, input or initializer defines`, {
        file,
        at: `node ${n.name}`,
      });
  }
  const output = outputs.find((o) => !o.name || !defined.has(o.name));
  if (output)
    throw new SeecError("input.onnx", `the graph outputs tensor "${output.name}", which no node, input or initializer defines`, {
      file,
      at: `output ${output.name}`,
    });
}

/**
 * Nodes in an order where every input is produced before it is read (Kahn's algorithm, stable:
 * ready nodes keep their file order). When a name is produced twice, readers see the later
 * producer, as in ONNX Runtime.
 */
function topologicalOrder(nodes: OnnxNode[], available: Set<string>, file: string): OnnxNode[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const waiting = nodes.map((n) => new Set(n.inputs.filter((i) => i && !available.has(i) && producer.has(i)).map((i) => producer.get(i)!)));
  const readers = nodes.map(() => [] as number[]);
  waiting.forEach((deps, i) => deps.forEach((d) => readers[d].push(i)));
  const order: number[] = [];
  const ready = nodes.map((_, i) => i).filter((i) => waiting[i].size === 0);
  const done = new Set<number>();
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    done.add(i);
    order.push(i);
    for (const r of readers[i]) {
      waiting[r].delete(i);
      if (waiting[r].size === 0 && !done.has(r)) ready.push(r);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.find((_, i) => !done.has(i))!;
    throw new SeecError("input.onnx", `the graph has a cycle through node ${stuck.name} (${stuck.op})`, { file, at: `node ${stuck.name}` });
  }
  // A shadowed definition keeps its place but loses the name, so it cannot overwrite the later one.
  return order.map((i) => ({ ...nodes[i], outputs: nodes[i].outputs.map((o) => (o && producer.get(o) !== i ? "" : o)) }));
}
