// One ONNX artifact for any sequence length up to a maximum (`--shape input_ids=1x?16`, issue 24):
// the shared DistilBERT built once runs at 1, 2, 5 and 16 tokens and gives ONNX Runtime's outputs
// at each; the interpreter gives what a build at that fixed length gives; a length past the maximum
// is refused; graphs whose structure changes with the length are refused by name.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { loadOnnx } from "../../compiler/frontends/onnx/index.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { load } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import type { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { bertTokenizerJson } from "../helpers/hf-tokenizers.js";
import { withOutput } from "../helpers/onnx-edit.js";
import { int64, writeGraph, type Attr, type Const, type NodeSpec } from "../helpers/onnx-model.js";
import { randomF32 } from "../helpers/random.js";
import { sharedPath } from "../helpers/shared.js";
import { nodeWebgpu } from "../helpers/webgpu.js";

const gpu = await nodeWebgpu();
const w = (dims: number[], seed: number): Const => ({ dims, floats: Array.from(randomF32(dims[0] * dims[1], seed)) });
const node = (op: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}): NodeSpec => ({
  op,
  name: output,
  inputs,
  outputs: [output],
  attrs,
});
/** x [1, T, 4] float in, the nodes, the outputs, as an ONNX file in a temporary directory. */
const graphFile = (nodes: NodeSpec[], constants: Record<string, Const>, outputs: string[], name = "g") =>
  writeGraph({ name, opset: 13, nodes, constants, inputs: { x: [1, "T", 4] }, outputs }, `${name}.onnx`);

const DISTILBERT = sharedPath("onnx/bert_distilbert_tiny_hf_pt110");
const file = () => join(DISTILBERT!, "model.onnx");

/** Ids below `vocab` and a mask whose last token is padding (except for one token), at T tokens. */
function feeds(T: number, vocab = 100) {
  return {
    input_ids: BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 37 + 5) % vocab)),
    attention_mask: BigInt64Array.from({ length: T }, (_, i) => (i < T - 1 || T === 1 ? 1n : 0n)),
  };
}

describe.skipIf(!DISTILBERT)("an ONNX encoder built for any length up to a maximum (../shared/onnx/bert_distilbert_tiny_hf_pt110)", () => {
  // The shared encoders with a sequence dimension, each built once for lengths up to `max`, on both wasm targets.
  const ENCODERS = [
    { dir: "bert_distilbert_tiny_hf_pt110", file: "model.onnx", dim: "sequence", max: 16, vocab: 100 },
    { dir: "seq2seq_nn_transformer_pt113", file: "encoder/model.onnx", dim: "tokens", max: 12, vocab: 50 },
  ];
  /** Every output of the artifact within 1e-5 of ONNX Runtime's at 1, 2, 5 and the maximum tokens. */
  async function expectOrtOutputs(
    artifact: Model,
    session: import("onnxruntime-node").InferenceSession,
    e: (typeof ENCODERS)[number],
    target: string,
  ): Promise<void> {
    const ort = await import("onnxruntime-node");
    for (const T of [1, 2, 5, e.max]) {
      const f = feeds(T, e.vocab);
      const got = await artifact.run(f);
      const want = await session.run({
        input_ids: new ort.Tensor("int64", f.input_ids, [1, T]),
        attention_mask: new ort.Tensor("int64", f.attention_mask, [1, T]),
      });
      for (const name of session.outputNames) {
        const g = got[name] as Float32Array,
          w = want[name].data as Float32Array;
        expect(g.length, `${name} at ${T}`).toBe(w.length);
        for (let i = 0; i < w.length; i++) expect(Math.abs(g[i] - w[i]), `${target}: ${name}[${i}] at ${T} tokens`).toBeLessThan(1e-5);
      }
    }
  }

  for (const e of ENCODERS)
    it.skipIf(!sharedPath(`onnx/${e.dir}`))(
      `${e.dir}: built once with --shape input_ids=1x?${e.max}, gives ONNX Runtime's outputs at 1, 2, 5 and ${e.max} tokens (wasm-simd and wasm)`,
      async () => {
        const model = join(sharedPath(`onnx/${e.dir}`)!, e.file);
        const ort = await import("onnxruntime-node");
        const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
        for (const target of ["wasm-simd", "wasm"] as const) {
          const out = join(await tmpDir(), "artifact");
          const report = await build({ model, target, out, shapes: { input_ids: [1, { max: e.max }] } });
          expect(report.notes).toContain(`input_ids's dimension 1 ("${e.dim}") stays symbolic (T), from 1 to ${e.max}`);
          const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
          expect(manifest.inputs.map((i: { shape: unknown }) => i.shape)).toEqual([
            [1, "T"],
            [1, "T"],
          ]);
          expect(manifest.dims).toEqual({ T: { max: e.max } });
          const artifact = await load(out, { webgpu: false });
          await expectOrtOutputs(artifact, session, e, target);
          const error = await rejectsSeec(() => artifact.run(feeds(e.max + 1, e.vocab)));
          expect([error.code, error.message]).toEqual([
            "runtime.input",
            `input "input_ids" has ${e.max + 1} elements; shape [1, T] allows 1 to ${e.max} × 1`,
          ]);
          artifact.dispose();
        }
      },
      120_000,
    );

  for (const e of ENCODERS)
    it.skipIf(!sharedPath(`onnx/${e.dir}`) || !gpu.adapter)(
      `${e.dir}: on WebGPU too (Node, ${gpu.adapter ?? gpu.reason}): kernels sized by the call's T give ONNX Runtime's outputs at 1, 2, 5 and ${e.max} tokens`,
      async () => {
        const model = join(sharedPath(`onnx/${e.dir}`)!, e.file);
        const ort = await import("onnxruntime-node");
        const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
        const out = join(await tmpDir(), "artifact");
        await build({ model, target: "webgpu", out, shapes: { input_ids: [1, { max: e.max }] } });
        const artifact = await load(out);
        expect(artifact.backend).toBe("webgpu");
        await expectOrtOutputs(artifact, session, e, "webgpu");
        artifact.dispose();
      },
      120_000,
    );

  it("embed(): each text runs at its own length, and the masked mean matches ONNX Runtime's on the unpadded ids", async () => {
    const work = await tmpDir();
    const tokenizer = join(work, "tokenizer.json");
    writeFileSync(tokenizer, JSON.stringify(bertTokenizerJson()));
    const encoder = join(work, "model.onnx");
    writeFileSync(encoder, withOutput(readFileSync(file()), "294", "last_hidden_state", ["batch", "sequence", 2]));
    const out = join(work, "artifact");
    await build({ model: encoder, tokenizer, target: "wasm-simd", out, shapes: { input_ids: [1, { max: 32 }] }, pooling: "mean" });
    const model = await load(out, { webgpu: false });
    const texts = [
      "A man is playing the cello.",
      "",
      "hi",
      "This one is long enough to be cut at thirty-two word pieces, as the build's maximum says it must be.",
    ];
    const vectors = await model.embed(texts);
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(encoder, { intraOpNumThreads: 1 });
    for (const [i, text] of texts.entries()) {
      const ids = (model.tokenizer as HfTokenizer).encode(text, { maxLength: 32 });
      const tensor = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
      const r = await session.run({ input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)) });
      const hidden = r.last_hidden_state.data as Float32Array;
      const mean = [0, 1].map((j) => ids.reduce((a, _, t) => a + hidden[2 * t + j], 0) / ids.length);
      expect(ids.length <= 32).toBe(true);
      mean.forEach((x, j) => expect(Math.abs(vectors[i][j] - x), `${text} [${j}]`).toBeLessThan(1e-5));
    }
    // run() itself takes 1 to 32 tokens: no call of none.
    const none = await rejectsSeec(() => model.run({ input_ids: new BigInt64Array(0), attention_mask: new BigInt64Array(0) }));
    expect([none.code, none.message]).toEqual(["runtime.input", 'input "input_ids" has 0 elements; shape [1, T] allows 1 to 32 × 1']);
    model.dispose();
  }, 120_000);

  it("runs what attention fusion leaves over T (MatMul, Softmax, ReduceMean, ReduceMax, Concat, Transpose of [1, T, T]) at every length, as ONNX Runtime does, on wasm-simd and WebGPU", async () => {
    // x [1, T, 4]: scores = (x·Wq)(x·Wk)ᵀ [1, T, T] with a bias over the keys' axis, softmax over the
    // queries' axis (not attention's), then the softmax times x, its mean over T, and a Concat of two [1, T, 4].
    const onnxFile = await graphFile(
      [
        node("MatMul", ["x", "Wq"], "q"),
        node("MatMul", ["x", "Wk"], "k"),
        node("Transpose", ["k"], "kt", { perm: [0, 2, 1] }),
        node("MatMul", ["q", "kt"], "s"),
        node("Softmax", ["s"], "p", { axis: 1 }),
        node("MatMul", ["p", "x"], "y"),
        node("ReduceMean", ["y"], "m", { axes: [1], keepdims: 1 }),
        node("ReduceMax", ["p"], "ps", { axes: [2], keepdims: 0 }),
        node("Concat", ["y", "x"], "c", { axis: 2 }),
      ],
      { Wq: w([4, 4], 1), Wk: w([4, 4], 2) },
      ["p", "m", "ps", "c"],
      "unfused",
    );
    const work = await tmpDir();
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(onnxFile, { intraOpNumThreads: 1 });
    // WebGPU where Node has an adapter: its kernels' thread counts follow T², as [1, T, T] does.
    for (const target of ["wasm-simd", ...(gpu.adapter ? (["webgpu"] as const) : [])] as const) {
      const out = join(work, target);
      await build({ model: onnxFile, target, out, shapes: { x: [1, { max: 9 }, 4] } });
      const artifact = await load(out, { webgpu: target === "webgpu" });
      expect(artifact.backend).toBe(target);
      for (const T of [1, 2, 6, 9]) {
        const x = randomF32(T * 4, 10 + T);
        const got = await artifact.run({ x });
        const want = await session.run({ x: new ort.Tensor("float32", x, [1, T, 4]) });
        for (const name of ["p", "m", "ps", "c"]) {
          const g = got[name] as Float32Array,
            v = want[name].data as Float32Array;
          expect(g.length, `${name} at ${T}`).toBe(v.length);
          for (let i = 0; i < v.length; i++) expect(Math.abs(g[i] - v[i]), `${target}: ${name}[${i}] at ${T} tokens`).toBeLessThan(1e-5);
        }
      }
      artifact.dispose();
    }
  }, 60_000);

  it("refuses, naming why, a graph that holds from 2 tokens up but not at 1 (the last two tokens, the token at index 1)", async () => {
    const out = join(await tmpDir(), "artifact");
    const lastTwo = await graphFile(
      [node("Slice", ["x", "starts", "ends", "axes"], "y")],
      { starts: int64([1], [-2]), ends: int64([1], [1 << 30]), axes: int64([1], [1]) },
      ["y"],
    );
    const e1 = await rejectsSeec(() => build({ model: lastTwo, target: "wasm-simd", out, shapes: { x: [1, { max: 8 }, 4] } }));
    expect(e1.code).toBe("unsupported.dynamic_shape");
    expect(e1.message).toBe(
      `x's dimension 1 ("T") cannot stay symbolic: attribute shape[1] is 2 at 8, 2 at 7, 2 at 6, 2 at 2, 1 at 1: not a polynomial of degree 2 or less in the length`,
    );
    expect(e1.at).toMatch(/^node y#\d+ \(Copy\)$/);
    const second = await graphFile([node("Gather", ["x", "one"], "y", { axis: 1 })], { one: int64([], [1]) }, ["y"]);
    const e2 = await rejectsSeec(() => build({ model: second, target: "wasm-simd", out, shapes: { x: [1, { max: 8 }, 4] } }));
    expect(e2.code).toBe("unsupported.dynamic_shape");
    expect(e2.message).toMatch(/^x's dimension 1 \("T"\) cannot stay symbolic: at 1 token, /);
  });

  it("refuses an input bound to a number on the dimension another keeps symbolic", async () => {
    const out = join(await tmpDir(), "artifact");
    const e = await rejectsSeec(() =>
      build({ model: file(), target: "wasm-simd", out, shapes: { input_ids: [1, { max: 16 }], attention_mask: [1, 16] } }),
    );
    expect([e.code, e.message]).toEqual([
      "usage.shape",
      '--shape attention_mask: dimension 1 is "sequence", which input_ids keeps symbolic: write it ?16 too, or leave attention_mask out',
    ]);
  });

  it("lowers to one IR graph whose interpreter gives, at each length, what a build at that fixed length gives", async () => {
    const dynamic = (await loadOnnx(file(), "m", { input_ids: [1, { max: 16 }] })).graph;
    expect(dynamic.dims).toEqual({ T: { max: 16 } });
    for (const T of [1, 3, 16]) {
      const fixed = (await loadOnnx(file(), "m", { input_ids: [1, T] })).graph;
      const f = feeds(T);
      const ids = Int32Array.from(f.input_ids, Number),
        mask = Int32Array.from(f.attention_mask, Number);
      const a = new Interpreter(dynamic).run({ input_ids: ids, attention_mask: mask });
      const b = new Interpreter(fixed).run({ input_ids: ids, attention_mask: mask });
      for (const o of dynamic.outputs) expect(Array.from(a[o].data), `${o} at ${T}`).toEqual(Array.from(b[o].data));
    }
  });

  it("refuses two maxima for one dimension, and a maximum below 5", async () => {
    const out = join(await tmpDir(), "artifact");
    const cases: [Record<string, (number | { max: number })[]>, string, RegExp][] = [
      [{ input_ids: [1, { max: 8 }], attention_mask: [1, { max: 16 }] }, "usage.shape", /must have one maximum/],
      [{ input_ids: [1, { max: 4 }] }, "usage.shape", /maximum must be at least 5/],
    ];
    for (const [shapes, code, message] of cases) {
      const e = await rejectsSeec(() => build({ model: file(), target: "wasm-simd", out, shapes }));
      expect(e.code, JSON.stringify(shapes)).toBe(code);
      expect(e.message).toMatch(message);
    }
  });
});
