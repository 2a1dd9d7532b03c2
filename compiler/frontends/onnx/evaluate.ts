/**
 * Runs an ONNX graph node by node with the reference ops (ops.ts), and checks up front that
 * every op is one seec reads.
 */
import { SeecError } from "../../../runtime/errors.js";
import { CONTRIB_OPS } from "./contrib.js";
import { ONNX_OPS, type OpImpl } from "./ops.js";
import type { OnnxModel, OnnxNode } from "./read.js";
import { roundHalf, type OnnxTensor } from "./tensor.js";

const DOMAINS: Readonly<Record<string, Readonly<Record<string, OpImpl>>>> = { "": ONNX_OPS, "com.microsoft": CONTRIB_OPS };

function implementation(node: OnnxNode): OpImpl | undefined {
  return Object.hasOwn(DOMAINS, node.domain) && Object.hasOwn(DOMAINS[node.domain], node.op) ? DOMAINS[node.domain][node.op] : undefined;
}

/** Every node whose op seec does not read, listed in one error before any other work. */
export function checkOps(model: OnnxModel): void {
  const unsupported = model.nodes.filter((n) => !implementation(n));
  if (unsupported.length === 0) return;
  const byOp = new Map<string, OnnxNode[]>();
  for (const n of unsupported) {
    const key = `${n.domain || "ai.onnx"}:${n.op}`;
    byOp.set(key, [...(byOp.get(key) ?? []), n]);
  }
  const lines = [...byOp].map(([key, nodes]) => {
    const [domain] = key.split(":");
    const opset = model.opsets.get(domain === "ai.onnx" ? "" : domain);
    return `${key} (opset ${opset ?? "?"}): ${nodes.length} node${nodes.length > 1 ? "s" : ""}, e.g. ${nodes
      .slice(0, 3)
      .map((n) => n.name)
      .join(", ")}`;
  });
  throw new SeecError(
    "unsupported.onnx_op",
    `the graph uses ${byOp.size} op type${byOp.size > 1 ? "s" : ""} seec does not support: ${lines.join("; ")}`,
    {
      file: model.file,
      hint: "see the README's list of supported ONNX ops",
    },
  );
}

/** The graph's outputs for the given inputs. */
export function evaluateOnnx(model: OnnxModel, feeds: ReadonlyMap<string, OnnxTensor>): Map<string, OnnxTensor> {
  const env = runGraph(model, feeds);
  return new Map(model.outputs.map((o) => [o.name, env.get(o.name)!]));
}

/** Every tensor of the graph (initializers, inputs, each node's outputs) for the given inputs. */
export function runGraph(model: OnnxModel, feeds: ReadonlyMap<string, OnnxTensor>): Map<string, OnnxTensor> {
  checkOps(model);
  const env = new Map<string, OnnxTensor>(model.initializers);
  for (const input of model.inputs) {
    const t = feeds.get(input.name);
    if (!t) throw new SeecError("runtime.input", `missing input "${input.name}"`);
    env.set(input.name, t);
  }
  const opset = model.opsets.get("") ?? 1;
  for (const node of model.nodes) {
    const outputs = runNode(
      node,
      node.inputs.map((name) => (name ? env.get(name) : undefined)),
      opset,
    );
    node.outputs.forEach((name, i) => {
      const t = outputs[i];
      if (name && t) env.set(name, t);
    });
  }
  return env;
}

/** One node's outputs from its inputs (the graph's ops were checked). */
export function runNode(node: OnnxNode, inputs: (OnnxTensor | undefined)[], opset: number): (OnnxTensor | undefined)[] {
  const outputs = implementation(node)!(inputs, { attrs: node.attrs, opset, node: node.name, outputs: node.outputs.length });
  // float16 outputs hold half-precision values, as ONNX Runtime's fp16 kernels store them.
  for (const t of outputs) if (t?.dtype === "float16") roundHalf(t.data as Float32Array);
  return outputs;
}
