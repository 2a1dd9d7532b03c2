/**
 * The reference interpreter: runs a graph op by op with the registry's reference semantics.
 * Slow and plain on purpose; every compiled kernel is tested against it.
 */
import { SeecError } from "../../runtime/errors.js";
import { bindAttrs } from "./affine.js";
import { allocate, bindShape, elementCount, maxDims, type Graph, type TensorData } from "./graph.js";
import { opDef, type OpDef, type Tensor } from "./ops/index.js";

export class Interpreter {
  /** Persistent state (the KV cache), allocated at its full size once. */
  readonly state = new Map<string, Tensor>();

  /** `ops` replaces the registry's definitions of some ops (faster kernels with the same meaning). */
  constructor(
    readonly graph: Graph,
    private readonly ops: Readonly<Partial<Record<string, OpDef>>> = {},
  ) {
    const dims = maxDims(graph);
    for (const v of graph.values.values())
      if (v.kind === "state") {
        const shape = bindShape(v.shape, dims);
        this.state.set(v.name, { shape, data: allocate(v.dtype, elementCount(shape)) });
      }
  }

  /** Runs one call; `env`, when given, keeps every tensor of it (autodiff's tape). */
  run(feeds: Readonly<Record<string, TensorData>>, env = new Map<string, Tensor>()): Record<string, Tensor> {
    for (const [name, t] of this.state) env.set(name, t);
    const dims: Record<string, number> = {};
    for (const name of this.graph.inputs) {
      const v = this.graph.values.get(name)!;
      const data = feeds[name];
      if (!data) throw new SeecError("runtime.input", `missing input "${name}"`);
      env.set(name, { shape: bindFeedShape(v.shape, data.length, dims, name), data });
    }
    for (const v of this.graph.values.values()) if (v.kind === "const") env.set(v.name, { shape: bindShape(v.shape, {}), data: v.data! });

    for (const node of this.graph.nodes) {
      const inputs = node.inputs.map((i) => env.get(i)!);
      const outputs = this.op(node.op).run(inputs, bindAttrs(node.attrs, dims));
      node.outputs.forEach((o, i) => env.set(o, outputs[i]));
    }
    return Object.fromEntries(this.graph.outputs.map((o) => [o, env.get(o)!]));
  }

  op(name: string): OpDef {
    return this.ops[name] ?? opDef(name);
  }
}

/** Binds the one symbolic dimension an input may have from the length of what was fed. */
function bindFeedShape(shape: readonly (number | string)[], length: number, dims: Record<string, number>, name: string): number[] {
  const fixed = shape.reduce<number>((a, d) => (typeof d === "number" ? a * d : a), 1);
  return shape.map((d) => {
    if (typeof d === "number") return d;
    const n = length / fixed;
    if (!Number.isInteger(n) || (dims[d] !== undefined && dims[d] !== n))
      throw new SeecError("runtime.input", `input "${name}" has ${length} elements, which does not fit [${shape.join(", ")}]`);
    return (dims[d] = n);
  });
}
