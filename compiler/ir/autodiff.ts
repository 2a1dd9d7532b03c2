/**
 * Reverse-mode differentiation over the IR: the interpreter's forward pass keeps every tensor,
 * then the nodes run backwards through their ops' vector-Jacobian products (OpDef.vjp), from the
 * gradients of the outputs a loss reads to the gradients of the tensors asked for.
 *
 * Only what reaches a requested tensor is computed: a node runs backwards when one of its
 * inputs depends on one, and asks its op only for those inputs' gradients.
 */
import { SeecError } from "../../runtime/errors.js";
import { bindShape, type Graph, type TensorData } from "./graph.js";
import { Interpreter } from "./interpreter.js";
import type { Tensor } from "./ops/index.js";

/** One forward pass with every tensor kept, ready to run backwards. */
export interface Tape {
  interpreter: Interpreter;
  env: Map<string, Tensor>;
}

/** Runs the graph (on the interpreter, whose state such as a KV cache it uses) keeping every tensor. */
export function forward(interpreter: Interpreter, feeds: Readonly<Record<string, TensorData>>): Tape {
  const env = new Map<string, Tensor>();
  interpreter.run(feeds, env);
  return { interpreter, env };
}

/** The tensors whose gradient reaches one of `wrt`: wrt itself and what is computed from it. */
export function dependents(graph: Graph, wrt: Iterable<string>): Set<string> {
  const live = new Set(wrt);
  for (const node of graph.nodes) if (node.inputs.some((i) => live.has(i))) for (const o of node.outputs) live.add(o);
  return live;
}

/**
 * Gradients of the loss with respect to each tensor in `wrt`, given the loss's gradient with
 * respect to some of the graph's tensors (`seeds`, usually its outputs). A tensor in wrt that the
 * seeds do not reach gets zeros.
 */
export function backward(tape: Tape, seeds: Readonly<Record<string, Float32Array>>, wrt: readonly string[]): Map<string, Float32Array> {
  const { interpreter, env } = tape;
  const graph = interpreter.graph;
  const live = dependents(graph, wrt);
  const grads = new Map<string, Float32Array>();
  const add = (name: string, g: Float32Array) => {
    const had = grads.get(name);
    // A copy: rules may hand one array to several inputs (Add), and seeds belong to the caller.
    if (!had) grads.set(name, g.slice());
    else for (let i = 0; i < g.length; i++) had[i] += g[i];
  };
  for (const [name, g] of Object.entries(seeds)) if (live.has(name)) add(name, g);

  for (let n = graph.nodes.length - 1; n >= 0; n--) {
    const node = graph.nodes[n];
    const dOutputs = node.outputs.map((o) => grads.get(o));
    if (dOutputs.every((g) => g === undefined)) continue;
    const wants = node.inputs.map((i) => live.has(i) && env.get(i)?.data instanceof Float32Array);
    if (!wants.some(Boolean)) continue;
    const def = interpreter.op(node.op);
    if (!def.vjp)
      throw new SeecError(
        "unsupported.gradient",
        `${node.op} has no gradient rule, and node ${node.name} lies between the loss and what trains`,
        {
          at: `node ${node.name}`,
          hint: node.op.startsWith("Q")
            ? "distil the f32 model: quantize after distilling"
            : "seec distils through the ops its llama2.c, GGUF and TF.js frontends write: distil the model an ONNX graph was exported from",
        },
      );
    const inputs = node.inputs.map((i) => env.get(i)!);
    const outputs = node.outputs.map((o) => env.get(o)!);
    const dInputs = def.vjp({ inputs, outputs, dOutputs, attrs: node.attrs, wants });
    node.inputs.forEach((name, i) => {
      const g = dInputs[i];
      if (wants[i] && g) add(name, g);
    });
  }
  return new Map(
    wrt.map((name) => {
      const v = graph.values.get(name);
      if (!v) throw new SeecError("internal.ir", `tensor "${name}" is not in graph ${graph.name}`);
      return [name, grads.get(name) ?? new Float32Array(env.get(name)?.data.length ?? bindShape(v.shape, {}).reduce((a, b) => a * b, 1))];
    }),
  );
}
