// embed() of an ONNX encoder built with --pooling: the shared DistilBERT (Optimum's test export,
// bert-base-uncased's 30,522-token vocabulary) with bert-base-uncased's tokenizer.json, its last
// hidden state exposed as an output (as Optimum's feature-extraction export has it). Each text's
// vector equals, within 1e-4, the same pooling over ONNX Runtime's outputs for the same token ids,
// run unpadded: the artifact pads every text to its built length and masks the padding.
// DistilBERT here has a hidden size of 2, so each layer norm maps a token's row to about ±(1, −1):
// padding moves its hidden state by less than 1e-5 even unmasked. This graph checks the pooling
// (which rows are averaged, which is taken), not attention masking, which it cannot show.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import type { Model } from "../../runtime/model.js";
import type { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { bertTokenizerJson } from "../helpers/hf-tokenizers.js";
import { withOutput } from "../helpers/onnx-edit.js";
import { sharedPath } from "../helpers/shared.js";

const DISTILBERT = sharedPath("onnx/bert_distilbert_tiny_hf_pt110/model.onnx");
const STSB = sharedPath("eval/stsb/dev.tsv");
/** Tokens a text may have in the artifacts built here (the texts below include longer ones, cut to it). */
const LENGTH = 32;
const TOLERANCE = 1e-4;

/** STS-B dev's first sentences where the shared data has them, and texts of every kind besides. */
function texts(): string[] {
  const own = [
    "A man is playing the cello.",
    "",
    "Café naïve résumé — déjà vu in Zürich, 日本語 and 🎉.",
    "This sentence is long enough to be cut: it has many more than thirty-two word pieces, so the artifact " +
      "truncates it to its built length, keeping the [SEP] at the end as Hugging Face's truncation does.",
  ];
  if (!STSB) return own;
  const rows = readFileSync(STSB, "utf8").split("\n").slice(1, 21);
  return [...own, ...rows.map((r) => r.split("\t")[5]).filter(Boolean)];
}

describe.skipIf(!DISTILBERT)("embed() of an ONNX encoder against ONNX Runtime", () => {
  let work: string, encoder: string, tokenizer: string;
  let ort: typeof import("onnxruntime-node");
  let session: import("onnxruntime-node").InferenceSession;

  beforeAll(async () => {
    work = await tmpDir();
    tokenizer = join(work, "tokenizer.json");
    writeFileSync(tokenizer, JSON.stringify(bertTokenizerJson()));
    // "294": the last layer norm's output, [batch, sequence, 2], which the classifier head reads at [CLS].
    encoder = join(work, "model.onnx");
    writeFileSync(encoder, withOutput(readFileSync(DISTILBERT!), "294", "last_hidden_state", ["batch", "sequence", 2]));
    ort = await import("onnxruntime-node");
    session = await ort.InferenceSession.create(encoder, { intraOpNumThreads: 1 });
  }, 60_000);

  /** ONNX Runtime's outputs for the ids, unpadded (or with `mask`), as a 1-text batch. */
  async function reference(ids: number[], mask = ids.map(() => 1)) {
    const tensor = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const r = await session.run({ input_ids: tensor(ids), attention_mask: tensor(mask) });
    return { hidden: r.last_hidden_state.data as Float32Array, logits: r.logits.data as Float32Array };
  }

  /** The largest difference between the artifact's vectors and `want` over the texts. */
  async function worst(model: Model, want: (ids: number[], r: Awaited<ReturnType<typeof reference>>) => number[]): Promise<number> {
    const all = texts();
    const vectors = await model.embed(all);
    let worst = 0;
    for (const [i, text] of all.entries()) {
      const ids = (model.tokenizer as HfTokenizer).encode(text, { maxLength: LENGTH });
      const expected = want(ids, await reference(ids));
      expect(vectors[i].length, text).toBe(expected.length);
      expected.forEach((x, j) => (worst = Math.max(worst, Math.abs(vectors[i][j] - x))));
    }
    return worst;
  }

  const mean = (ids: number[], hidden: Float32Array) => [0, 1].map((j) => ids.reduce((a, _, t) => a + hidden[2 * t + j], 0) / ids.length);
  const unit = (v: number[]) => v.map((x) => x / Math.max(Math.hypot(...v), 1e-12));

  it("--pooling mean --normalize: the masked mean of the last hidden state, unit length", async () => {
    const out = join(work, "mean");
    const r = await seec(
      "build",
      encoder,
      "--tokenizer",
      tokenizer,
      "--shape",
      `input_ids=1x${LENGTH}`,
      "--pooling",
      "mean",
      "--normalize",
      "-o",
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.model.family).toBe("encoder");
    expect(manifest.model.config.maxLength).toBe(LENGTH);
    expect(manifest.model.embedding).toEqual({ output: "last_hidden_state", pooling: "mean", normalize: true });
    const model = await loadWasm(out);
    // The long text is cut to the built length and still ends with [SEP].
    const long = (model.tokenizer as HfTokenizer).encode(texts()[3], { maxLength: LENGTH });
    expect([long.length, long.at(-1)]).toEqual([LENGTH, 102]);
    const d = await worst(model, (ids, { hidden }) => unit(mean(ids, hidden)));
    console.log(`DistilBERT mean+normalize embed() vs ONNX Runtime: largest difference ${d.toExponential(2)} over ${texts().length} texts`);
    expect(d).toBeLessThan(TOLERANCE);
    // What the comparison catches: the mean over the padding rows too would be another vector.
    const text = texts()[0];
    const ids = (model.tokenizer as HfTokenizer).encode(text);
    const padded = Array.from({ length: LENGTH }, (_, i) => ids[i] ?? 0);
    const { hidden } = await reference(
      padded,
      padded.map((_, i) => (i < ids.length ? 1 : 0)),
    );
    const unmasked = unit(mean(padded, hidden));
    const [vector] = await model.embed([text]);
    expect(Math.max(...unmasked.map((x, j) => Math.abs(x - vector[j])))).toBeGreaterThan(1e-2);
  }, 120_000);

  it("--pooling cls: the first row; --pooling none: a pooled output as it is, or else the text's rows", async () => {
    const cls = join(work, "cls");
    await build({ model: encoder, tokenizer, target: "wasm-simd", out: cls, shapes: { input_ids: [1, LENGTH] }, pooling: "cls" });
    const d = await worst(await loadWasm(cls), (_, { hidden }) => [hidden[0], hidden[1]]);
    console.log(`DistilBERT cls embed() vs ONNX Runtime: largest difference ${d.toExponential(2)}`);
    expect(d).toBeLessThan(TOLERANCE);

    const pooled = join(work, "pooled");
    await build({ model: DISTILBERT!, tokenizer, target: "wasm-simd", out: pooled, shapes: { input_ids: [1, LENGTH] }, pooling: "none" });
    const manifest = JSON.parse(readFileSync(join(pooled, "manifest.json"), "utf8"));
    expect(manifest.model.embedding).toEqual({ output: "logits", pooling: "none", normalize: false });
    const p = await worst(await loadWasm(pooled), (_, { logits }) => Array.from(logits));
    console.log(`DistilBERT classifier output through embed() vs ONNX Runtime: largest difference ${p.toExponential(2)}`);
    expect(p).toBeLessThan(TOLERANCE);

    // --pooling none on a graph whose only output is the hidden state: the text's rows, each unit length.
    const hiddenOnly = join(work, "hidden-only.onnx");
    writeFileSync(hiddenOnly, withOutput(readFileSync(DISTILBERT!), "294", "last_hidden_state", ["batch", "sequence", 2], { only: true }));
    const rows = join(work, "rows");
    await build({
      model: hiddenOnly,
      tokenizer,
      target: "wasm-simd",
      out: rows,
      shapes: { input_ids: [1, LENGTH] },
      pooling: "none",
      normalize: true,
    });
    const r = await worst(await loadWasm(rows), (ids, { hidden }) => ids.flatMap((_, t) => unit([hidden[2 * t], hidden[2 * t + 1]])));
    console.log(`DistilBERT unpooled normalized rows through embed() vs ONNX Runtime: largest difference ${r.toExponential(2)}`);
    expect(r).toBeLessThan(TOLERANCE);
  }, 120_000);

  it("refuses what embed() cannot do, naming the flag", async () => {
    const opts = { model: encoder, tokenizer, target: "wasm-simd" as const, out: join(work, "bad"), shapes: { input_ids: [1, LENGTH] } };
    const cases: [Partial<Parameters<typeof build>[0]>, string, string, string][] = [
      [{ model: DISTILBERT!, pooling: "mean" }, "usage.pooling", "--pooling", "--pooling none takes the pooled output logits"],
      [{ tokenizer: undefined, pooling: "mean" }, "usage.tokenizer", "--tokenizer", "needs its tokenizer.json"],
      [{ normalize: true }, "usage.pooling", "--normalize", "--normalize scales the vector --pooling makes"],
      [{ shapes: {}, pooling: "mean" }, "usage.pooling", "--shape", "no room for a text"],
      [{ shapes: { input_ids: [2, LENGTH] }, pooling: "mean" }, "usage.pooling", "--shape", "one text a call"],
    ];
    for (const [change, code, at, text] of cases) {
      const e = await rejectsSeec(() => build({ ...opts, ...change }));
      expect([e.code, e.at], text).toEqual([code, at]);
      expect(`${e.message} ${e.hint}`).toContain(text);
    }
  }, 60_000);

  it("reads model.embedding only once checked: a tampered one is input.manifest naming the field", async () => {
    const out = join(work, "tampered");
    await build({ model: encoder, tokenizer, target: "wasm-simd", out, shapes: { input_ids: [1, LENGTH] }, pooling: "mean" });
    const file = join(out, "manifest.json");
    const manifest = JSON.parse(readFileSync(file, "utf8"));
    for (const [field, value] of [
      ["pooling", "max"],
      ["normalize", "yes"],
      ["output", "no_such_output"],
    ] as const) {
      writeFileSync(
        file,
        JSON.stringify({ ...manifest, model: { ...manifest.model, embedding: { ...manifest.model.embedding, [field]: value } } }),
      );
      const model = await loadWasm(out);
      const e = await rejectsSeec(() => model.embed(["a text"]));
      expect([e.code, e.at]).toEqual(["input.manifest", `model.embedding.${field}`]);
    }
  }, 60_000);

  it.skipIf(!STSB)(
    "seec build --stsb, seec eval --stsb and seec run --text take texts through the artifact's tokenizer",
    async () => {
      const out = join(work, "cli");
      const shape = `input_ids=1x${LENGTH}`;
      const built = await seec(
        "build",
        encoder,
        "--tokenizer",
        tokenizer,
        "--shape",
        shape,
        "--pooling",
        "mean",
        "--stsb",
        STSB!,
        "--limit",
        "50",
        "-o",
        out,
      );
      expect(built.code, built.stderr).toBe(0);
      const scored = built.stdout.match(/quality: STS-B Spearman (-?[\d.]+) over 50 pairs/);
      expect(scored, built.stdout).not.toBeNull();
      const evaluated = await seec("eval", out, "--stsb", STSB!, "--limit", "50");
      expect(evaluated.code, evaluated.stderr).toBe(0);
      expect(evaluated.stdout.trim()).toBe(Number(scored![1]).toFixed(4));
      console.log(
        `DistilBERT (hidden size 2: a test export, not a trained encoder) STS-B dev Spearman over 50 pairs: ${evaluated.stdout.trim()}`,
      );

      const texts = ["A man is playing the cello.", "Someone plays music."];
      const run = await seec("run", out, "--json", ...texts.flatMap((t) => ["--text", t]));
      expect(run.code, run.stderr).toBe(0);
      const { embeddings } = JSON.parse(run.stdout) as { embeddings: number[][] };
      const model = await loadWasm(out);
      expect(embeddings).toEqual((await model.embed(texts)).map((v) => Array.from(v)));

      // A graph built without --pooling takes named tensors, not text: said so, not a generation error.
      const plain = join(work, "cli-graph");
      await build({ model: encoder, tokenizer, target: "wasm-simd", out: plain, shapes: { input_ids: [1, LENGTH] } });
      const refused = await seec("run", plain, "--text", "a");
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("error[usage.family]");
      expect(refused.stderr).toContain("--pooling");
    },
    180_000,
  );
});
