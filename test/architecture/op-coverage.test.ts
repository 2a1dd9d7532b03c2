// Ops as a closed, typed set: OpName (compiler/ir/op-names.ts) is every op the registry defines,
// and each backend's table is declared against it. The wasm and WebGPU targets claim every op (a
// missing key is a type error); export-onnx claims what WRITERS lists and refuses the rest by name
// before any work. Deleting an entry fails tsc (the @ts-expect-error lines below) or these tests,
// naming the op.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Node } from "../../compiler/ir/graph.js";
import { isOpName, OP_NAMES, OPS, type OpDef, type OpName } from "../../compiler/ir/ops/index.js";
import { ONNX_OPS, exportOnnx, supports as onnxSupports, WRITERS } from "../../targets/onnx/export.js";
import type { Binding } from "../../targets/wasm/binding.js";
import { BINDINGS, WASM_OPS } from "../../targets/wasm/bindings.js";
import { SEE_BINDINGS } from "../../targets/wasm/see.js";
import { TENSOR_BINDINGS } from "../../targets/wasm/tensor-ops.js";
import { GENERATORS, WEBGPU_OPS } from "../../targets/webgpu/kernels.js";
import { TENSOR_KERNELS } from "../../targets/webgpu/tensor.js";
import type { Generator } from "../../targets/webgpu/wgsl.js";
import { SeecError } from "../../runtime/errors.js";

/** Every op, written out: adding or removing one is a deliberate edit here too. */
const ALL: readonly string[] = [
  "Add",
  "AddRows",
  "Attention",
  "Concat",
  "Copy",
  "EntangledEmbedding",
  "EntangledLogits",
  "EntangledTable",
  "Gather",
  "L2Normalize",
  "LastRow",
  "LayerNorm",
  "Linear",
  "Map",
  "MatMul",
  "MeanLinear",
  "MeanQLinear",
  "MeanRows",
  "Q4Linear",
  "QGather",
  "QLinear",
  "Reduce",
  "RMSNorm",
  "Relu",
  "RoPE",
  "ScaledAttention",
  "SelfAttention",
  "Softmax",
  "SwiGLU",
  "Tanh",
];

/** What export-onnx writes today; the rest it refuses (or folds when they run on constants). */
const ONNX_EXPECTED: readonly string[] = [
  "Add",
  "AddRows",
  "Attention",
  "EntangledEmbedding",
  "EntangledLogits",
  "Gather",
  "L2Normalize",
  "LastRow",
  "LayerNorm",
  "Linear",
  "MeanRows",
  "QGather",
  "QLinear",
  "RMSNorm",
  "Relu",
  "RoPE",
  "SelfAttention",
  "SwiGLU",
  "Tanh",
];

const BACKENDS: { name: string; claimed: readonly OpName[]; expected: readonly string[]; table: object }[] = [
  { name: "wasm (BINDINGS)", claimed: WASM_OPS, expected: ALL, table: BINDINGS },
  { name: "webgpu (GENERATORS)", claimed: WEBGPU_OPS, expected: ALL, table: GENERATORS },
  { name: "export-onnx (WRITERS)", claimed: ONNX_OPS, expected: ONNX_EXPECTED, table: WRITERS },
];

const sorted = (ops: readonly string[]) => [...ops].sort();

describe("ops as a closed, typed set", () => {
  it("OpName is exactly the registry's ops, and the list written here", () => {
    expect(sorted(OP_NAMES)).toEqual(sorted(Object.keys(OPS)));
    expect(sorted(OP_NAMES)).toEqual(sorted(ALL));
    expect(OP_NAMES.filter((op) => !isOpName(op))).toEqual([]);
    expect(isOpName("Conv3D")).toBe(false);
  });

  for (const { name, claimed, expected, table } of BACKENDS) {
    it(`${name}: an entry for every op it claims, naming any missing`, () => {
      const missing = claimed.filter(
        (op) => typeof (table as Record<string, unknown>)[op] !== "function" && typeof (table as Record<string, unknown>)[op] !== "object",
      );
      expect(missing, `${name} claims ops it has no entry for`).toEqual([]);
    });

    it(`${name}: claims exactly the expected ops`, () => {
      const c = new Set<string>(claimed),
        e = new Set(expected);
      expect(
        expected.filter((op) => !c.has(op)),
        `${name} no longer claims`,
      ).toEqual([]);
      expect(
        claimed.filter((op) => !e.has(op)),
        `${name} newly claims`,
      ).toEqual([]);
    });

    it(`${name}: no key outside OpName`, () => {
      expect(
        Object.keys(table).filter((k) => !isOpName(k)),
        `${name} has entries for unknown ops`,
      ).toEqual([]);
    });
  }

  it("the wasm target's parts (SEE_BINDINGS, TENSOR_BINDINGS) are inside its table", () => {
    for (const op of [...Object.keys(SEE_BINDINGS), ...Object.keys(TENSOR_BINDINGS)]) expect(BINDINGS, op).toHaveProperty(op);
    for (const op of Object.keys(TENSOR_KERNELS)) expect(GENERATORS, op).toHaveProperty(op);
  });

  it("export-onnx's supports() is its claimed list", () => {
    expect(ALL.filter((op) => onnxSupports(op))).toEqual(ALL.filter((op) => ONNX_EXPECTED.includes(op)));
    expect(onnxSupports("Conv3D")).toBe(false);
  });

  it("export-onnx refuses every op it cannot write by name, up front", () => {
    const b = new GraphBuilder("refused", { family: "graph", config: {} });
    const x = b.input("x", "f32", [2, 4]);
    const w = b.input("w", "f32", [4, 3]);
    const s = b.node("Softmax", "s", [x]);
    const y = b.node("MatMul", "y", [s, w]);
    b.output(y);
    let error: unknown;
    try {
      exportOnnx(b.finish(), "test");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SeecError);
    expect((error as SeecError).code).toBe("unsupported.export");
    // Both ops named: the refusal is a scan before writing, not the first failure on the way.
    expect((error as SeecError).message).toContain("Softmax");
    expect((error as SeecError).message).toContain("MatMul");
  });

  it("export-onnx folds an op it cannot write when it runs on constants", () => {
    const b = new GraphBuilder("folded", { family: "graph", config: {} });
    const x = b.input("x", "f32", [2, 4]);
    const c = b.constant("c", Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]);
    const s = b.node("Softmax", "s", [c]);
    const y = b.node("Add", "y", [x, s]);
    b.output(y);
    expect(exportOnnx(b.finish(), "test").length).toBeGreaterThan(0);
  });
});

// Type-level: tsc proves the tables are closed (each @ts-expect-error fails the build if the line compiles).
export function typeChecks(binding: Binding, generator: Generator, writer: (typeof WRITERS)[keyof typeof WRITERS], def: OpDef): void {
  // @ts-expect-error: Node.op is an OpName
  const bogus: Node["op"] = "Conv3D";
  // @ts-expect-error: a misspelled key in the wasm table
  void ({ ...BINDINGS, Conv3D: binding } satisfies Record<OpName, Binding>);
  const { Add: _a, ...wasmWithoutAdd } = BINDINGS;
  // @ts-expect-error: the wasm table without Add
  void (wasmWithoutAdd satisfies Record<OpName, Binding>);
  const { Softmax: _s, ...gpuWithoutSoftmax } = GENERATORS;
  // @ts-expect-error: the WebGPU table without Softmax
  void (gpuWithoutSoftmax satisfies Record<OpName, Generator>);
  // @ts-expect-error: a misspelled key in export-onnx's table
  void ({ ...WRITERS, Tanhh: writer } satisfies Partial<Record<OpName, typeof writer>>);
  // @ts-expect-error: a registry entry outside OpName
  void ({ ...OPS, Conv3D: def } satisfies Record<OpName, OpDef>);
  void [bogus, _a, _s, generator];
}
