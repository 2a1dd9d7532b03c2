// seec's reverse mode through the whole of USE-Lite — the row builder, two transformer layers run
// packed, the pooling and the encoder's distillation loss (cosine, MSE, in-batch similarities) —
// against central differences of the same loss: one step's gradients (stepGradients, what `seec
// distill` takes a step with) into the SEE factor tables and into the norms' parameters (--train
// norms) of the first layer and the last, at the coordinates where each is largest. The differences
// are taken of the loss summed in double precision over float32 forward passes, with a step large
// enough for float32's rounding to stay well under the tolerance. (stories260K's whole backward
// pass is checked against PyTorch in gradient-oracle.test.ts; porting USE-Lite to PyTorch would be
// a second model written twice.)
import { describe, expect, it } from "vitest";
import type { SeeFactors } from "../../compiler/factors/factors.js";
import { loadModel } from "../../compiler/frontends/load.js";
import { DEFAULT_DISTILL, stepGradients, type DistillOptions } from "../../compiler/see/distill.js";
import { factorize } from "../../compiler/see/factorize.js";
import { createTokenizer, plainIds } from "../../runtime/tokenizers/index.js";
import { USE_MODEL_JSON } from "../helpers/use-lite.js";

/** The step of the central differences: float32's rounding over it stays near 0.1% of these gradients. */
const H = 1e-2;

/** Indices of the k largest |g|. */
function largest(g: Float32Array, k: number): number[] {
  return Array.from(g.keys())
    .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
    .slice(0, k);
}

describe("USE-Lite's whole backward pass against central differences of the loss", () => {
  it("one step's gradients into every factor table and the first and the last layer norm, at their largest coordinates", async () => {
    const model = await loadModel({ model: USE_MODEL_JSON });
    const { factors } = await factorize(model, { method: "see", ratio: 20, seed: 0, segmentation: "lexicon", epochs: 2 });
    const tok = createTokenizer(model.tokenizer!);
    const batch = ["a dog barks at the moon", "the violinist tuned her instrument", "prices of grain rose in the spring"].map((s) =>
      Int32Array.from(plainIds(tok, s)),
    );
    const opts: DistillOptions = { ...DEFAULT_DISTILL, seed: 0, train: "norms" };
    const { grads } = stepGradients(model, factors, batch, opts);
    const lossWith = (f: SeeFactors) => stepGradients(model, f, batch, opts).loss;

    const checks: { what: string; analytic: number; numeric: number }[] = [];
    /** Central difference of the loss as `data[i]` moves by ±H (data belongs to f), restored after. */
    const central = (f: SeeFactors, data: Float32Array, i: number) => {
      const x = data[i];
      data[i] = x + H;
      const up = lossWith(f);
      data[i] = x - H;
      const down = lossWith(f);
      data[i] = x;
      return (up - down) / (2 * H);
    };
    for (const [source, table] of Object.entries(factors.tables))
      for (const i of largest(grads[source], 3))
        checks.push({ what: `tables.${source}[${i}]`, analytic: grads[source][i], numeric: central(factors, table, i) });
    // The first layer's first norm parameter and the last one's last: the whole depth of the network.
    const trained = Object.keys(grads).filter((k) => k.startsWith("model."));
    const norms = [trained[0], trained.at(-1)!];
    expect(new Set(norms).size).toBe(2);
    for (const key of norms) {
      // The student's copy of the weight, shipped as see/2 does: the teacher keeps the original.
      const name = key.slice("model.".length);
      const weight = (model.graph.values.get(name)!.data as Float32Array).slice();
      const student: SeeFactors = {
        ...factors,
        spec: { ...factors.spec, format: "see/2", weights: { [name]: model.graph.values.get(name)!.shape as number[] } },
        weights: { [name]: weight },
      };
      for (const i of largest(grads[key], 2))
        checks.push({ what: `${key}[${i}]`, analytic: grads[key][i], numeric: central(student, weight, i) });
    }
    console.log(
      `USE-Lite gradients against central differences: ${checks.map((c) => `${c.what} ${c.analytic.toPrecision(4)}/${c.numeric.toPrecision(4)}`).join(", ")}`,
    );
    for (const c of checks) {
      expect(Math.abs(c.analytic), c.what).toBeGreaterThan(1e-4);
      expect(Math.abs(c.numeric - c.analytic), c.what).toBeLessThan(3e-2 * Math.abs(c.analytic)); // within 0.7% when written
    }
  }, 120_000);
});
