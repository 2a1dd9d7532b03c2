/** The IR op registry as tests call it: shape rules' refusals, and two definitions of one op compared. */
import type { Attrs, ValueType } from "../../compiler/ir/graph.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import type { OpDef, Tensor } from "../../compiler/ir/ops/op.js";
import { expect } from "vitest";
import { catchSeec } from "./errors.js";
import { maxRelDiff, randomF32 } from "./random.js";

/** The message of `op`'s shape rule refusing `inputs` (an internal.ir error; any other outcome fails the test). */
export function inferRefusal(op: string, inputs: readonly ValueType[], attrs: Record<string, unknown> = {}): string {
  const e = catchSeec(() => opDef(op).infer(inputs as ValueType[], attrs as never, "n"));
  expect(e.code).toBe("internal.ir");
  return e.message;
}

export const tensor = (shape: number[], data: Float32Array | Int32Array): Tensor => ({ shape, data });

/** One Attention call's shape: T tokens after `pos` cached rows, in a cache of `context` rows. */
export interface AttentionCall {
  T: number;
  pos: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  context: number;
}

/**
 * Attention's inputs for `c` (q, k, v, pos, kCache, vCache; seeds 1 to 5), made afresh on each call:
 * q, k and kCache uniform in ±`scale` (the scores grow with its square), v and vCache in ±1.
 */
export function attentionInputs(c: AttentionCall, scale = 1): () => Tensor[] {
  const kv = c.kvHeads * c.headDim;
  return () => [
    tensor([c.T, c.heads * c.headDim], randomF32(c.T * c.heads * c.headDim, 1, scale)),
    tensor([c.T, kv], randomF32(c.T * kv, 2, scale)),
    tensor([c.T, kv], randomF32(c.T * kv, 3)),
    tensor([1], Int32Array.of(c.pos)),
    tensor([c.context, kv], randomF32(c.context * kv, 4, scale)),
    tensor([c.context, kv], randomF32(c.context * kv, 5)),
  ];
}

/**
 * Runs both definitions forward and backward on copies of the same inputs (backward from the same
 * random dY, seeded by `seed`); the worst relative gap of each result: the output, the inputs from
 * the fifth on as the forward pass left them (Attention's caches), and each gradient.
 */
export function compareOps(reference: OpDef, other: OpDef, inputs: () => Tensor[], attrs: Attrs, seed: number): number[] {
  const a = inputs(),
    b = inputs();
  const [ya] = reference.run(a, attrs),
    [yb] = other.run(b, attrs);
  const dy = randomF32(ya.data.length, seed);
  const step = (xs: Tensor[], y: Tensor) => ({ inputs: xs, outputs: [y], dOutputs: [dy], attrs, wants: xs.map(() => true) });
  const ga = reference.vjp!(step(a, ya)),
    gb = other.vjp!(step(b, yb));
  expect(ya.shape).toEqual(yb.shape);
  const gaps = [maxRelDiff(yb.data, ya.data)];
  for (let i = 4; i < a.length; i++) gaps.push(maxRelDiff(b[i].data, a[i].data));
  ga.forEach((g, i) => {
    if (!g) return expect(gb[i]).toBeUndefined();
    expect(gb[i]!.length).toBe(g.length);
    gaps.push(maxRelDiff(gb[i]!, g));
  });
  return gaps;
}
