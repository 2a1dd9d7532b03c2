// see/2: model weights trained with the factors (seec distill --train norms) ship in the .see file
// and replace the model's own when it is built; a file whose weights the model lacks is refused.
import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontends/load.js";
import { applySee } from "../../compiler/passes/see.js";
import { DEFAULT_DISTILL, distill } from "../../compiler/see/distill.js";
import { parameterCount } from "../../compiler/factors/factors.js";
import { factorize } from "../../compiler/see/factorize.js";
import { readSee, writeSee } from "../../compiler/factors/format.js";
import { catchSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";
import { randomFactors } from "../helpers/see.js";
import { LLAMA2C } from "../helpers/shared.js";

describe("see/2", () => {
  it("round-trips model weights beside the factors, counted in the parameters", () => {
    const f = randomFactors(
      {
        vocab: 9,
        dim: 6,
        rank: 2,
        slots: [
          ["a", 2],
          ["b", 3],
        ],
      },
      3,
    );
    const base = parameterCount(f.spec);
    f.weights = { "norm.weight": randomF32(6, 1), "layers.0.ffn_norm": randomF32(6, 2) };
    f.spec = { ...f.spec, format: "see/2", weights: { "norm.weight": [6], "layers.0.ffn_norm": [6] } };
    const back = readSee(writeSee(f), "f.see");
    expect(back.spec.format).toBe("see/2");
    expect(back.weights).toEqual(f.weights);
    expect(parameterCount(back.spec)).toBe(base + 12);
    // Without weights the writer keeps see/1, which every earlier reader takes.
    expect(readSee(writeSee({ ...f, weights: undefined, spec: { ...f.spec, weights: undefined } }), "g.see").spec.format).toBe("see/1");
  });

  it("refuses weights in a see/1 spec", () => {
    const f = randomFactors(
      {
        vocab: 9,
        dim: 6,
        rank: 2,
        slots: [
          ["a", 2],
          ["b", 3],
        ],
      },
      3,
    );
    f.weights = { w: randomF32(6, 1) };
    f.spec = { ...f.spec, weights: { w: [6] } };
    const bytes = writeSee(f);
    // writeSee writes see/2 for it; corrupt the format back to see/1 in the header.
    const text = new TextDecoder("latin1").decode(bytes).replace('\\"format\\":\\"see/2\\"', '\\"format\\":\\"see/1\\"');
    const e = catchSeec(() =>
      readSee(
        Uint8Array.from(text, (c) => c.charCodeAt(0)),
        "bad.see",
      ),
    );
    expect(e.code).toBe("input.see");
    expect(e.message).toContain("see/2");
  });

  it.skipIf(!LLAMA2C)("distill --train norms ships every norm's weight, and the build uses them", async () => {
    const model = await loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, maxChunk: 24 });
    const { factors: f } = await factorize(model, { method: "see", ratio: 4, seed: 0, segmentation: "lexicon", epochs: 5 });
    await distill(model, f, { ...DEFAULT_DISTILL, seed: 0, steps: 3, samples: 4, sequence: 24, batch: 2, evalEvery: 3, train: "norms" });
    const names = Object.keys(f.weights ?? {}).sort();
    expect(names).toEqual([
      "layers.0.attention_norm.weight",
      "layers.0.ffn_norm.weight",
      "layers.1.attention_norm.weight",
      "layers.1.ffn_norm.weight",
      "layers.2.attention_norm.weight",
      "layers.2.ffn_norm.weight",
      "layers.3.attention_norm.weight",
      "layers.3.ffn_norm.weight",
      "layers.4.attention_norm.weight",
      "layers.4.ffn_norm.weight",
      "norm.weight",
    ]);
    // Trained: they moved from the model's.
    expect(f.weights!["norm.weight"]).not.toEqual(model.graph.values.get("norm.weight")!.data);
    const back = readSee(writeSee(f), "f.see");
    const built = applySee(model.graph, back, "materialize");
    expect(built.values.get("norm.weight")!.data).toEqual(f.weights!["norm.weight"]);
    // The model it was not trained for has no such tensor: refused, naming it.
    back.weights = { ...back.weights, "layers.9.ffn_norm.weight": new Float32Array(64) };
    back.spec = { ...back.spec, weights: { ...back.spec.weights, "layers.9.ffn_norm.weight": [64] } };
    const e = catchSeec(() => applySee(model.graph, back, "materialize", "f.see"));
    expect(e.code).toBe("mismatch.see");
    expect(e.message).toContain("layers.9.ffn_norm.weight");
  });
});
