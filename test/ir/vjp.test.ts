// Every op's gradient rule against central finite differences on small random shapes: for a
// random cotangent c, d(c·y)/dx from the rule must equal (c·y(x + h) − c·y(x − h)) / 2h.
import { describe, expect, it } from "vitest";
import { OPS, opDef, type OpName, type Tensor } from "../../compiler/ir/ops/index.js";
import type { Attrs } from "../../compiler/ir/graph.js";
import { storeWeights } from "../../compiler/ir/ops/linear.js";
import { randomF32 } from "../helpers/random.js";

const t = (shape: number[], data: Float32Array | Int32Array): Tensor => ({ shape, data });
const r = (shape: number[], seed: number, scale = 1) =>
  t(
    shape,
    randomF32(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  );
const ints = (...xs: number[]) => Int32Array.from(xs);

/** The largest difference between the rule's gradient and finite differences, relative to the gradient's largest entry. */
function check(op: string, inputs: Tensor[], attrs: Attrs, differentiable: number[]): number {
  const def = opDef(op);
  const clone = () => inputs.map((x) => ({ shape: x.shape, data: x.data.slice() }));
  const outputs = def.run(clone(), attrs);
  const c = outputs.map((o, i) => randomF32(o.data.length, 1000 + i));
  const loss = (xs: Tensor[]) => {
    let s = 0;
    def.run(xs, attrs).forEach((o, i) => o.data.forEach((y, j) => (s += y * c[i][j])));
    return s;
  };
  const forwardInputs = clone();
  const forwardOutputs = def.run(forwardInputs, attrs);
  const grads = def.vjp!({
    inputs: forwardInputs,
    outputs: forwardOutputs,
    dOutputs: c,
    attrs,
    wants: inputs.map((_, i) => differentiable.includes(i)),
  });
  let worst = 0;
  for (const i of differentiable) {
    const g = grads[i]!;
    expect(g, `${op} input ${i}`).toBeInstanceOf(Float32Array);
    const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
    const h = 1e-2;
    for (let j = 0; j < g.length; j++) {
      const plus = clone(),
        minus = clone();
      plus[i].data[j] += h;
      minus[i].data[j] -= h;
      const fd = (loss(plus) - loss(minus)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - g[j]) / scale);
    }
  }
  return worst;
}

const TOL = 2e-3;

describe("gradient rules match finite differences", () => {
  it.each([
    ["Add", () => [r([3, 4], 1), r([3, 4], 2)], {}, [0, 1]],
    ["SwiGLU", () => [r([3, 4], 3, 3), r([3, 4], 4)], {}, [0, 1]],
    ["Relu", () => [r([3, 5], 5)], {}, [0]],
    ["Tanh", () => [r([3, 5], 6, 2)], {}, [0]],
    ["AddRows", () => [r([3, 4], 7), r([6, 4], 8)], {}, [0, 1]],
    ["MeanRows", () => [r([5, 3], 9)], {}, [0]],
    ["LastRow", () => [r([4, 3], 10)], {}, [0]],
    ["Gather", () => [r([6, 3], 11), t([4], ints(2, 0, 2, 5))], {}, [0]],
    ["RMSNorm", () => [r([3, 8], 12), r([8], 13)], { epsilon: 1e-5 }, [0, 1]],
    ["LayerNorm", () => [r([3, 8], 14), r([8], 15), r([8], 16)], { epsilon: 1e-5 }, [0, 1, 2]],
    ["L2Normalize", () => [r([3, 6], 17)], { epsilon: 1e-12 }, [0]],
    ["RoPE", () => [r([3, 8], 18), t([1], ints(2)), r([6, 2], 19), r([6, 2], 20)], { headDim: 4, interleaved: 1 }, [0]],
    ["Linear", () => [r([3, 5], 21), r([4, 5], 22)], {}, [0, 1]],
    ["Linear", () => [r([3, 5], 23), r([4, 5], 24), r([4], 25), r([3, 4], 26)], { activation: "relu", residual: 1 }, [0, 1, 2, 3]],
    ["SelfAttention", () => [r([4, 6], 27), r([4, 6], 28), r([4, 6], 29)], { heads: 2, headDim: 3, scale: 0.6 }, [0, 1, 2]],
  ] as [string, () => Tensor[], Attrs, number[]][])("%s", (op, inputs, attrs, differentiable) => {
    expect(check(op, inputs(), attrs, differentiable)).toBeLessThan(TOL);
  });

  it("Linear with its weights stored transposed and interleaved (gradients in the same layout)", () => {
    const w = randomF32(8 * 4, 30);
    for (const layout of ["kn", "n4"] as const) {
      const stored = t(layout === "kn" ? [4, 8] : [8, 4], storeWeights(w, 8, 4, layout));
      expect(check("Linear", [r([3, 4], 31), stored, r([8], 32)], { layout }, [0, 1, 2])).toBeLessThan(TOL);
    }
  });

  it("Attention over a KV cache: into this call's q, k and v, earlier cache rows held", () => {
    // Two earlier positions already in the cache; three tokens at positions 2..4; grouped kv heads.
    const heads = 4,
      kvHeads = 2,
      headDim = 2,
      kvDim = kvHeads * headDim;
    const cache = (seed: number) =>
      t(
        [8, kvDim],
        Float32Array.from(randomF32(8 * kvDim, seed), (x, i) => (i < 2 * kvDim ? x : 0)),
      );
    const inputs = [r([3, heads * headDim], 40), r([3, kvDim], 41), r([3, kvDim], 42), t([1], ints(2)), cache(43), cache(44)];
    expect(check("Attention", inputs, { heads, kvHeads, headDim }, [0, 1, 2])).toBeLessThan(TOL);
  });

  it("every op the llama2.c and TF.js frontends emit has a rule", () => {
    const needed: OpName[] = [
      "Add",
      "AddRows",
      "Attention",
      "Gather",
      "L2Normalize",
      "LastRow",
      "LayerNorm",
      "Linear",
      "MeanRows",
      "RMSNorm",
      "Relu",
      "RoPE",
      "SelfAttention",
      "SwiGLU",
      "Tanh",
    ];
    expect(needed.filter((op) => !OPS[op].vjp)).toEqual([]);
  });
});
