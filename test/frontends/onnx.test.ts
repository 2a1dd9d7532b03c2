// The ONNX frontend's reader, lowering and the IR interpreter, on graphs other people's exporters wrote
// (../shared/onnx), against the outputs ONNX Runtime gave for the same inputs.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { readOnnx, readTensorFile } from "../../compiler/frontends/onnx/read.js";
import type { OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { SeecError } from "../../runtime/errors.js";
import { tmpDir } from "../helpers/compile.js";
import { seec } from "../helpers/cli.js";
import { graphDirs, halfStep } from "../helpers/onnx.js";
import { sharedPath } from "../helpers/shared.js";

const { onnx } = onnxProto;
const ONNX = sharedPath("onnx");

/**
 * |got - want| <= 1e-4 or <= 1e-3 |want| element by element; returns the largest absolute
 * deviation. Outputs of a float16 graph may also differ by one float16 step at the output's largest
 * magnitude: both round every op's result to half, from float32 sums taken in different orders.
 */
function compare(got: OnnxTensor, want: OnnxTensor, what: string): number {
  expect(got.shape, what).toEqual(want.shape);
  const step = want.dtype === "float16" ? halfStep(Array.from(want.data).reduce((m, x) => Math.max(m, Math.abs(x)), 0)) : 0;
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(got.data[i] - want.data[i]);
    const ok = d <= 1e-4 || d <= 1e-3 * Math.abs(want.data[i]) || d <= step;
    if (!ok) expect.fail(`${what}[${i}]: ${got.data[i]} vs ONNX Runtime's ${want.data[i]}`);
    worst = Math.max(worst, d);
  }
  return worst;
}

describe.skipIf(!ONNX)("ONNX graphs from real exporters, lowered to IR and run by its interpreter", () => {
  const dirs = ONNX ? graphDirs(ONNX) : [];

  it("finds the shared graphs", () => expect(dirs.length).toBeGreaterThanOrEqual(16));

  for (const dir of dirs.filter((d) => existsSync(join(ONNX!, d, "test_data_set_0")))) {
    it(`${dir}: outputs match ONNX Runtime's`, async () => {
      const model = await readOnnx(join(ONNX!, dir, "model.onnx"));
      const data = join(ONNX!, dir, "test_data_set_0");
      const feeds = new Map(
        await Promise.all(model.inputs.map(async (input, k) => [input.name, await readTensorFile(join(data, `input_${k}.pb`))] as const)),
      );
      const outputs = evaluateOnnx(model, feeds);
      let worst = 0;
      for (const [k, o] of model.outputs.entries())
        worst = Math.max(worst, compare(outputs.get(o.name)!, await readTensorFile(join(data, `output_${k}.pb`)), o.name));
      console.log(`${dir}: largest deviation from ONNX Runtime ${worst.toExponential(2)}`);
    });
  }

  it("reads fp16 weights from external data (model.onnx.data)", async () => {
    const model = await readOnnx(join(ONNX!, "llama_tiny_fp16_genai_builder", "model.onnx"));
    const weights = [...model.initializers.values()].filter((t) => t.dtype === "float16");
    expect(weights.reduce((n, t) => n + t.data.length, 0)).toBeGreaterThan(500_000);
    expect(weights.every((t) => t.data.every(Number.isFinite))).toBe(true);
  });
});

describe("bad ONNX input", () => {
  const write = async (model: import("onnx-proto").onnx.IModelProto) => {
    const file = join(await tmpDir(), "model.onnx");
    writeFileSync(file, onnx.ModelProto.encode(model).finish());
    return file;
  };
  const opset = [{ domain: "", version: 17 }];
  const code = async (p: Promise<unknown>) =>
    (
      (await p.then(
        () => undefined,
        (e) => e,
      )) as SeecError | undefined
    )?.code;

  it("lists every unsupported op type with a node name and its domain and opset, in one error", async () => {
    const file = await write({
      opsetImport: [...opset, { domain: "com.example", version: 3 }],
      graph: {
        input: [{ name: "x" }],
        output: [{ name: "z" }],
        node: [
          { name: "first_fancy", opType: "FancyOp", input: ["x"], output: ["y"] },
          { name: "second_fancy", opType: "FancyOp", input: ["y"], output: ["y2"] },
          { name: "custom", opType: "Thing", domain: "com.example", input: ["y2"], output: ["z"] },
        ],
      },
    });
    const e = (await readOnnx(file)
      .then(
        (m) => evaluateOnnx(m, new Map()),
        (x) => x,
      )
      .catch((x) => x)) as SeecError;
    expect(e.code).toBe("unsupported.onnx_op");
    expect(e.message).toContain("ai.onnx:FancyOp (opset 17): 2 nodes, e.g. first_fancy, second_fancy");
    expect(e.message).toContain("com.example:Thing (opset 3): 1 node, e.g. custom");
  });

  it("names what is wrong: not ONNX, a cycle, missing external data, element types and attributes seec does not read", async () => {
    const dir = await tmpDir();
    writeFileSync(join(dir, "junk.onnx"), "this is not protobuf at all, just text");
    expect(await code(readOnnx(join(dir, "junk.onnx")))).toBe("input.onnx");
    expect(await code(readOnnx(join(dir, "missing.onnx")))).toBe("io.not_found");
    const cycle = await write({
      opsetImport: opset,
      graph: {
        node: [
          { name: "a", opType: "Relu", input: ["q"], output: ["p"] },
          { name: "b", opType: "Relu", input: ["p"], output: ["q"] },
        ],
      },
    });
    expect(await code(readOnnx(cycle))).toBe("input.onnx");
    const external = await write({
      opsetImport: opset,
      graph: { initializer: [{ name: "w", dataType: 1, dims: [2], dataLocation: 1, externalData: [{ key: "location", value: "w.bin" }] }] },
    });
    expect(await code(readOnnx(external))).toBe("io.not_found");
    const escape = await write({
      opsetImport: opset,
      graph: {
        initializer: [
          { name: "w", dataType: 1, dims: [2], dataLocation: 1, externalData: [{ key: "location", value: "../../etc/passwd" }] },
        ],
      },
    });
    expect(await code(readOnnx(escape))).toBe("input.onnx");
    const strings = await write({
      opsetImport: opset,
      graph: { initializer: [{ name: "s", dataType: 8, dims: [1], stringData: [new Uint8Array([65])] }] },
    });
    expect(await code(readOnnx(strings))).toBe("unsupported.onnx_dtype");
    const short = await write({
      opsetImport: opset,
      graph: { initializer: [{ name: "w", dataType: 1, dims: [4], rawData: new Uint8Array(8) }] },
    });
    expect(await code(readOnnx(short))).toBe("input.onnx");
    const sparse = await write({
      opsetImport: opset,
      graph: { node: [{ name: "n", opType: "Constant", output: ["c"], attribute: [{ name: "sparse_value", type: 11 }] }] },
    });
    expect(await code(readOnnx(sparse))).toBe("unsupported.onnx_attribute");
  });
});

describe("ONNX graphs out of range, built as a user would", () => {
  const x = { name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }, { dimValue: 4 }] } } } };
  const y = { name: "y", type: { tensorType: { elemType: 1 } } };
  const one = (node: import("onnx-proto").onnx.INodeProto, graph: import("onnx-proto").onnx.IGraphProto = {}) => ({
    input: [x],
    output: [y],
    node: [node],
    ...graph,
  });
  const ints = (name: string, values: number[]) => ({ name, type: 7, ints: values });
  const cases: [string, import("onnx-proto").onnx.IGraphProto, string, RegExp][] = [
    [
      "a Softmax axis of 1e9",
      one({ name: "sm", opType: "Softmax", input: ["x"], output: ["y"], attribute: [{ name: "axis", type: 2, i: 1e9 }] }),
      "input.onnx",
      /@ node sm: axis 1000000000 is out of range for a tensor of rank 2/,
    ],
    [
      "a ReduceMean over axis 1e9 (once built as an RMSNorm that output zeros)",
      one({ name: "rm", opType: "ReduceMean", input: ["x"], output: ["y"], attribute: [ints("axes", [1e9])] }),
      "input.onnx",
      /@ node rm: axis 1000000000/,
    ],
    [
      "a Transpose perm that is not a permutation",
      one({ name: "t", opType: "Transpose", input: ["x"], output: ["y"], attribute: [ints("perm", [0, 5])] }),
      "input.onnx",
      /@ node t: perm \[0, 5\] is not a permutation/,
    ],
    [
      "an initializer with a negative dimension",
      one(
        { name: "a", opType: "Add", input: ["x", "w"], output: ["y"] },
        { initializer: [{ name: "w", dataType: 1, dims: [-4], floatData: [1, 2, 3, 4] }] },
      ),
      "input.onnx",
      /tensor "w" has dimension 0 of -4/,
    ],
    [
      "a Constant without a value",
      {
        input: [x],
        output: [y],
        node: [
          { name: "c", opType: "Constant", output: ["c"] },
          { name: "a", opType: "Add", input: ["x", "c"], output: ["y"] },
        ],
      },
      "input.onnx",
      /@ node c: Constant has no value/,
    ],
    [
      "a graph output no node defines",
      { input: [x], output: [{ name: "nowhere" }], node: [{ name: "r", opType: "Relu", input: ["x"], output: ["y"] }] },
      "input.onnx",
      /@ output nowhere: the graph outputs tensor "nowhere"/,
    ],
    [
      "a node reading a tensor no node defines",
      one({ name: "r", opType: "Add", input: ["x", "ghost"], output: ["y"] }),
      "input.onnx",
      /@ node r: node r \(Add\) reads tensor "ghost"/,
    ],
    [
      "a MatMul whose inner dimensions differ, every dimension the graph's own (not blamed on --shape)",
      one(
        { name: "mm", opType: "MatMul", input: ["x", "w"], output: ["y"] },
        { initializer: [{ name: "w", dataType: 1, dims: [5, 3], floatData: Array(15).fill(1) }] },
      ),
      "input.onnx",
      /the graph's shapes do not fit together/,
    ],
  ];
  for (const [what, graph, code, message] of cases)
    it(`refuses ${what} with ${code}, on one line naming the file`, async () => {
      const dir = await tmpDir();
      writeFileSync(
        join(dir, "model.onnx"),
        onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph }).finish(),
      );
      const res = await seec("build", join(dir, "model.onnx"), "-o", join(dir, "out"));
      expect(res.code, res.stderr).toBe(3);
      expect(res.stderr).toMatch(new RegExp(`^seec: error\\[${code}\\] ${join(dir, "model.onnx").replace(/[.]/g, "\\.")}[ :]`));
      expect(res.stderr).toMatch(message);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(existsSync(join(dir, "out"))).toBe(false);
    });

  it("bounds --shape, every tensor and the memory plan by what wasm32 addresses, before allocation or emission; --json prints the error as JSON", async () => {
    const dir = await tmpDir();
    const ids = {
      name: "input_ids",
      type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "batch" }, { dimParam: "sequence" }] } } },
    };
    const node = (opType: string, input: string[], output: string) => ({ name: output, opType, input, output: [output] });
    const write = (file: string, nodes: import("onnx-proto").onnx.INodeProto[]) =>
      writeFileSync(
        join(dir, file),
        onnx.ModelProto.encode({
          irVersion: 8,
          opsetImport: [{ domain: "", version: 17 }],
          graph: { input: [ids], output: [y], node: nodes },
        }).finish(),
      );
    write("relu.onnx", [node("Relu", ["input_ids"], "y")]);
    // Three activations of one input live at once: each 1 GiB, together over 4 GiB.
    write("wide.onnx", [
      node("Relu", ["input_ids"], "a"),
      node("Sigmoid", ["input_ids"], "b"),
      node("Tanh", ["input_ids"], "c"),
      node("Add", ["a", "b"], "ab"),
      node("Add", ["ab", "c"], "abc"),
      node("Add", ["abc", "input_ids"], "y"),
    ]);
    write("square.onnx", [node("Transpose", ["input_ids"], "t"), node("MatMul", ["input_ids", "t"], "y")]);
    const huge = await seec("build", join(dir, "relu.onnx"), "--shape", "input_ids=100000x100000", "-o", join(dir, "out"));
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(
      /^seec: error\[usage\.shape\] @ --shape: input input_ids bound to 100000x100000 has 10000000000 elements; seec's wasm32 targets hold at most 268435456 \(1 GiB of float32\) in one tensor/,
    );
    const square = await seec("build", join(dir, "square.onnx"), "--shape", "input_ids=20000x8", "-o", join(dir, "out"));
    expect(square.code).toBe(4);
    expect(square.stderr).toMatch(
      /^seec: error\[unsupported\.too_large\] \S+square\.onnx @ node y: MatMul outputs y of shape \[20000, 20000\]/,
    );
    const plan = await seec("build", join(dir, "wide.onnx"), "--shape", "input_ids=16384x16384", "-o", join(dir, "out"));
    expect(plan.code).toBe(6);
    expect(plan.stderr).toMatch(
      /^seec: error\[budget\.memory\]: the model needs \d+\.\d GiB of linear memory; wasm32 addresses at most 4 GiB/,
    );
    // No KV cache or Linear weights to shrink: the hint names the input shapes.
    expect(plan.stderr).toMatch(
      /\(activations [\d.]+ GiB[^)]*\).*neither a shorter context nor int8 is enough: smaller input shapes \(--shape\)/s,
    );
    const json = await seec("build", join(dir, "relu.onnx"), "--json", "--shape", "input_ids=100000x100000", "-o", join(dir, "out"));
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toEqual({
      error: {
        code: "usage.shape",
        exitCode: 2,
        message: expect.stringContaining("100000x100000 has 10000000000 elements"),
        at: "--shape",
      },
    });
    expect(existsSync(join(dir, "out"))).toBe(false);
  });
});
