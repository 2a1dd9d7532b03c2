// runPasses: the passes a target names run in the order named, each on the graph the one before it
// returned, and packTexts takes its batch from the build's options (DEFAULT_BATCH texts without one,
// room for the model's longest text at least).
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { fuseEpilogues } from "../../compiler/passes/fuse-epilogues.js";
import { DEFAULT_BATCH, packOptions, packTexts, TOKENS_PER_TEXT } from "../../compiler/passes/pack-texts.js";
import { poolEarly } from "../../compiler/passes/pool-early.js";
import { runPasses, TARGET_PASSES } from "../../compiler/passes/index.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { rowSums } from "../../compiler/passes/row-sums.js";
import { layoutWeights } from "../../compiler/passes/weight-layout.js";
import { randomF32 } from "../helpers/random.js";

/** tokens [T] → Gather → Relu(Linear(·, w1, b1)) → Linear(·, w2, b2) → MeanRows: an encoder every pass changes. */
function encoder(maxLength: number | null = 6): Graph {
  const b = new GraphBuilder("enc", { family: "encoder", config: maxLength === null ? {} : { maxLength } });
  b.dim("T", maxLength ?? 6);
  const w = (name: string, n: number, k: number, seed: number) => b.constant(name, randomF32(n * k, seed), [n, k]);
  const x = b.node("Gather", "embed", [w("table", 10, 4, 1), b.input("tokens", "i32", ["T"])]);
  const h = b.node("Relu", "relu", [b.node("Linear", "l1", [x, w("w1", 5, 4, 2), b.constant("b1", randomF32(5, 3), [5])])]);
  b.output(b.node("MeanRows", "out", [b.node("Linear", "l2", [h, w("w2", 3, 5, 4), b.constant("b2", randomF32(3, 5), [3])])]));
  return b.finish();
}

const ops = (g: Graph) => g.nodes.map((n) => `${n.op} ${n.name} (${n.inputs.join(", ")}) ${JSON.stringify(n.attrs)}`);

describe("runPasses", () => {
  it("with no passes, returns the graph it was given", () => {
    const g = encoder();
    expect(runPasses(g, [])).toBe(g);
  });

  it("runs each pass as the pass itself does", () => {
    expect(runPasses(encoder(), ["poolEarly"])).toEqual(poolEarly(encoder()).graph);
    expect(ops(runPasses(encoder(), ["poolEarly"]))).toContain("MeanLinear out (relu, w2, b2) {}");
    expect(runPasses(encoder(), ["fuseEpilogues"])).toEqual(fuseEpilogues(encoder()).graph);
    expect(ops(runPasses(encoder(), ["fuseEpilogues"]))).toContain('Linear l1 (embed, w1, b1) {"activation":"relu"}');
    expect(runPasses(encoder(), ["layoutWeights"])).toEqual(layoutWeights(encoder()).graph);
    expect(runPasses(encoder(), ["layoutWeights"]).nodes[1].attrs).toEqual({ layout: "kn" });
    const pooled = poolEarly(encoder()).graph;
    expect(runPasses(pooled, ["packTexts"], { batch: 3 })).toEqual(packTexts(pooled, { texts: 3, tokens: 3 * TOKENS_PER_TEXT }).graph);
    const int8 = quantizeInt8(encoder()).graph;
    expect(runPasses(int8, ["rowSums"])).toEqual(rowSums(int8).graph);
    expect(ops(runPasses(int8, ["rowSums"])).find((o) => o.startsWith("QLinear l1"))).toMatch(
      /^QLinear l1 \(embed, (w1\S*), w1\.scale, \1\.sums, b1\) \{"sums":1\}$/,
    );
    expect(Object.keys(TARGET_PASSES)).toEqual(["composeCopies", "poolEarly", "packTexts", "fuseEpilogues", "layoutWeights", "rowSums"]);
  });

  it("runs the passes in the order named, each on the one before's graph", () => {
    const g = runPasses(encoder(), ["poolEarly", "packTexts", "fuseEpilogues", "layoutWeights"], { batch: 4 });
    const want = layoutWeights(fuseEpilogues(packTexts(poolEarly(encoder()).graph, packOptions(4, 6)).graph).graph).graph;
    expect(g).toEqual(want);
    expect(ops(g)).toEqual([
      "Gather embed (table, tokens) {}",
      'Linear l1 (embed, w1.kn, b1) {"activation":"relu","layout":"kn"}',
      "MeanLinear out (relu, w2, b2, lengths) {}",
    ]);
    expect(g.inputs).toEqual(["tokens", "lengths"]);
    // The other way round: a Linear laid out already is not pooled, and a MeanLinear's weight is not laid out.
    expect(ops(runPasses(encoder(), ["layoutWeights", "poolEarly"]))).toEqual([
      "Gather embed (table, tokens) {}",
      'Linear l1 (embed, w1.kn, b1) {"layout":"kn"}',
      "Relu relu (l1) {}",
      'Linear l2 (relu, w2.kn, b2) {"layout":"kn"}',
      "MeanRows out (l2) {}",
    ]);
    expect(ops(runPasses(encoder(), ["poolEarly", "layoutWeights"]))).toEqual([
      "Gather embed (table, tokens) {}",
      'Linear l1 (embed, w1.kn, b1) {"layout":"kn"}',
      "Relu relu (l1) {}",
      "MeanLinear out (relu, w2, b2) {}",
    ]);
  });

  it("packs DEFAULT_BATCH texts without a batch option, with room for the longest text", () => {
    const pooled = poolEarly(encoder()).graph;
    expect(runPasses(pooled, ["packTexts"]).model.batch).toEqual({ texts: DEFAULT_BATCH, tokens: DEFAULT_BATCH * TOKENS_PER_TEXT });
    expect(runPasses(pooled, ["packTexts"], {}).model.batch).toEqual({ texts: DEFAULT_BATCH, tokens: DEFAULT_BATCH * TOKENS_PER_TEXT });
    expect(runPasses(pooled, ["packTexts"], { batch: 2 }).model.batch).toEqual({ texts: 2, tokens: 2 * TOKENS_PER_TEXT });
    // A model longer than the batch's average room: one text at its longest still fits.
    const long = poolEarly(encoder(200)).graph;
    expect(runPasses(long, ["packTexts"], { batch: 2 }).model.batch).toEqual({ texts: 2, tokens: 200 });
    // A model that says no maximum length is not packed.
    const unknown = poolEarly(encoder(null)).graph;
    expect(runPasses(unknown, ["packTexts"], { batch: 2 })).toBe(unknown);
  });
});
