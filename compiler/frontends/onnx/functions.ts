/**
 * Model-local functions (ModelProto.functions, ONNX IR 8 and up), inlined where they are called,
 * as ONNX Runtime does: a call becomes its function's body, the formal inputs and outputs renamed
 * to the call's own, the body's other values and nodes named under the call (`<call>/<name>`), and
 * each attribute that refers to one of the call's (ref_attr_name) given the call's value, else the
 * function's default (attribute_proto), else left out (the op's default). The same holds inside
 * the subgraphs of a body's nodes (an If's branches in a function), where the names the subgraph
 * does not define itself are the body's. Calls inside a body are inlined in turn. Exporters write
 * functions for modules kept whole (PyTorch's export_modules_as_functions, onnxscript).
 *
 * Functions in seec's own domain stay calls: seec's export-onnx writes them, and the frontend maps
 * them back onto its ops (seec-export.ts).
 */
import { SeecError } from "../../../runtime/errors.js";
import { SEEC_DOMAIN } from "./seec-domain.js";
import onnxProto from "onnx-proto";

type NodeProto = import("onnx-proto").onnx.INodeProto;
type GraphProto = import("onnx-proto").onnx.IGraphProto;
type AttributeProto = import("onnx-proto").onnx.IAttributeProto;
type FunctionProto = import("onnx-proto").onnx.IFunctionProto;

const { onnx } = onnxProto;

/** "" for ai.onnx, as the reader names the default domain. */
const domainOf = (d: string | null | undefined) => (d === "ai.onnx" ? "" : (d ?? ""));
const keyOf = (domain: string | null | undefined, name: string | null | undefined) => `${domainOf(domain)}:${name ?? ""}`;

/** Calls nested deeper than this are refused (a function that calls itself, most likely). */
const MAX_DEPTH = 64;
/** The most nodes inlining may make (calls that call others twice over grow exponentially). */
export const MAX_INLINED_NODES = 1_000_000;

/** A model's functions by `domain:name`, with what the schema seec decodes with leaves out: each one's default attribute values. */
export interface FunctionLibrary {
  functions: Map<string, FunctionProto>;
  defaults: Map<string, AttributeProto[]>;
  opsets: Map<string, number>;
  file: string;
}

/**
 * The model's functions. onnx-proto's schema predates attribute_proto (a function's default
 * attribute values, FunctionProto field 11) and overload (field 13): both are read here from the
 * file's bytes. Overloads (two functions of one name) are refused.
 */
export function functionLibrary(proto: import("onnx-proto").onnx.IModelProto, bytes: Uint8Array, file: string): FunctionLibrary {
  const functions = new Map<string, FunctionProto>();
  const defaults = new Map<string, AttributeProto[]>();
  const raw = [...fieldsOf(bytes, 25)];
  (proto.functions ?? []).forEach((f, i) => {
    const key = keyOf(f.domain, f.name);
    if (domainOf(f.domain) === SEEC_DOMAIN) return;
    if (functions.has(key))
      throw new SeecError(
        "unsupported.onnx_function",
        `the file defines function ${key} twice (overloads, ONNX IR 10), which seec does not read`,
        {
          file,
          at: `function ${f.name}`,
        },
      );
    functions.set(key, f);
    if (raw[i])
      defaults.set(
        key,
        [...fieldsOf(raw[i], 11)].map((b) => onnx.AttributeProto.decode(b)),
      );
  });
  const opsets = new Map((proto.opsetImport ?? []).map((o) => [domainOf(o.domain), Number(o.version)]));
  return { functions, defaults, opsets, file };
}

/** The graph's nodes with every call of a model-local function (outside seec's domain) replaced by its body. */
export function inlineFunctions(nodes: readonly NodeProto[], library: FunctionLibrary): NodeProto[] {
  const { functions, defaults, opsets, file } = library;
  if (functions.size === 0) return [...nodes];
  const fail = (message: string, at: string): never => {
    throw new SeecError("input.onnx", message, { file, at });
  };
  const checked = new Set<string>();
  // A body read at another version of a domain than the graph's would change what its ops mean.
  const checkOpsets = (key: string, f: FunctionProto) => {
    if (checked.has(key)) return;
    checked.add(key);
    for (const o of f.opsetImport ?? []) {
      const graph = opsets.get(domainOf(o.domain));
      if (graph !== undefined && graph !== Number(o.version))
        throw new SeecError(
          "unsupported.onnx_function",
          `function ${key} imports opset ${o.version} of ${domainOf(o.domain) || "ai.onnx"}, the graph opset ${graph}: seec reads one version of a domain`,
          { file, at: `function ${f.name}` },
        );
    }
  };
  let made = 0;

  // Body nodes are named under their call already, so nested calls are too.
  const expand = (list: readonly NodeProto[], depth: number): NodeProto[] =>
    list.flatMap((node, i) => {
      const key = keyOf(node.domain, node.opType);
      const f = functions.get(key);
      if (!f) return [node];
      const call = node.name || `${node.opType}_${i}`;
      if (depth >= MAX_DEPTH)
        fail(`calls nest ${MAX_DEPTH} deep at node ${call} (of ${key}): does a function call itself?`, `node ${call}`);
      if ((node.input ?? []).length > (f.input ?? []).length || (node.output ?? []).length > (f.output ?? []).length)
        fail(
          `node ${call} calls ${f.name} with ${node.input?.length ?? 0} inputs and ${node.output?.length ?? 0} outputs; it takes ${f.input?.length ?? 0} and gives ${f.output?.length ?? 0}`,
          `node ${call}`,
        );
      checkOpsets(key, f);
      made += f.node?.length ?? 0;
      if (made > MAX_INLINED_NODES)
        throw new SeecError("unsupported.too_large", `inlining the file's function calls makes more than ${MAX_INLINED_NODES} nodes`, {
          file,
          at: `node ${call}`,
        });
      // Formal names to the call's: a formal input the call leaves out is absent (""), an output it leaves out unnamed.
      const names = new Map<string, string>();
      (f.input ?? []).forEach((formal, k) => names.set(formal, node.input?.[k] ?? ""));
      (f.output ?? []).forEach((formal, k) => names.set(formal, node.output?.[k] || `${call}/${formal}`));
      const rename = (x: string) => (x === "" ? "" : (names.get(x) ?? `${call}/${x}`));
      // An attribute by reference: the call's value, else the function's default.
      const given = new Map([...(defaults.get(key) ?? []), ...(node.attribute ?? [])].map((a) => [a.name ?? "", a]));
      const body = (f.node ?? []).map((b, j): NodeProto => ({
        ...b,
        name: `${call}/${b.name || `${b.opType}_${j}`}`,
        input: (b.input ?? []).map(rename),
        output: (b.output ?? []).map(rename),
        attribute: attributes(b, rename, given),
      }));
      return expand(body, depth + 1);
    });
  return expand(nodes, 0);
}

/** A body node's attributes: references resolved, and the names its subgraphs read from the body renamed. */
function attributes(n: NodeProto, rename: (x: string) => string, given: ReadonlyMap<string, AttributeProto>): AttributeProto[] {
  return (n.attribute ?? []).flatMap((a): AttributeProto[] => {
    if (a.refAttrName) {
      const value = given.get(a.refAttrName);
      return value ? [{ ...value, name: a.name }] : [];
    }
    if (a.g) return [{ ...a, g: subgraph(a.g, rename, given) }];
    if (a.graphs?.length) return [{ ...a, graphs: a.graphs.map((g) => subgraph(g, rename, given)) }];
    return [a];
  });
}

/** A subgraph of a body node: the names it defines kept, those it reads from outside renamed as the body's are. */
function subgraph(g: GraphProto, outer: (x: string) => string, given: ReadonlyMap<string, AttributeProto>): GraphProto {
  const own = new Set([
    ...(g.input ?? []).map((i) => i.name ?? ""),
    ...(g.initializer ?? []).map((t) => t.name ?? ""),
    ...(g.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  const rename = (x: string) => (!x || own.has(x) ? x : outer(x));
  return {
    ...g,
    node: (g.node ?? []).map((n) => ({ ...n, input: (n.input ?? []).map(rename), attribute: attributes(n, rename, given) })),
    output: (g.output ?? []).map((o) => ({ ...o, name: rename(o.name ?? "") })),
  };
}

/** The length-delimited fields numbered `field` of a protobuf message's bytes (the others skipped). */
function* fieldsOf(bytes: Uint8Array, field: number): Generator<Uint8Array> {
  let at = 0;
  const varint = () => {
    let v = 0,
      scale = 1,
      b: number;
    do {
      b = bytes[at++];
      v += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80 && at < bytes.length);
    return v;
  };
  while (at < bytes.length) {
    const tag = varint();
    const wire = tag % 8;
    if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const n = varint();
      if (Math.floor(tag / 8) === field) yield bytes.subarray(at, at + n);
      at += n;
    } else return; // groups: ONNX has none
  }
}
