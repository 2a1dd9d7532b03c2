/**
 * Builds graphs node by node, inferring every output's type from the op registry, so a
 * frontend cannot produce a graph whose shapes do not add up.
 */
import { SeecError } from "../../runtime/errors.js";
import {
  deferredValue,
  type Attrs,
  type DeferredData,
  type DType,
  type Graph,
  type ModelInfo,
  type Shape,
  type TensorData,
  type Value,
} from "./graph.js";
import { opDef, opName } from "./ops/index.js";

export class GraphBuilder {
  private readonly graph: Graph;

  constructor(name: string, model: ModelInfo) {
    this.graph = { name, values: new Map(), nodes: [], inputs: [], outputs: [], dims: {}, model };
  }

  dim(name: string, max: number): string {
    this.graph.dims[name] = { max };
    return name;
  }

  input(name: string, dtype: DType, shape: Shape): string {
    this.add({ name, dtype, shape, kind: "input" });
    this.graph.inputs.push(name);
    return name;
  }

  /** A constant: its values, or (an f32 tensor left in a large input file) where to read them. */
  constant(name: string, data: TensorData | DeferredData, shape: Shape): string {
    const count = shape.reduce<number>((n, d) => n * (typeof d === "number" ? d : NaN), 1);
    if (count !== data.length)
      throw new SeecError("internal.ir", `constant "${name}" has ${data.length} values for shape [${shape.join(", ")}]`);
    if (!ArrayBuffer.isView(data)) {
      this.add(deferredValue(name, shape, data));
      return name;
    }
    const dtype: DType = data instanceof Float32Array ? "f32" : data instanceof Int8Array ? "i8" : "i32";
    this.add({ name, dtype, shape, kind: "const", data });
    return name;
  }

  state(name: string, dtype: DType, shape: Shape): string {
    this.add({ name, dtype, shape, kind: "state" });
    return name;
  }

  /** Adds one node with a single output named after the node; returns that output's name. */
  node(op: string, name: string, inputs: string[], attrs: Attrs = {}): string {
    const def = opDef(op);
    const types = inputs.map((i) => {
      const v = this.graph.values.get(i);
      if (!v) throw new SeecError("internal.ir", `node ${name} (${op}) reads unknown tensor "${i}"`);
      return v;
    });
    const [out] = def.infer(types, attrs, name);
    this.add({ name, ...out, kind: "activation" });
    this.graph.nodes.push({ name, op: opName(op), inputs, outputs: [name], attrs });
    return name;
  }

  /** A tensor's shape, every dimension static (for frontends that build from static shapes). */
  shapeOf(name: string): number[] {
    const v = this.graph.values.get(name);
    if (!v || v.shape.some((d) => typeof d !== "number")) throw new SeecError("internal.ir", `tensor "${name}" has no static shape`);
    return v.shape as number[];
  }

  dtypeOf(name: string): DType {
    const v = this.graph.values.get(name);
    if (!v) throw new SeecError("internal.ir", `tensor "${name}" is not in the graph`);
    return v.dtype;
  }

  output(name: string): void {
    this.graph.outputs.push(name);
  }

  finish(): Graph {
    return this.graph;
  }

  private add(v: Value): void {
    if (this.graph.values.has(v.name)) throw new SeecError("internal.ir", `tensor "${v.name}" is defined twice`);
    this.graph.values.set(v.name, v);
  }
}
