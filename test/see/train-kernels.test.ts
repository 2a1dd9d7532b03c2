// seec distill's attention on the SIMD kernels (targets/wasm/train-kernels.ts) against the op
// registry's reference (the interpreter): forward outputs, what the forward pass leaves in the KV
// cache, and the gradients into q, k and v, on shapes that exercise every branch — a cache with
// earlier rows, grouped-query heads, head sizes that are and are not a multiple of four, more keys
// than attendRow scores at once (128).
import { beforeAll, describe, expect, it } from "vitest";
import { Attention, attentionOnKernels, SelfAttention } from "../../compiler/ir/ops/attention.js";
import type { OpDef } from "../../compiler/ir/ops/op.js";
import { wasmTrainingKernels } from "../../targets/wasm/train-kernels.js";
import { attentionInputs, compareOps as compare, tensor as t } from "../helpers/ir-ops.js";
import { randomF32 } from "../helpers/random.js";

let fast: { Attention: OpDef; SelfAttention: OpDef };
beforeAll(async () => {
  fast = attentionOnKernels(await wasmTrainingKernels());
});

describe("training kernels: attention", () => {
  // Measured: at most 6.3e-7 (f32 kernels against the reference, which accumulates in f64).
  const TOL = 3e-6;

  it.each([
    { T: 5, pos: 0, heads: 2, kvHeads: 2, headDim: 8, context: 8 },
    { T: 7, pos: 3, heads: 4, kvHeads: 2, headDim: 6, context: 12 },
    { T: 150, pos: 20, heads: 2, kvHeads: 1, headDim: 8, context: 200 },
  ])("Attention, T $T after $pos cached rows, $heads heads over $kvHeads, headDim $headDim", (c) => {
    const attrs = { heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim };
    const inputs = attentionInputs(c);
    for (const gap of compare(Attention, fast.Attention, inputs, attrs, 6)) expect(gap).toBeLessThan(TOL);
  });

  it.each([
    { T: 9, heads: 8, headDim: 32 },
    { T: 130, heads: 3, headDim: 5 },
  ])("SelfAttention, T $T, $heads heads of $headDim", ({ T, heads, headDim }) => {
    const attrs = { heads, headDim, scale: 0.3 };
    const D = heads * headDim;
    const inputs = () => [1, 2, 3].map((seed) => t([T, D], randomF32(T * D, seed)));
    for (const gap of compare(SelfAttention, fast.SelfAttention, inputs, attrs, 7)) expect(gap).toBeLessThan(TOL);
  });
});
