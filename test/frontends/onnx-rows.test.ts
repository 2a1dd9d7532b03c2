// A batch run row by row (issue 24: more than one symbolic dimension per build): the shared
// DistilBERT built with `--shape input_ids=?4x?16` takes 1 to 4 rows of 1 to 16 tokens in one
// artifact and gives ONNX Runtime's outputs for the whole padded batch; `?4x16` (a batch the graph
// flattens with the sequence, which cannot stay symbolic through it) runs row by row too; the rows
// are counted from dims carried as onnxruntime's Tensor carries them; graphs that mix their rows
// are refused, naming the output.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { lowerOnnx, type InputShape } from "../../compiler/frontends/onnx/index.js";
import { readOnnx, type OnnxModel } from "../../compiler/frontends/onnx/read.js";
import { load } from "../../runtime/index.js";
import { tmpDir } from "../helpers/compile.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { writeGraph, type GraphSpec, type NodeSpec } from "../helpers/onnx-model.js";
import { sharedPath } from "../helpers/shared.js";
import { nodeWebgpu } from "../helpers/webgpu.js";

const gpu = await nodeWebgpu();

const DISTILBERT = sharedPath("onnx/bert_distilbert_tiny_hf_pt110");

/** A padded batch of `rows` rows of T tokens: ids below 100, each row's last `k` tokens padding (k = row index). */
function batch(rows: number, T: number) {
  const ids = BigInt64Array.from({ length: rows * T }, (_, i) => BigInt((i * 37 + 5) % 100));
  const mask = BigInt64Array.from({ length: rows * T }, (_, i) => (i % T < T - Math.floor(i / T) ? 1n : 0n));
  return { ids, mask };
}

describe.skipIf(!DISTILBERT)("an ONNX encoder's batch run row by row (../shared/onnx/bert_distilbert_tiny_hf_pt110)", () => {
  const model = () => join(DISTILBERT!, "model.onnx");

  it("--shape input_ids=?4x?16: one artifact for 1 to 4 rows of 1 to 16 tokens gives ONNX Runtime's outputs for the whole batch", async () => {
    const out = join(await tmpDir(), "artifact");
    const report = await build({ model: model(), target: "wasm-simd", out, shapes: { input_ids: [{ max: 4 }, { max: 16 }] } });
    expect(report.notes).toContain('input_ids\'s dimension 1 ("sequence") stays symbolic (T), from 1 to 16');
    expect(report.notes).toContain('input_ids\'s dimension 0 ("batch") runs row by row, 1 to 4 rows a call');
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.model.rows).toEqual({ name: "batch", max: 4, inputs: ["input_ids", "attention_mask"] });
    expect(manifest.dims).toEqual({ T: { max: 16 } });
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(model(), { intraOpNumThreads: 1 });
    // The rows loop is the runtime's, whichever backend runs each row.
    const gpuOut = join(await tmpDir(), "gpu");
    if (gpu.adapter) await build({ model: model(), target: "webgpu", out: gpuOut, shapes: { input_ids: [{ max: 4 }, { max: 16 }] } });
    const artifact = await load(out, { webgpu: false });
    const runners = gpu.adapter ? [artifact, await load(gpuOut)] : [artifact];
    expect(runners.map((r) => r.backend)).toEqual(gpu.adapter ? ["wasm-simd", "webgpu"] : ["wasm-simd"]);
    for (const runner of runners)
      for (const [rows, T] of [
        [1, 1],
        [3, 7],
        [4, 16],
      ]) {
        const { ids, mask } = batch(rows, T);
        const feeds = { input_ids: new ort.Tensor("int64", ids, [rows, T]), attention_mask: new ort.Tensor("int64", mask, [rows, T]) };
        const want = (await session.run(feeds)).logits;
        // onnxruntime's own Tensors, and typed arrays carrying their dims as run()'s outputs do.
        const carried = (a: BigInt64Array) => Object.assign(a.slice(), { dims: [rows, T] });
        for (const got of [
          (await runner.run(feeds)).logits,
          (await runner.run({ input_ids: carried(ids), attention_mask: carried(mask) })).logits,
        ]) {
          expect(got.dims).toEqual(want.dims);
          const w = want.data as Float32Array;
          w.forEach((x, i) =>
            expect(Math.abs((got as Float32Array)[i] - x), `${runner.backend}: logits[${i}] of ${rows} × ${T}`).toBeLessThan(1e-5),
          );
        }
      }
    // Without dims a feed is one row, as before.
    const one = batch(1, 5);
    expect((await artifact.run({ input_ids: one.ids, attention_mask: one.mask })).logits.dims).toEqual([1, 2]);

    const { ids, mask } = batch(5, 3);
    const tensor = (a: BigInt64Array, dims: number[]) => ({ data: a, dims });
    const two = (a: BigInt64Array, dims: number[]) => tensor(a.subarray(0, 6), dims);
    const refusals: [Parameters<typeof artifact.run>[0], string][] = [
      [
        { input_ids: tensor(ids, [5, 3]), attention_mask: tensor(mask, [5, 3]) },
        'input "input_ids" has 5 rows of batch; the model takes 1 to 4',
      ],
      [
        { input_ids: two(ids, [2, 3]), attention_mask: tensor(mask.subarray(0, 3), [1, 3]) },
        'input "attention_mask" has 1 row of batch, where input_ids has 2',
      ],
      [{ input_ids: two(ids, [2, 4]), attention_mask: mask }, 'input "input_ids" has dims [2, 4], which hold 8 elements, not its 6'],
      [
        { input_ids: two(ids, [2, 3]), attention_mask: two(mask, [2, 1, 3]) },
        'input "attention_mask" has dims [2, 1, 3]; the model takes [batch, T] (batch 1 to 4, T 1 to 16)',
      ],
      [
        { input_ids: tensor(batch(2, 17).ids, [2, 17]), attention_mask: tensor(batch(2, 17).mask, [2, 17]) },
        'input "input_ids" has dims [2, 17]; the model takes [batch, T] (batch 1 to 4, T 1 to 16)',
      ],
      [
        { input_ids: tensor(batch(2, 8).ids, [2, 8]), attention_mask: tensor(batch(2, 4).mask, [2, 4]) },
        'input "attention_mask" has T = 4 (dims [2, 4]), where input_ids has T = 8',
      ],
      [
        { input_ids: batch(2, 16).ids, attention_mask: batch(2, 16).mask },
        'input "input_ids" has 32 elements, more than one row of [T] holds (16), and no dims to say how many rows',
      ],
      [
        { input_ids: tensor(ids.subarray(0, 0), [0, 3]), attention_mask: tensor(mask.subarray(0, 0), [0, 3]) },
        'input "input_ids" has 0 rows of batch; the model takes 1 to 4',
      ],
      // A missing input, or a plain list, is named as on any artifact.
      [{ input_ids: two(ids, [2, 3]) }, 'missing input "attention_mask"'],
      [{ input_ids: [1, 2, 3] as unknown as BigInt64Array, attention_mask: mask }, 'input "input_ids" must be a BigInt64Array, got Array'],
    ];
    // dims as a typed array, as some callers keep them.
    const typed = await artifact.run({
      input_ids: { data: ids.subarray(0, 6), dims: Int32Array.of(2, 3) as unknown as number[] },
      attention_mask: two(mask, [2, 3]),
    });
    expect(typed.logits.dims).toEqual([2, 2]);
    for (const [feeds, message] of refusals) {
      const e = await rejectsSeec(() => artifact.run(feeds));
      expect([e.code, e.message]).toEqual(["runtime.input", message]);
    }
    for (const r of runners) r.dispose();
  }, 120_000);

  it("--shape input_ids=?3x16: a batch the graph flattens with the sequence runs row by row; rows counted from the length; through a worker too", async () => {
    const out = join(await tmpDir(), "artifact");
    const report = await build({ model: model(), target: "wasm-simd", out, shapes: { input_ids: [{ max: 3 }, 16] } });
    expect(report.notes).toContain('input_ids\'s dimension 0 ("batch") runs row by row, 1 to 3 rows a call');
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(model(), { intraOpNumThreads: 1 });
    const { ids, mask } = batch(3, 16);
    const want = (
      await session.run({ input_ids: new ort.Tensor("int64", ids, [3, 16]), attention_mask: new ort.Tensor("int64", mask, [3, 16]) })
    ).logits.data as Float32Array;
    for (const worker of [false, true]) {
      const artifact = await load(out, { webgpu: false, worker });
      const got = (await artifact.run({ input_ids: ids, attention_mask: mask })).logits;
      expect(got.dims).toEqual([3, 2]);
      want.forEach((x, i) => expect(Math.abs((got as Float32Array)[i] - x), `logits[${i}], worker ${worker}`).toBeLessThan(1e-5));
      // dims cross to the worker with the arrays, and onnxruntime's Tensors (whose data is a getter of their class) too.
      const two = await artifact.run({ input_ids: Object.assign(ids.slice(0, 32), { dims: [2, 16] }), attention_mask: mask.slice(0, 32) });
      expect(two.logits.dims).toEqual([2, 2]);
      const tensors = await artifact.run({
        input_ids: new ort.Tensor("int64", ids, [3, 16]),
        attention_mask: new ort.Tensor("int64", mask, [3, 16]),
      });
      expect(Array.from(tensors.logits as Float32Array)).toEqual(Array.from(got as Float32Array));
      const none = await rejectsSeec(() => artifact.run(null as never));
      expect([none.code, none.message]).toEqual(["runtime.input", "run() takes an object of named inputs, got null"]);
      const part = await rejectsSeec(() => artifact.run({ input_ids: ids.slice(0, 40), attention_mask: mask.slice(0, 40) }));
      expect(part.message).toBe('input "input_ids" has 40 elements, which are not whole rows of [16] (16 each)');
      const e = await rejectsSeec(() =>
        artifact.run({ input_ids: Object.assign(ids.slice(0, 32), { dims: [1, 32] }), attention_mask: mask.slice(0, 32) }),
      );
      expect(e.message).toBe('input "input_ids" has dims [1, 32]; the model takes [batch, 16] (batch 1 to 3)');
      artifact.dispose();
    }
  }, 120_000);
});

describe("a batch that cannot run row by row is refused by name", () => {
  /** x [batch, T, 4] in, y out. */
  const graph = async (
    nodes: NodeSpec[],
    inputs: Record<string, (number | string)[]> = { x: ["batch", "T", 4] },
    more: Pick<GraphSpec, "inputTypes" | "constants"> = {},
  ) => readOnnx(await writeGraph({ opset: 13, nodes, inputs, ...more, outputs: ["y"] }, "g.onnx"));
  const refusal = (m: OnnxModel, shapes: Record<string, InputShape>) => {
    const e = catchSeec(() => lowerOnnx(m, "g", shapes));
    return [e.code, e.message];
  };

  it("a graph that mixes its rows, or has no row per row of an output", async () => {
    // y = x + the maximum over the batch: each row then depends on the others.
    const mixes = await graph([
      { op: "ReduceMax", inputs: ["x"], outputs: ["m"], attrs: { axes: [0], keepdims: 1 } },
      { op: "Add", inputs: ["x", "m"], outputs: ["y"] },
    ]);
    const mixed = catchSeec(() => lowerOnnx(mixes, "g", { x: [{ max: 4 }, { max: 8 }, 4] }));
    expect(mixed.code).toBe("unsupported.dynamic_shape");
    expect(mixed.message).toMatch(
      /^x's dimension 0 \("batch"\) cannot run row by row: row 0 of output "y" is \S+ off what that row gives alone \(largest \S+\): the graph mixes the rows$/,
    );
    // y = the maximum over the batch: one row however many come in.
    const reduces = await graph([{ op: "ReduceMax", inputs: ["x"], outputs: ["y"], attrs: { axes: [0], keepdims: 0 } }]);
    expect(refusal(reduces, { x: [{ max: 4 }, { max: 8 }, 4] })).toEqual([
      "unsupported.dynamic_shape",
      'x\'s dimension 0 ("batch") cannot run row by row: output "y" is [3, 4] for two rows and [3, 4] for one: not a row per row',
    ]);
    // A batch alone, whose maximum (below 5) cannot be a length's either: both reasons.
    expect(refusal(reduces, { x: [{ max: 4 }, 2, 4] })).toEqual([
      "usage.shape",
      'a symbolic dimension\'s maximum must be at least 5; give a fixed size below that; nor can it run row by row as a batch: output "y" is [2, 4] for two rows and [2, 4] for one: not a row per row',
    ]);
  });

  it("integer graphs that mix rows only for some values: rows of different sums, values above 1, odd and even lengths", async () => {
    const ids = { ids: ["batch", "T"] },
      int64 = { inputTypes: { ids: "int64" as const } };
    // ids + the batch's maximum; each row's count of ones over the batch's most; ids above 1 plus the batch's maximum.
    const plusMax = await graph(
      [
        { op: "ReduceMax", inputs: ["ids"], outputs: ["m"], attrs: { axes: [0], keepdims: 1 } },
        { op: "Add", inputs: ["ids", "m"], outputs: ["y"] },
      ],
      ids,
      int64,
    );
    const share = await graph(
      [
        { op: "ReduceSum", inputs: ["ids"], outputs: ["s"], attrs: { axes: [1], keepdims: 1 } },
        { op: "ReduceMax", inputs: ["s"], outputs: ["m"], attrs: { axes: [0], keepdims: 1 } },
        { op: "Cast", inputs: ["s"], outputs: ["sf"], attrs: { to: 1 } },
        { op: "Cast", inputs: ["m"], outputs: ["mf"], attrs: { to: 1 } },
        { op: "Div", inputs: ["sf", "mf"], outputs: ["y"] },
      ],
      ids,
      int64,
    );
    const aboveOne = await graph(
      [
        { op: "ReduceMax", inputs: ["ids"], outputs: ["m"], attrs: { axes: [0], keepdims: 1 } },
        { op: "Add", inputs: ["ids", "m"], outputs: ["plus"] },
        { op: "Greater", inputs: ["ids", "one"], outputs: ["big"] },
        { op: "Where", inputs: ["big", "plus", "ids"], outputs: ["y"] },
      ],
      ids,
      { ...int64, constants: { one: { dims: [], int64: [1] } } },
    );
    for (const [m, what] of [
      [plusMax, "plus the maximum"],
      [share, "the share of the longest"],
      [aboveOne, "above 1, plus the maximum"],
    ] as const)
      for (const shapes of [{ ids: [{ max: 4 }, { max: 8 }] }, { ids: [{ max: 4 }, 7] }, { ids: [{ max: 4 }, 8] }]) {
        const [code, message] = refusal(m, shapes);
        // A batch alone below 5 is refused as a length too (the test above): the row-by-row reason follows.
        expect([code, message.replace(/^.*; nor can it run row by row as a batch: /, "")], `${what} ${JSON.stringify(shapes)}`).toEqual([
          shapes.ids.length === 2 && typeof shapes.ids[1] === "object" ? "unsupported.dynamic_shape" : "usage.shape",
          expect.stringMatching(
            /^(ids's dimension 0 \("batch"\) cannot run row by row: )?row [01] of output "y" .*the graph mixes the rows$/,
          ),
        ]);
      }
  });

  it("an input that holds the batch past its first dimension; two marks neither of which leads", async () => {
    const g = await graph([{ op: "Add", inputs: ["x", "z"], outputs: ["y"] }], { x: ["batch", "T", 4], z: [1, "T", "batch"] });
    const e = catchSeec(() => lowerOnnx(g, "g", { x: [{ max: 4 }, { max: 8 }, 4] }));
    expect([e.code, e.message]).toEqual([
      "unsupported.dynamic_shape",
      'x\'s dimension 0 ("batch") cannot run row by row: input "z" has it at dimension 2, not first',
    ]);
    // Two anonymous leading dimensions are two dimensions, as two names would be.
    const anonymous = await graph([{ op: "Add", inputs: ["x", "z"], outputs: ["y"] }], { x: ["", 4], z: ["", 4] });
    expect(refusal(anonymous, { x: [{ max: 4 }, 4], z: [{ max: 4 }, 4] })).toEqual([
      "usage.shape",
      "one dimension can stay symbolic per build, and a batch beside it (the first dimension of every input that has it); --shape marks x[0], z[0], which the graph does not name as one",
    ]);
    expect(refusal(g, { x: [{ max: 0 }, { max: 8 }, 4] })).toEqual([
      "usage.shape",
      "--shape x: dimension 0 is marked ?0; a maximum is at least 1",
    ]);
    // A leading length below 5 that mixes its rows: both reasons.
    const softmax = await graph([{ op: "Softmax", inputs: ["x"], outputs: ["y"], attrs: { axis: 0 } }], { x: ["T", 4] });
    expect(refusal(softmax, { x: [{ max: 4 }, 4] })).toEqual([
      "usage.shape",
      expect.stringMatching(
        /^a symbolic dimension's maximum must be at least 5; give a fixed size below that; nor can it run row by row as a batch: row 0 of output "y" .* the graph mixes the rows$/,
      ),
    ]);
    const h = await graph([{ op: "Add", inputs: ["x", "z"], outputs: ["y"] }], { x: [1, "S", 4], z: [1, "T", 4] });
    const u = catchSeec(() => lowerOnnx(h, "g", { x: [1, { max: 8 }, 4], z: [1, { max: 8 }, 4] }));
    expect([u.code, u.message]).toEqual([
      "usage.shape",
      "one dimension can stay symbolic per build, and a batch beside it (the first dimension of every input that has it); --shape marks x[1], z[1], which the graph does not name as one",
    ]);
  });
});
