// ONNX decoders with a KV cache as stateful decoders (lowerOnnxDecoder: decoder-state.ts's rewrite,
// lower-decoder.ts's CachedAttention and PositionAffine, lower-contrib-llm.ts's contrib ops), run by
// the IR's reference interpreter one token a call, against onnxruntime-node's greedy loop over
// past/present: what test/frontends/onnx-decoder.test.ts checks of the wasm build, without compiling
// wasm (a few seconds), fast enough for mutation testing (docs/MUTATION.md).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lowerOnnxDecoder } from "../../compiler/frontends/onnx/index.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import {
  contribAttentionDecoder,
  gqaDecoder,
  mhaDecoder,
  onnxAttentionDecoder,
  TOKENS,
  V,
  writtenOutDecoder,
  type Past,
} from "../helpers/llm-decoders.js";
import { argmax, ortGreedy } from "../helpers/ort-greedy.js";
import { sharedPath } from "../helpers/shared.js";

const ONNX = sharedPath("onnx");

/** The interpreter's greedy loop: the prompt a token a call, then each argmax fed back. */
function irGreedy(interpreter: Interpreter, prompt: number[], steps: number) {
  const tokens = [...prompt];
  const logits: Float32Array[] = [];
  for (let pos = 0; logits.length < prompt.length + steps - 1; pos++) {
    logits.push(interpreter.run({ tokens: Int32Array.of(tokens[pos]), pos: Int32Array.of(pos) }).logits.data as Float32Array);
    if (pos + 1 >= tokens.length) tokens.push(argmax(logits.at(-1)!));
  }
  return { tokens, logits };
}

/**
 * Measured: the float32 graphs' logits are within 3.3e-7 (1 + |ORT's|) of ONNX Runtime's; the
 * float16 Llama's within 2.4e-4 (1 + |ORT's|): ORT rounds every step to half, seec computes in float32.
 */
const CASES = [
  // PyTorch 1.6's GPT-2: attention written out over Concat(past, new), 8 positions, its last hidden state (4 features) as logits.
  {
    dir: "gpt2_past_tiny_pt16",
    prompt: [1, 3, 0],
    steps: 5,
    tolerance: 1e-6,
    config: { vocabSize: 4, contextLength: 8, maxChunk: 1, nLayers: 12 },
    cache: [8, 4],
    defaultContext: 8,
    notes: [
      "--context 16 is past the 8 positions the model's tables hold; the context is 8",
      "prompts run one token a call: input_ids is [batch_size, 1]: the graph was exported for 1 token a call",
    ],
    fused: { LayerNormalization: 25, Gelu: 12 },
  },
  // ORT's transformer optimizer: com.microsoft Attention with the past stacked [2, B, N, P, H], int32 inputs.
  {
    dir: "gpt2_tiny_ort_fused_contrib",
    prompt: [5, 77, 901, 3],
    steps: 12,
    tolerance: 1e-6,
    config: { vocabSize: 1000, contextLength: 16, maxChunk: 16, nLayers: 5 },
    cache: [16, 32],
    defaultContext: 512,
    notes: [],
    fused: {},
  },
  // onnxruntime-genai's model builder: float16, GroupQueryAttention with rotary, SkipSimplifiedLayerNormalization.
  {
    dir: "llama_tiny_fp16_genai_builder",
    prompt: [1, 450, 4996, 17354],
    steps: 8,
    tolerance: 5e-4,
    config: { vocabSize: 32000, contextLength: 16, maxChunk: 16, nLayers: 2 },
    cache: [16, 16],
    defaultContext: 2048,
    notes: [],
    fused: {},
  },
];

describe.skipIf(!ONNX)("ONNX decoders as stateful IR graphs, run by the interpreter (../shared/onnx)", () => {
  it.each(CASES)("$dir: greedy logits and tokens equal onnxruntime-node's loop over past/present", async (c) => {
    const file = join(ONNX!, c.dir, "model.onnx");
    const load = lowerOnnxDecoder(await readOnnx(file), c.dir, {}, { context: 16 });
    expect(load.graph.model).toEqual({ family: "decoder", config: c.config });
    expect(load.notes).toEqual(c.notes);
    expect(load.fused).toEqual(c.fused);
    expect(load.graph.inputs).toEqual(["tokens", "pos"]);
    expect(load.graph.outputs).toEqual(["logits"]);
    const state = [...load.graph.values.values()].filter((v) => v.kind === "state");
    expect(state.map((v) => v.name)).toEqual(
      Array.from({ length: c.config.nLayers }, (_, i) => [`kv_cache.${i}.key`, `kv_cache.${i}.value`]).flat(),
    );
    for (const v of state) expect([v.dtype, v.shape]).toEqual(["f32", c.cache]);

    const ours = irGreedy(new Interpreter(load.graph), c.prompt, c.steps);
    const theirs = await ortGreedy(file, c.prompt, c.steps);
    expect(ours.logits).toHaveLength(theirs.logits.length);
    const bad: string[] = [];
    ours.logits.forEach((row, s) => {
      expect(row).toHaveLength(theirs.logits[s].length);
      row.forEach((x, i) => {
        const want = theirs.logits[s][i];
        if (!(Math.abs(x - want) <= c.tolerance * (1 + Math.abs(want)))) bad.push(`step ${s} [${i}]: ${x}, want ${want}`);
      });
    });
    expect(bad.slice(0, 5)).toEqual([]);
    expect(ours.tokens).toEqual(theirs.tokens);
  });

  it.each(CASES)("$dir: the context the model's tables give, and --context below it", async (c) => {
    const model = await readOnnx(join(ONNX!, c.dir, "model.onnx"));
    expect(lowerOnnxDecoder(model, c.dir, {}, {}).graph.model.config.contextLength).toBe(c.defaultContext);
    const small = lowerOnnxDecoder(model, c.dir, {}, { context: 4 });
    expect(small.graph.model.config.contextLength).toBe(4);
    expect(small.notes).toEqual([]);
    expect(small.graph.values.get("kv_cache.0.key")!.shape).toEqual([4, c.cache[1]]);
  });

  it("refuses a graph without input_ids, naming its inputs", async () => {
    const file = join(ONNX!, "onnx_node_tests", "test_attention_4d_causal_with_past_and_present", "model.onnx");
    const model = await readOnnx(file);
    expect(() => lowerOnnxDecoder(model, "attention", {}, {})).toThrow(
      expect.objectContaining({
        code: "unsupported.onnx_decoder",
        message: "a stateful decoder needs an input_ids input; the graph's inputs are Q, K, V, past_key, past_value",
        file,
      }),
    );
  });
});

/** Largest |seec − ONNX Runtime| / (1 + |ONNX Runtime|) over the logits of `tokens`, fed one a call to the interpreter and to ORT's loop. */
async function deviation(
  { file, pasts, withMask }: { file: string; pasts: Past[]; withMask?: boolean },
  tokens: number[],
): Promise<number> {
  const interpreter = new Interpreter(lowerOnnxDecoder(await readOnnx(file), "decoder", {}, { context: 16 }).graph);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  let past: Record<string, InstanceType<typeof ort.Tensor>> = Object.fromEntries(
    pasts.map((p) => [
      p.past,
      new ort.Tensor(
        "float32",
        new Float32Array(0),
        p.dims.map((d) => (typeof d === "number" ? d : 0)),
      ),
    ]),
  );
  let worst = 0;
  for (let pos = 0; pos < tokens.length; pos++) {
    const got = interpreter.run({ tokens: Int32Array.of(tokens[pos]), pos: Int32Array.of(pos) }).logits.data;
    const feeds = { input_ids: new ort.Tensor("int64", BigInt64Array.of(BigInt(tokens[pos])), [1, 1]), ...past };
    if (withMask) Object.assign(feeds, { attention_mask: new ort.Tensor("int64", new BigInt64Array(pos + 1).fill(1n), [1, pos + 1]) });
    const r = await session.run(feeds);
    past = Object.fromEntries(pasts.map((p) => [p.past, r[p.present]]));
    const want = r.logits.data as Float32Array;
    expect(got.length).toBe(V);
    for (let i = 0; i < V; i++)
      worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])), Number.isNaN(got[i]) ? Infinity : 0);
  }
  return worst;
}

/** lowerOnnxDecoder's refusal of `file`: unsupported.onnx_decoder, its message matching `why`, naming the file. */
async function refused(file: string, why: RegExp): Promise<void> {
  const model = await readOnnx(file);
  expect(() => lowerOnnxDecoder(model, "decoder", {}, {})).toThrow(
    expect.objectContaining({ code: "unsupported.onnx_decoder", message: expect.stringMatching(why), file }),
  );
}

describe("tiny decoders of each attention form as stateful IR graphs, against onnxruntime-node's loop", () => {
  const cases: [string, () => Promise<{ file: string; pasts: Past[]; withMask?: boolean }>, number[]][] = [
    ["MultiHeadAttention with past_key/past_value", () => mhaDecoder(false), TOKENS],
    ["GroupQueryAttention with rotary caches", () => gqaDecoder(false), [...TOKENS, ...TOKENS]],
    ["GroupQueryAttention, rotary interleaved, a scale", () => gqaDecoder(true, 0.2), [...TOKENS, ...TOKENS]],
    ["GroupQueryAttention over packed QKV", () => gqaDecoder(false, undefined, true), TOKENS],
    ["ONNX Attention (opset 23), grouped heads", () => onnxAttentionDecoder("plain"), TOKENS],
    ["ONNX Attention, a boolean attn_mask of ones", () => onnxAttentionDecoder("mask"), TOKENS],
    ["ONNX Attention, a boolean mask from Greater", () => onnxAttentionDecoder("greater"), TOKENS],
    ["ONNX Attention, Hugging Face's additive padding mask", () => onnxAttentionDecoder("additive"), TOKENS],
    ["com.microsoft Attention, stacked past, no mask_index", () => contribAttentionDecoder("none"), TOKENS],
    ["com.microsoft Attention, a 2-D mask_index", () => contribAttentionDecoder("2d"), TOKENS],
    ["com.microsoft Attention, a 1-D mask_index (the length)", () => contribAttentionDecoder("length"), TOKENS],
    ["attention written out over Concat(past, new)", () => writtenOutDecoder("none"), TOKENS],
    ["written-out attention with an additive padding mask", () => writtenOutDecoder("padding"), TOKENS],
  ];
  it.each(cases)("%s: the logits of ONNX Runtime's loop", async (what, write, tokens) => {
    const worst = await deviation(await write(), tokens);
    console.log(`${what}: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-6);
  });

  it.each([
    [
      "MultiHeadAttention with an ALiBi attention_bias",
      () => mhaDecoder(true),
      /^node mha adds a bias \(ab\) that is not causal over every earlier token/,
    ],
    [
      "ONNX Attention with a mask that hides a key",
      () => onnxAttentionDecoder("first-hidden"),
      /^node attention applies a mask \(attn_mask\) that is not causal over every earlier token/,
    ],
    [
      "com.microsoft Attention whose 1-D mask_index ends before the newest key",
      () => contribAttentionDecoder("length-1"),
      /^node attention applies a mask \(mi\) that is not causal over every earlier token/,
    ],
    [
      "ONNX Attention with a softcap",
      () => onnxAttentionDecoder("softcap"),
      /^node attention: Attention with softcap is not supported in a stateful decoder/,
    ],
    [
      "written-out attention with an ALiBi bias",
      () => writtenOutDecoder("alibi"),
      /^node .* adds a bias \(ab\) that is not causal over every earlier token/,
    ],
    [
      "written-out attention with a sliding window",
      () => writtenOutDecoder("window"),
      /applies a mask \(keep\) that is not causal over every earlier token/,
    ],
  ] as const)("refuses %s by name", async (_, write, why) => {
    await refused((await write()).file, why);
  });
});
