/**
 * ONNX graphs written by tests (onnx-proto's ModelProto), for the cases the shared folder does not
 * hold: a node or a few, their initializers and attributes, inputs of any element type with fixed or
 * symbolic dimensions. One writer for every test that builds its own graph.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { DATA_TYPE_NUMBERS, tensor, type OnnxDType, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { tmpDir } from "./compile.js";
import { randomF32 } from "./random.js";

const { onnx } = onnxProto;
type TensorProto = import("onnx-proto").onnx.ITensorProto;
type AttributeProto = import("onnx-proto").onnx.IAttributeProto;

/**
 * A constant (an initializer, or a tensor attribute): float32 `floats`, the integers of `int64`,
 * `int32` or `bool`, `values` of any element type, or `raw` little-endian bytes of it.
 */
export type Const = { dims: readonly number[] } & (
  | { floats: readonly number[] }
  | { int64: readonly number[] }
  | { int32: readonly number[] }
  | { bool: readonly number[] }
  | { dtype: OnnxDType; values: readonly number[] }
  | { dtype: OnnxDType; raw: Uint8Array }
);

/** An attribute: an int (a number with a fraction is a float), ints, a string, a float ({ f }: also a whole one), floats, strings, a tensor. */
export type Attr =
  number | readonly number[] | string | { f: number } | { floats: readonly number[] } | { strings: readonly string[] } | { tensor: Const };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, Attr>;
  /** ai.onnx unless named; another domain is imported at version 1. */
  domain?: string;
  /** Default: n0, n1, … in the order of the graph. */
  name?: string;
}

export interface GraphSpec {
  name?: string;
  nodes: readonly NodeSpec[];
  /** Graph inputs and their shapes; a string is a symbolic dimension. */
  inputs: Record<string, readonly (number | string)[]>;
  /** Element types of inputs other than float32. */
  inputTypes?: Record<string, OnnxDType>;
  constants?: Record<string, Const>;
  outputs: readonly string[];
  /** The ai.onnx opset (default 18). */
  opset?: number;
  /** Default 8. */
  irVersion?: number;
}

export function tensorProto(name: string, t: Const): TensorProto {
  const dims = [...t.dims];
  if ("int64" in t) return { name, dims, dataType: DATA_TYPE_NUMBERS.int64, int64Data: [...t.int64] };
  if ("int32" in t) return { name, dims, dataType: DATA_TYPE_NUMBERS.int32, int32Data: [...t.int32] };
  if ("bool" in t) return { name, dims, dataType: DATA_TYPE_NUMBERS.bool, int32Data: [...t.bool] };
  if ("floats" in t) return { name, dims, dataType: DATA_TYPE_NUMBERS.float32, floatData: [...t.floats] };
  const dataType = DATA_TYPE_NUMBERS[t.dtype];
  if ("raw" in t) return { name, dims, dataType, rawData: t.raw };
  const values = [...t.values];
  if (t.dtype === "float32") return { name, dims, dataType, floatData: values };
  if (t.dtype === "float64") return { name, dims, dataType, doubleData: values };
  if (t.dtype === "int64") return { name, dims, dataType, int64Data: values };
  if (t.dtype === "uint64" || t.dtype === "uint32") return { name, dims, dataType, uint64Data: values };
  return { name, dims, dataType, int32Data: values };
}

export function attribute(name: string, v: Attr): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: [...v] };
  if (typeof v === "number") return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if ("f" in v) return { name, type: T.FLOAT, f: v.f };
  if ("floats" in v) return { name, type: T.FLOATS, floats: [...v.floats] };
  if ("strings" in v) return { name, type: T.STRINGS, strings: v.strings.map((s) => new TextEncoder().encode(s)) };
  return { name, type: T.TENSOR, t: tensorProto("", (v as { tensor: Const }).tensor) };
}

/** The graph as an ONNX file's bytes. */
export function graphBytes(g: GraphSpec): Uint8Array {
  const domains = [...new Set(g.nodes.map((n) => n.domain ?? "").filter(Boolean))];
  const model = onnx.ModelProto.create({
    irVersion: g.irVersion ?? 8,
    opsetImport: [{ domain: "", version: g.opset ?? 18 }, ...domains.map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: g.name ?? "test",
      node: g.nodes.map((n, i) => ({
        opType: n.op,
        domain: n.domain ?? "",
        name: n.name ?? `n${i}`,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: Object.entries(g.constants ?? {}).map(([name, t]) => tensorProto(name, t)),
      input: Object.entries(g.inputs).map(([name, dims]) => ({
        name,
        type: {
          tensorType: {
            elemType: DATA_TYPE_NUMBERS[g.inputTypes?.[name] ?? "float32"],
            shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
          },
        },
      })),
      output: g.outputs.map((name) => ({ name })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The graph (or an ONNX file's bytes) written to `name` in a new temporary directory; its path. */
export async function writeGraph(g: GraphSpec | Uint8Array, name = "model.onnx"): Promise<string> {
  const file = join(await tmpDir(), name);
  writeFileSync(file, g instanceof Uint8Array ? g : graphBytes(g));
  return file;
}

/** Most op tests' case: one node `n` over graph inputs and initializers, its outputs y0, y1, … */
export interface OpCase {
  op: string;
  /** The op's domain (default: ai.onnx); another is imported at opset 1. */
  domain?: string;
  /** The ai.onnx opset (default 18). */
  opset?: number;
  inputs: Record<string, readonly number[]>;
  /** Inputs fed as int64 (whole numbers drawn from −3..5 unless `values` says) rather than float32. */
  int64?: string[];
  /** Inputs fed as int32 (values from `values`, else as int64 ones). */
  int32?: string[];
  /** Inputs fed these values rather than random ones. */
  values?: Record<string, number[]>;
  /** Constant inputs (initializers). */
  constants?: Record<string, Const>;
  /** The node's inputs in order ("" for an absent optional one); default: inputs then constants. */
  order?: string[];
  attrs?: Record<string, Attr>;
  outputs?: number;
  /** For an op ONNX Runtime's CPU provider lacks (CUDA-only): the outputs computed here from the inputs. */
  reference?: (feeds: Record<string, ArrayLike<number>>) => Record<string, number[]>;
}

export function opGraph(c: OpCase): GraphSpec {
  const outputs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`);
  const typed = (names: string[] | undefined, dtype: OnnxDType) => (names ?? []).map((n) => [n, dtype] as const);
  return {
    name: c.op,
    opset: c.opset,
    nodes: [
      {
        op: c.op,
        domain: c.domain,
        name: "n",
        inputs: c.order ?? [...Object.keys(c.inputs), ...Object.keys(c.constants ?? {})],
        outputs,
        attrs: c.attrs,
      },
    ],
    inputs: c.inputs,
    inputTypes: Object.fromEntries([...typed(c.int64, "int64"), ...typed(c.int32, "int32")]),
    constants: c.constants,
    outputs,
  };
}

/** The case's feeds: `values`, or random ones (seeded by the input's place). */
export function opFeeds(c: OpCase): Map<string, OnnxTensor> {
  return new Map(
    Object.entries(c.inputs).map(([name, dims], i) => {
      const n = dims.reduce((a, b) => a * b, 1);
      const int = c.int64?.includes(name) || c.int32?.includes(name);
      const values = c.values?.[name] ?? Array.from(randomF32(n, 7 + i), (v) => (int ? Math.round(v * 4 + 1) : v));
      return [name, tensor(c.int32?.includes(name) ? "int32" : int ? "int64" : "float32", [...dims], values)];
    }),
  );
}

/** Random float32 weights in [−0.5, 0.5). */
export const weights = (dims: number[], seed: number): Const => ({
  dims,
  floats: Array.from(
    randomF32(
      dims.reduce((a, b) => a * b, 1),
      seed,
      0.5,
    ),
  ),
});
export const int64 = (dims: number[], values: readonly number[]): Const => ({ dims, int64: [...values] });
export const floats = (dims: number[], values: readonly number[]): Const => ({ dims, floats: [...values] });
