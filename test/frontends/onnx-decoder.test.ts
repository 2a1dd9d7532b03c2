// ONNX decoders with a KV cache built as stateful decoders (seec build --decoder): the past/present
// pairs become caches in the module's memory, the artifact takes tokens and pos as a llama2.c one,
// and its greedy generation equals a greedy loop in onnxruntime-node that feeds past/present back
// step by step, with the logits at every step within 1e-4 absolute or 1e-3 relative (one float16
// step of the logits' scale for the float16 graph, as test/frontends/onnx-build.test.ts allows).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { halfToFloat, floatToHalf } from "../../compiler/util/float16.js";
import type { Model } from "../../runtime/model.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { sharedPath } from "../helpers/shared.js";

const ONNX = sharedPath("onnx");
const why = "../shared/onnx is absent (set SEEC_SHARED to the shared folder)";

/** A greedy loop in onnxruntime-node: one token a call, past fed back from present. */
async function ortGreedy(file: string, prompt: number[], steps: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const ort = await import("onnxruntime-node");
  const model = await readOnnx(file);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const pasts = model.inputs.filter((i) => i.name !== "input_ids" && i.name !== "attention_mask" && i.name !== "position_ids");
  const presentOf = (past: string) =>
    past.startsWith("past_key_values.") ? past.replace("past_key_values.", "present.") : past.replace("past_", "present_");
  const fp16 = (i: { elementType: string }) => i.elementType === "float16";
  let cache: Map<string, InstanceType<typeof ort.Tensor>> = new Map(
    pasts.map((p) => {
      const dims = p.dims.map((d) => (typeof d === "number" ? d : /batch/.test(d) ? 1 : 0));
      return [p.name, new ort.Tensor(fp16(p) ? "float16" : "float32", fp16(p) ? new Uint16Array(0) : new Float32Array(0), dims)];
    }),
  );
  const tokens = [...prompt];
  const logits: Float32Array[] = [];
  const names = new Set(model.inputs.map((i) => i.name));
  for (let pos = 0; logits.length < prompt.length + steps - 1; pos++) {
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = Object.fromEntries(cache);
    feeds.input_ids = new ort.Tensor("int64", BigInt64Array.of(BigInt(tokens[pos])), [1, 1]);
    if (names.has("attention_mask")) feeds.attention_mask = new ort.Tensor("int64", new BigInt64Array(pos + 1).fill(1n), [1, pos + 1]);
    if (names.has("position_ids")) feeds.position_ids = new ort.Tensor("int64", BigInt64Array.of(BigInt(pos)), [1, 1]);
    const out = await session.run(feeds);
    const first = out[model.outputs[0].name];
    const row = first.type === "float16" ? Float32Array.from(first.data as Uint16Array, halfToFloat) : (first.data as Float32Array);
    logits.push(row.slice(row.length - first.dims.at(-1)!));
    cache = new Map(pasts.map((p) => [p.name, out[presentOf(p.name)]]));
    if (pos + 1 >= tokens.length) tokens.push(argmax(logits.at(-1)!));
  }
  return { tokens, logits };
}

function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** seec's greedy loop through step(): the prompt in one call (one token a chunk inside), then a token a call. */
async function seecGreedy(model: Model, prompt: number[], steps: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const tokens = [...prompt];
  const logits: Float32Array[] = [];
  for (let i = 0; i < prompt.length; i++) logits.push(await model.step([prompt[i]], i));
  while (tokens.length < prompt.length + steps) {
    tokens.push(argmax(logits.at(-1)!));
    if (tokens.length < prompt.length + steps) logits.push(await model.step([tokens.at(-1)!], tokens.length - 1));
  }
  return { tokens, logits };
}

function worstDeviation(a: Float32Array[], b: Float32Array[], tolerance: (want: number) => number): { worst: number; bad: number } {
  let worst = 0,
    bad = 0;
  a.forEach((row, s) =>
    row.forEach((x, i) => {
      const d = Math.abs(x - b[s][i]);
      worst = Math.max(worst, d);
      if (d > tolerance(b[s][i])) bad++;
    }),
  );
  return { worst, bad };
}

// The shrunk GPT-2 has 8 positions (its wpe table) and outputs its last hidden state (4 features) in place of
// logits: its "tokens" are ids 0..3 and it generates up to its whole context.
const CASES = [
  { dir: "gpt2_past_tiny_pt16", prompt: [1, 3, 0], steps: 5, half: false },
  { dir: "llama_tiny_fp16_genai_builder", prompt: [1, 450, 4996, 17354, 1701, 432, 29889, 13], steps: 20, half: true },
];

describe.skipIf(!ONNX)(`ONNX decoders built with --decoder (skipped when ${why})`, () => {
  for (const { dir, prompt, steps, half } of CASES)
    it(`${dir}: greedy generation equals onnxruntime-node's loop over past/present`, async () => {
      const file = join(ONNX!, dir, "model.onnx");
      const out = join(await tmpDir(), dir);
      const built = await build({ model: file, target: "wasm-simd", out, decoder: true, context: 64 });
      expect(built.manifest.model.family).toBe("decoder");
      const model = await loadWasm(out);
      const ours = await seecGreedy(model, prompt, steps);
      const theirs = await ortGreedy(file, prompt, steps);
      const scale = theirs.logits.reduce((m, r) => r.reduce((a, x) => Math.max(a, Math.abs(x)), m), 0);
      const halfStep = half ? 4 * Math.abs(halfToFloat(floatToHalf(scale) + 1) - scale) : 0;
      const { worst, bad } = worstDeviation(ours.logits, theirs.logits, (w) => Math.max(1e-4, 1e-3 * Math.abs(w), halfStep));
      console.log(
        `${dir}: ${ours.logits.length} steps, largest logit deviation from ONNX Runtime ${worst.toExponential(2)} (logits up to ${scale.toExponential(2)})`,
      );
      expect(bad).toBe(0);
      expect(ours.tokens).toEqual(theirs.tokens);
    }, 120_000);

  it("a prompt in one step() call (one token a chunk inside) gives the logits of token-by-token calls", async () => {
    const file = join(ONNX!, "llama_tiny_fp16_genai_builder", "model.onnx");
    const out = join(await tmpDir(), "llama");
    await build({ model: file, target: "wasm-simd", out, decoder: true, context: 32 });
    const model = await loadWasm(out);
    const prompt = [1, 450, 4996, 17354, 1701, 432];
    const whole = await model.step(prompt, 0);
    let last: Float32Array = new Float32Array(0);
    for (let i = 0; i < prompt.length; i++) last = await model.step([prompt[i]], i);
    expect(Array.from(whole)).toEqual(Array.from(last));
  }, 120_000);

  it("generates up to the context bound, and past it is runtime.context", async () => {
    const file = join(ONNX!, "llama_tiny_fp16_genai_builder", "model.onnx");
    const out = join(await tmpDir(), "llama16");
    const built = await build({ model: file, target: "wasm-simd", out, decoder: true, context: 16 });
    expect(built.manifest.model.config.contextLength).toBe(16);
    const model = await loadWasm(out);
    const { tokens } = await seecGreedy(model, [1, 450, 4996], 13);
    expect(tokens).toHaveLength(16);
    await model.step([tokens[15]], 15);
    await expect(model.step([tokens[15]], 16)).rejects.toMatchObject({ code: "runtime.context" });
    await expect(model.step([1, 2], 15)).rejects.toThrow(/outside the context of 16 tokens/);
  }, 120_000);

  it("refuses by name a past it cannot map: com.microsoft Attention's stacked past", async () => {
    const out = join(await tmpDir(), "fused");
    const file = join(ONNX!, "gpt2_tiny_ort_fused_contrib", "model.onnx");
    await expect(build({ model: file, target: "wasm-simd", out, decoder: true })).rejects.toMatchObject({
      code: "unsupported.onnx_decoder",
      message: expect.stringMatching(/com\.microsoft:Attention\) reads a past/),
    });
    await expect(build({ model: file, target: "wasm-simd", out, decoder: true, shapes: { input_ids: [1, 1] } })).rejects.toMatchObject({
      code: "usage.shape",
    });
  }, 60_000);
});
