/**
 * Model-local functions (ModelProto.functions, ONNX IR 8 and up), inlined where they are called,
 * as ONNX Runtime does: a call becomes its function's body, the formal inputs and outputs renamed
 * to the call's own, the body's other values and nodes named under the call (`<call>/<name>`), and
 * each attribute that refers to one of the call's (ref_attr_name) given the call's value, or left
 * out where the call has none (the op's default). Calls inside a body are inlined in turn. Exporters
 * write them for modules kept as functions (PyTorch's export_modules_as_functions, onnxscript).
 *
 * Functions in seec's own domain stay calls: seec's export-onnx writes them, and the frontend maps
 * them back onto its ops (seec-export.ts).
 */
import { SeecError } from "../../../runtime/errors.js";
import { SEEC_DOMAIN } from "./seec-domain.js";

type NodeProto = import("onnx-proto").onnx.INodeProto;
type FunctionProto = import("onnx-proto").onnx.IFunctionProto;
type OpsetId = import("onnx-proto").onnx.IOperatorSetIdProto;

/** "" for ai.onnx, as the reader names the default domain. */
const domainOf = (d: string | null | undefined) => (d === "ai.onnx" ? "" : (d ?? ""));
const keyOf = (domain: string | null | undefined, name: string | null | undefined) => `${domainOf(domain)}:${name ?? ""}`;

/** Calls nested deeper than this are taken for a function that calls itself. */
const MAX_DEPTH = 64;

/** The graph's nodes with every call of a model-local function (outside seec's domain) replaced by its body. */
export function inlineFunctions(
  nodes: readonly NodeProto[],
  functions: readonly FunctionProto[],
  opsets: readonly OpsetId[],
  file: string,
): NodeProto[] {
  const byKey = new Map(functions.filter((f) => domainOf(f.domain) !== SEEC_DOMAIN).map((f) => [keyOf(f.domain, f.name), f]));
  if (byKey.size === 0) return [...nodes];
  const modelOpsets = new Map(opsets.map((o) => [domainOf(o.domain), Number(o.version)]));
  const fail = (message: string, at: string): never => {
    throw new SeecError("input.onnx", message, { file, at });
  };
  // A body read at another version of a domain than the graph's would change what its ops mean.
  for (const f of byKey.values())
    for (const o of f.opsetImport ?? []) {
      const graph = modelOpsets.get(domainOf(o.domain));
      if (graph !== undefined && graph !== Number(o.version))
        throw new SeecError(
          "unsupported.onnx_function",
          `function ${keyOf(f.domain, f.name)} imports opset ${o.version} of ${domainOf(o.domain) || "ai.onnx"}, the graph opset ${graph}: seec reads one version of a domain`,
          { file, at: `function ${f.name}` },
        );
    }

  // Body nodes are named under their call already, so nested calls are too.
  const expand = (list: readonly NodeProto[], depth: number): NodeProto[] =>
    list.flatMap((node, i) => {
      const f = byKey.get(keyOf(node.domain, node.opType));
      if (!f) return [node];
      const call = node.name || `${node.opType}_${i}`;
      if (depth >= MAX_DEPTH)
        fail(`function ${keyOf(f.domain, f.name)} calls itself (${MAX_DEPTH} calls deep at node ${call})`, `node ${call}`);
      if ((node.input ?? []).length > (f.input ?? []).length || (node.output ?? []).length > (f.output ?? []).length)
        fail(
          `node ${call} calls ${f.name} with ${node.input?.length ?? 0} inputs and ${node.output?.length ?? 0} outputs; it takes ${f.input?.length ?? 0} and gives ${f.output?.length ?? 0}`,
          `node ${call}`,
        );
      // Formal names to the call's: a formal input the call leaves out is absent (""), an output it leaves out unnamed.
      const names = new Map<string, string>();
      (f.input ?? []).forEach((formal, k) => names.set(formal, node.input?.[k] ?? ""));
      (f.output ?? []).forEach((formal, k) => names.set(formal, node.output?.[k] || `${call}/${formal}`));
      const rename = (x: string) => (x === "" ? "" : (names.get(x) ?? `${call}/${x}`));
      const given = new Map((node.attribute ?? []).map((a) => [a.name ?? "", a]));
      const body = (f.node ?? []).map((b, j): NodeProto => ({
        ...b,
        name: `${call}/${b.name || `${b.opType}_${j}`}`,
        input: (b.input ?? []).map(rename),
        output: (b.output ?? []).map(rename),
        attribute: (b.attribute ?? []).flatMap((a) => {
          if (!a.refAttrName) return [a];
          const value = given.get(a.refAttrName);
          return value ? [{ ...value, name: a.name }] : [];
        }),
      }));
      return expand(body, depth + 1);
    });
  return expand(nodes, 0);
}
