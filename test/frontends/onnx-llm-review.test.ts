// Review of the ONNX decoder rewrite (seec build --decoder, decoder-state.ts): a stateful decoder's
// cached attention is causal over every earlier token and adds nothing to the scores, so a graph
// whose attention adds a bias (ALiBi, relative positions) or masks other than causally must be
// refused by name, not built with the bias dropped. Tiny decoders written here with onnx-proto,
// against onnxruntime-node's loop feeding past/present back, one token a call.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
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

/** Expects the --decoder build of `file` to be refused by name (unsupported.onnx_decoder), its message matching `why`. */
async function refused(file: string, why: RegExp): Promise<void> {
  await expect(build({ model: file, target: "wasm-simd", out: join(await tmpDir(), "refused"), decoder: true })).rejects.toMatchObject({
    code: "unsupported.onnx_decoder",
    message: expect.stringMatching(why),
  });
}

/** Largest |seec − ONNX Runtime| over the logits of `tokens`, fed one a call to both. */
async function deviation(
  { file, pasts, withMask }: { file: string; pasts: Past[]; withMask?: boolean },
  tokens: number[],
): Promise<number> {
  const out = join(await tmpDir(), "artifact");
  await build({ model: file, target: "wasm-simd", out, decoder: true, context: 16 });
  const model = await loadWasm(out);
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
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
    const got = await model.step([tokens[pos]], pos);
    const feeds = { input_ids: new ort.Tensor("int64", BigInt64Array.of(BigInt(tokens[pos])), [1, 1]), ...past };
    if (withMask) Object.assign(feeds, { attention_mask: new ort.Tensor("int64", new BigInt64Array(pos + 1).fill(1n), [1, pos + 1]) });
    const r = await session.run(feeds);
    past = Object.fromEntries(pasts.map((p) => [p.past, r[p.present]]));
    const want = r.logits.data as Float32Array;
    expect(got.length).toBe(V);
    for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]), Number.isNaN(got[i]) ? Infinity : 0);
  }
  model.dispose();
  return worst;
}

describe("ONNX decoders (--decoder) whose attention adds a bias or masks other than causally", () => {
  it("MultiHeadAttention with past_key/past_value and no bias: the logits of ONNX Runtime's loop", async () => {
    const worst = await deviation(await mhaDecoder(false), TOKENS);
    console.log(`MultiHeadAttention decoder, ${TOKENS.length} steps: max logit error ${worst}`);
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);

  it("MultiHeadAttention with an ALiBi attention_bias is refused by name, not built with the bias dropped", async () => {
    // Before: it built, and its logits were 0.48 off ONNX Runtime's.
    const { file } = await mhaDecoder(true);
    await refused(file, /node mha adds a bias \(ab\) that is not causal over every earlier token/);
  }, 60_000);

  for (const [interleaved, scale] of [
    [false, undefined],
    [true, 0.2],
  ] as const)
    it(`GroupQueryAttention, rotary${interleaved ? " interleaved" : ""}${scale ? ", a scale" : ""}: the logits of ONNX Runtime's loop`, async () => {
      const worst = await deviation(await gqaDecoder(interleaved, scale), [...TOKENS, ...TOKENS]);
      console.log(
        `GroupQueryAttention decoder${interleaved ? " (interleaved)" : ""}, ${2 * TOKENS.length} steps: max logit error ${worst}`,
      );
      expect(worst).toBeLessThan(1e-4);
    }, 60_000);

  for (const variant of ["plain", "mask"] as const)
    it(`ONNX Attention (opset 23), grouped heads${variant === "mask" ? ", a boolean attn_mask of ones" : ""}: the logits of ONNX Runtime's loop`, async () => {
      const worst = await deviation(await onnxAttentionDecoder(variant), [...TOKENS, ...TOKENS]);
      console.log(`ONNX Attention decoder (${variant}), ${2 * TOKENS.length} steps: max logit error ${worst}`);
      expect(worst).toBeLessThan(1e-4);
    }, 60_000);

  for (const variant of ["greater", "additive"] as const)
    it(`ONNX Attention with ${variant === "greater" ? "a boolean mask from Greater" : "Hugging Face's additive padding mask"}: it drops out, the logits of ONNX Runtime's loop`, async () => {
      expect(await deviation(await onnxAttentionDecoder(variant), TOKENS)).toBeLessThan(1e-4);
    }, 60_000);

  it("ONNX Attention with a boolean mask that hides a key is refused by name, not dropped", async () => {
    const { file } = await onnxAttentionDecoder("first-hidden");
    await refused(file, /node attention applies a mask \(attn_mask\) that is not causal over every earlier token/);
  }, 60_000);

  for (const maskIndex of ["none", "2d", "length"] as const)
    it(`com.microsoft Attention, stacked past, mask_index ${maskIndex}: the logits of ONNX Runtime's loop`, async () => {
      const worst = await deviation(await contribAttentionDecoder(maskIndex), TOKENS);
      console.log(`com.microsoft Attention decoder (mask_index ${maskIndex}), ${TOKENS.length} steps: max logit error ${worst}`);
      expect(worst).toBeLessThan(1e-4);
    }, 60_000);

  it("com.microsoft Attention whose 1-D mask_index ends before the newest key is refused by name", async () => {
    // Before: it built, its logits 0.48 off ONNX Runtime's (a length read as a keep-flag).
    const { file } = await contribAttentionDecoder("length-1");
    await refused(file, /node attention applies a mask \(mi\) that is not causal over every earlier token/);
  }, 60_000);

  it("ONNX Attention with a softcap is refused by name", async () => {
    const { file } = await onnxAttentionDecoder("softcap");
    await refused(file, /node attention: Attention with softcap is not supported in a stateful decoder/);
  }, 60_000);

  it("attention written out over Concat(past, new): the logits of ONNX Runtime's loop", async () => {
    const worst = await deviation(await writtenOutDecoder("none"), TOKENS);
    console.log(`written-out decoder, ${TOKENS.length} steps: max logit error ${worst}`);
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);

  it("written-out attention with Hugging Face's additive padding mask: it drops out, the logits of ONNX Runtime's loop", async () => {
    const worst = await deviation(await writtenOutDecoder("padding"), TOKENS);
    console.log(`written-out decoder with a padding mask, ${TOKENS.length} steps: max logit error ${worst}`);
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);

  for (const [mask, what] of [
    ["alibi", /adds a bias \(ab\) that is not causal over every earlier token/],
    ["window", /applies a mask \(keep\) that is not causal over every earlier token/],
  ] as const)
    it(`written-out attention with ${mask === "alibi" ? "an ALiBi bias added" : "a sliding window (Where)"} is refused by name`, async () => {
      const { file } = await writtenOutDecoder(mask);
      await refused(file, what);
    }, 60_000);
});
