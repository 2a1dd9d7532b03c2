// The attention ops against attention written out from their definitions in this file, in float64:
// `attentionOnKernels` (seec distill's attention, which hands the work to a backend's kernels) given
// kernels written here, against the registry's Attention and SelfAttention, forward, backward and the
// KV cache; and ScaledAttention's bias, keep-mask and causal terms broadcast from every shape an
// imported graph gives them. Milliseconds: the wasm kernels' own parity is test/see/train-kernels.test.ts.
import { describe, expect, it } from "vitest";
import type { Attrs } from "../../compiler/ir/graph.js";
import type { AttentionKernels, AttentionShape } from "../../compiler/ir/ops/attention.js";
import { Attention, attentionOnKernels, ScaledAttention, SelfAttention } from "../../compiler/ir/ops/attention.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import type { Tensor } from "../../compiler/ir/ops/op.js";
import { attentionInputs, compareOps, inferRefusal, tensor as t } from "../helpers/ir-ops.js";
import { maxRelDiff, randomF32 } from "../helpers/random.js";

/** The probabilities of query row t, head h over the keys it sees (AttentionShape's contract). */
function probabilities(q: Float32Array, keys: Float32Array, s: AttentionShape, t: number, h: number): number[] {
  const kvDim = s.kvHeads * s.headDim,
    kv = Math.floor((h * s.kvHeads) / s.heads) * s.headDim;
  const n = s.causal ? s.first + t + 1 : keys.length / kvDim;
  const scores = Array.from({ length: n }, (_, j) => {
    let dot = 0;
    for (let i = 0; i < s.headDim; i++) dot += q[(t * s.heads + h) * s.headDim + i] * keys[j * kvDim + kv + i];
    return dot * s.scale;
  });
  const e = scores.map((x) => Math.exp(x - Math.max(...scores)));
  const sum = e.reduce((a, x) => a + x, 0);
  return e.map((x) => x / sum);
}

/** AttentionKernels as the interface documents them, one row and head at a time, recording each call's shape. */
function writtenOutKernels(shapes: AttentionShape[] = []): AttentionKernels {
  const kvOf = (s: AttentionShape, h: number) => Math.floor((h * s.kvHeads) / s.heads) * s.headDim;
  return {
    attention(q, keys, values, s) {
      shapes.push(s);
      const kvDim = s.kvHeads * s.headDim,
        out = new Float32Array(s.T * s.heads * s.headDim);
      for (let t = 0; t < s.T; t++)
        for (let h = 0; h < s.heads; h++)
          probabilities(q, keys, s, t, h).forEach((p, j) => {
            for (let i = 0; i < s.headDim; i++) out[(t * s.heads + h) * s.headDim + i] += p * values[j * kvDim + kvOf(s, h) + i];
          });
      return out;
    },
    attentionBackward(q, dy, keys, values, s) {
      shapes.push(s);
      const kvDim = s.kvHeads * s.headDim,
        hd = s.headDim;
      const dq = new Float32Array(q.length),
        dk = new Float32Array(keys.length),
        dv = new Float32Array(values.length);
      for (let t = 0; t < s.T; t++)
        for (let h = 0; h < s.heads; h++) {
          const p = probabilities(q, keys, s, t, h),
            qo = (t * s.heads + h) * hd,
            kv = kvOf(s, h);
          const dp = p.map((_, j) => {
            let d = 0;
            for (let i = 0; i < hd; i++) d += dy[qo + i] * values[j * kvDim + kv + i];
            return d;
          });
          const mean = p.reduce((a, pj, j) => a + pj * dp[j], 0);
          p.forEach((pj, j) => {
            const ds = pj * (dp[j] - mean);
            for (let i = 0; i < hd; i++) {
              dq[qo + i] += s.scale * ds * keys[j * kvDim + kv + i];
              dk[j * kvDim + kv + i] += s.scale * ds * q[qo + i];
              dv[j * kvDim + kv + i] += pj * dy[qo + i];
            }
          });
        }
      return [dq, dk, dv];
    },
  };
}

// Measured: at most 7.8e-8 between the registry (f64 sums, f32 results) and the kernels written here.
const TOL = 4e-7;

describe("attentionOnKernels: the registry's Attention and SelfAttention on a backend's kernels", () => {
  it.each([
    { T: 3, pos: 2, heads: 4, kvHeads: 2, headDim: 3, context: 8 },
    { T: 4, pos: 0, heads: 2, kvHeads: 2, headDim: 5, context: 6 },
    { T: 1, pos: 6, heads: 3, kvHeads: 1, headDim: 4, context: 7 },
  ])("Attention, T $T after $pos cached rows, $heads heads over $kvHeads of $headDim, a cache of $context", (c) => {
    const { T, pos, heads, kvHeads, headDim } = c;
    const attrs = { heads, kvHeads, headDim };
    const inputs = attentionInputs(c, 2);
    const shapes: AttentionShape[] = [];
    const gaps = compareOps(Attention, attentionOnKernels(writtenOutKernels(shapes)).Attention, inputs, attrs, 6);
    // The output, both caches after the call, dq, and dk and dv of this call's rows alone.
    expect(gaps).toHaveLength(6);
    for (const gap of gaps) expect(gap).toBeLessThan(TOL);
    const shape = { T, causal: true, first: pos, heads, kvHeads, headDim, scale: 1 / Math.sqrt(headDim) };
    expect(shapes).toEqual([shape, shape]);
  });

  it("Attention hands the kernels the cache rows up to the call's last token, this call's k and v written in", () => {
    const [T, pos, kv, context] = [2, 3, 4, 9];
    const seen: Float32Array[] = [];
    const kernels = writtenOutKernels();
    const op = attentionOnKernels({
      attention: (q, keys, values, s) => (seen.push(keys.slice(), values.slice()), kernels.attention(q, keys, values, s)),
      attentionBackward: (q, dy, keys, values, s) => (
        seen.push(keys.slice(), values.slice()),
        kernels.attentionBackward(q, dy, keys, values, s)
      ),
    }).Attention;
    const k = randomF32(T * kv, 1),
      v = randomF32(T * kv, 2),
      kCache = randomF32(context * kv, 3),
      vCache = randomF32(context * kv, 4);
    const before = [kCache.slice(), vCache.slice()];
    const inputs = [
      t([T, kv], randomF32(T * kv, 5)),
      t([T, kv], k),
      t([T, kv], v),
      t([1], Int32Array.of(pos)),
      t([context, kv], kCache),
      t([context, kv], vCache),
    ];
    const attrs: Attrs = { heads: 1, kvHeads: 1, headDim: kv };
    const [y] = op.run(inputs, attrs);
    const [dq, dk, dv, ...rest] = op.vjp!({ inputs, outputs: [y], dOutputs: [randomF32(T * kv, 6)], attrs, wants: inputs.map(() => true) });
    const expected = (cache: Float32Array, fresh: Float32Array) => Float32Array.from([...cache.subarray(0, pos * kv), ...fresh]);
    expect(seen).toEqual([expected(before[0], k), expected(before[1], v), expected(before[0], k), expected(before[1], v)]);
    // The caches' rows past the call are untouched.
    expect(kCache.subarray((pos + T) * kv)).toEqual(before[0].subarray((pos + T) * kv));
    expect(vCache.subarray((pos + T) * kv)).toEqual(before[1].subarray((pos + T) * kv));
    expect([dq!.length, dk!.length, dv!.length]).toEqual([T * kv, T * kv, T * kv]);
    expect(rest).toEqual([undefined, undefined, undefined]);
  });

  it.each([
    { T: 4, heads: 2, headDim: 3, scale: 0.7 },
    { T: 1, heads: 1, headDim: 6, scale: 0.2 },
  ])("SelfAttention, T $T, $heads heads of $headDim, scale $scale", ({ T, heads, headDim, scale }) => {
    const attrs = { heads, headDim, scale },
      D = heads * headDim;
    const inputs = () => [1, 2, 3].map((seed) => t([T, D], randomF32(T * D, seed, 2)));
    const shapes: AttentionShape[] = [];
    const gaps = compareOps(SelfAttention, attentionOnKernels(writtenOutKernels(shapes)).SelfAttention, inputs, attrs, 7);
    expect(gaps).toHaveLength(4);
    for (const gap of gaps) expect(gap).toBeLessThan(TOL);
    const shape = { T, causal: false, first: 0, heads, kvHeads: heads, headDim, scale };
    expect(shapes).toEqual([shape, shape]);
  });
});

/** An operand broadcast to [B, Nq, S, T] (numpy's rule, from the right), read at one index. */
function broadcastAt(x: Tensor, index: number[]): number {
  let flat = 0;
  x.shape.forEach((dim, r) => {
    const i = index[index.length - x.shape.length + r];
    flat = flat * dim + (dim === 1 ? 0 : i);
  });
  return x.data[flat];
}

interface ScaledCase {
  q: number[];
  k: number[];
  bias?: number[];
  keep?: { shape: number[]; zeros: number[] };
  attrs: Attrs;
}

/** ScaledAttention as its comment defines it, in float64. */
function scaledAttention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | undefined, keep: Tensor | undefined, attrs: Attrs): Float32Array {
  const four = (s: number[]) => (s.length === 3 ? [1, ...s] : s);
  const [B, Nq, S, H] = four(q.shape),
    [, Nkv, T] = four(k.shape);
  const out = new Float32Array(q.data.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Nq; h++) {
      const kvHead = b * Nkv + Math.floor((h * Nkv) / Nq);
      for (let i = 0; i < S; i++) {
        const scores = Array.from({ length: T }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < H; d++) dot += q.data[((b * Nq + h) * S + i) * H + d] * k.data[(kvHead * T + j) * H + d];
          let s = Math.fround(dot * (attrs.scale as number));
          if (bias) s += broadcastAt(bias, [b, h, i, j]);
          if (keep && broadcastAt(keep, [b, h, i, j]) === 0) s = (attrs.fill as number | undefined) ?? 0;
          if (attrs.causal && j - (T - S) > i) s += (attrs.causalFill as number | undefined) ?? 0;
          return s;
        });
        const e = scores.map((x) => Math.exp(x - Math.max(...scores)));
        const sum = e.reduce((a, x) => a + x, 0);
        for (let d = 0; d < H; d++)
          out[((b * Nq + h) * S + i) * H + d] = e.reduce((a, p, j) => a + p * v.data[(kvHead * T + j) * H + d], 0) / sum;
      }
    }
  return out;
}

describe("ScaledAttention against its definition", () => {
  // B = 2 batches, 4 query heads over 2 kv heads, S = 3 queries, T = 5 keys, heads of 2, unless rank 3.
  const q4 = [2, 4, 3, 2],
    k4 = [2, 2, 5, 2];
  it.each<[string, ScaledCase]>([
    ["rank 4, grouped heads", { q: q4, k: k4, attrs: { scale: 0.4 } }],
    ["rank 3 (one batch), 2 query heads over 1", { q: [2, 3, 2], k: [1, 4, 2], attrs: { scale: 0.9 } }],
    ["a bias [S, T] for every batch and head", { q: q4, k: k4, bias: [3, 5], attrs: { scale: 0.4, bias: 1 } }],
    ["a bias [B, 1, 1, T]", { q: q4, k: k4, bias: [2, 1, 1, 5], attrs: { scale: 0.4, bias: 1 } }],
    ["a bias [Nq, S, 1] (one per query row)", { q: q4, k: k4, bias: [4, 3, 1], attrs: { scale: 0.4, bias: 1 } }],
    ["a bias [B, Nq, S, T] in full", { q: q4, k: k4, bias: [2, 4, 3, 5], attrs: { scale: 0.4, bias: 1 } }],
    [
      "a keep-mask [B, 1, S, T] after a bias [1, Nq, 1, T], fill −1e4",
      {
        q: q4,
        k: k4,
        bias: [1, 4, 1, 5],
        keep: { shape: [2, 1, 3, 5], zeros: [1, 4, 6, 17, 20, 28] },
        attrs: { scale: 0.4, bias: 1, keep: 1, fill: -1e4 },
      },
    ],
    [
      "a keep-mask [T] alone, fill −∞",
      { q: q4, k: k4, keep: { shape: [5], zeros: [0, 3] }, attrs: { scale: 0.4, keep: 1, fill: -Infinity } },
    ],
    ["causal, S < T (queries after a past)", { q: q4, k: k4, attrs: { scale: 0.4, causal: 1, causalFill: -1e9 } }],
    [
      "causal, S = T, with a bias [S, T]",
      { q: [1, 4, 4, 3], k: [1, 1, 4, 3], bias: [4, 4], attrs: { scale: 0.5, bias: 1, causal: 1, causalFill: -3 } },
    ],
  ])("%s", (_name, c) => {
    const n = (s: number[]) => s.reduce((a, x) => a * x, 1);
    const q = t(c.q, randomF32(n(c.q), 1, 2)),
      k = t(c.k, randomF32(n(c.k), 2, 2)),
      v = t(c.k, randomF32(n(c.k), 3));
    const bias = c.bias && t(c.bias, randomF32(n(c.bias), 4, 3));
    const keep =
      c.keep &&
      t(
        c.keep.shape,
        Int32Array.from({ length: n(c.keep.shape) }, (_, i) => (c.keep!.zeros.includes(i) ? 0 : 1)),
      );
    const inputs = [q, k, v, ...(bias ? [bias] : []), ...(keep ? [keep] : [])];
    expect(
      ScaledAttention.infer(
        inputs.map((x) => ({ dtype: x.data instanceof Int32Array ? "i32" : "f32", shape: x.shape })),
        c.attrs,
        "n",
      ),
    ).toEqual([{ dtype: "f32", shape: c.q }]);
    const [y] = ScaledAttention.run(inputs, c.attrs);
    expect(y.shape).toEqual(c.q);
    // Measured: 0 in every case (both sum in float64 in the same order); one f32 rounding allowed.
    expect(maxRelDiff(y.data, scaledAttention(q, k, v, bias, keep, c.attrs))).toBeLessThan(1.2e-7);
  });
});

describe("the attention ops' shape rules, each refusal with its message", () => {
  const f = (...shape: (number | string)[]) => ({ dtype: "f32" as const, shape });
  const pos = { dtype: "i32" as const, shape: [1] };

  it("Attention: ranks, head counts, widths and pos's type", () => {
    const attrs = { heads: 4, kvHeads: 2, headDim: 3 };
    const ok = [f("T", 12), f("T", 6), f("T", 6), pos, f(8, 6), f(8, 6)];
    expect(opDef("Attention").infer(ok, attrs, "n")).toEqual([f("T", 12)]);
    const change = (i: number, to: { dtype: "f32" | "i32"; shape: (number | string)[] }) => ok.map((x, j) => (j === i ? to : x));
    expect(inferRefusal("Attention", change(4, f(8, 6, 1)), attrs)).toMatch(/kCache/);
    expect(inferRefusal("Attention", ok, { heads: 3, kvHeads: 2, headDim: 3 })).toBe("heads (3) must be a multiple of kvHeads (2)");
    expect(inferRefusal("Attention", change(0, f("T", 9)), attrs)).toBe("q must have 12 features");
    for (const i of [1, 2, 4, 5])
      expect(inferRefusal("Attention", change(i, f(8, 12)), attrs)).toBe("k, v and caches must have 6 features");
    expect(inferRefusal("Attention", change(3, f(1)), attrs)).toBe("pos must be i32");
  });

  it("SelfAttention: rank 2, and q, k and v each heads × headDim wide", () => {
    const attrs = { heads: 2, headDim: 3, scale: 0.5 };
    expect(opDef("SelfAttention").infer([f("T", 6), f("T", 6), f("T", 6)], attrs, "n")).toEqual([f("T", 6)]);
    expect(inferRefusal("SelfAttention", [f("T", 6), f("T", 6, 1), f("T", 6)], attrs)).toMatch(/\bk\b/);
    expect(inferRefusal("SelfAttention", [f("T", 6), f("T", 6), f("T", 5)], attrs)).toBe("v must have 6 features");
    expect(inferRefusal("SelfAttention", [f("T", 4), f("T", 6), f("T", 6)], attrs)).toBe("q must have 6 features");
  });

  it("ScaledAttention: ranks, agreeing shapes, head groups, a static key length, the extra inputs", () => {
    const attrs = { scale: 0.5 };
    const q = f(2, 4, 3, 8),
      k = f(2, 2, 5, 8);
    const refusal = (inputs: ReturnType<typeof f>[], a: Attrs = attrs) => inferRefusal("ScaledAttention", inputs, a);
    const ranks = "q, k and v must all be rank 3 or all rank 4";
    expect(refusal([f(4, 3, 8, 1, 1), f(2, 5, 8, 1, 1), f(2, 5, 8, 1, 1)])).toBe(ranks);
    expect(refusal([f(3, 8), f(5, 8), f(5, 8)])).toBe(ranks);
    expect(refusal([q, f(2, 5, 8), f(2, 5, 8)])).toBe(ranks);
    expect(refusal([q, k, f(2, 5, 8)])).toMatch(/\bv\b/);
    const agree = "q, k and v must agree on batch and head size, and k and v on everything";
    expect(refusal([f(1, 4, 3, 8), k, k])).toBe(agree);
    expect(refusal([f(2, 4, 3, 6), k, k])).toBe(agree);
    expect(refusal([q, k, f(2, 2, 6, 8)])).toBe(agree);
    expect(refusal([f(2, 3, 3, 8), k, k])).toBe("query heads (3) must be a multiple of kv heads (2)");
    expect(refusal([f(2, "N", 3, 8), k, k])).toBe("query heads (N) must be a multiple of kv heads (2)");
    expect(refusal([q, f(2, 2, "T", 8), f(2, 2, "T", 8)])).toBe("the key length must be static");
    expect(refusal([q, k, k], { scale: 0.5, bias: 1 })).toBe("expected 4 inputs");
    expect(refusal([q, k, k, f(3, 5)], { scale: 0.5, bias: 1, keep: 1 })).toBe("expected 5 inputs");
    expect(refusal([q, k, k, f(3, 5)])).toBe("expected 3 inputs");
  });
});

describe("scores far from zero: each softmax subtracts its largest score first", () => {
  // Scores of several hundred: exp() of them unshifted overflows to Infinity (and the output to NaN).
  it("Attention and SelfAttention on the kernels written here agree with the registry, and are finite", () => {
    const [T, heads, headDim] = [3, 2, 4];
    const D = heads * headDim;
    const inputs = () => [t([T, D], randomF32(T * D, 1, 30)), t([T, D], randomF32(T * D, 2, 30)), t([T, D], randomF32(T * D, 3))];
    const attrs = { heads, headDim, scale: 10 };
    const [y] = SelfAttention.run(inputs(), attrs);
    expect(y.data.every(Number.isFinite)).toBe(true);
    for (const gap of compareOps(SelfAttention, attentionOnKernels(writtenOutKernels()).SelfAttention, inputs, attrs, 8))
      expect(gap).toBeLessThan(TOL);
    const causal = () => [
      t([T, D], randomF32(T * D, 1, 300)),
      ...inputs().slice(1),
      t([1], Int32Array.of(0)),
      t([T, D], new Float32Array(T * D)),
      t([T, D], new Float32Array(T * D)),
    ];
    const big = { heads, kvHeads: heads, headDim };
    const [z] = Attention.run(causal(), big);
    expect(z.data.every(Number.isFinite)).toBe(true);
    for (const gap of compareOps(Attention, attentionOnKernels(writtenOutKernels()).Attention, causal, big, 9))
      expect(gap).toBeLessThan(TOL);
  });

  it("ScaledAttention", () => {
    const q = t([1, 2, 3], randomF32(6, 1, 30)),
      k = t([1, 4, 3], randomF32(12, 2, 30)),
      v = t([1, 4, 3], randomF32(12, 3));
    const [y] = ScaledAttention.run([q, k, v], { scale: 20 });
    expect(y.data.every(Number.isFinite)).toBe(true);
    expect(maxRelDiff(y.data, scaledAttention(q, k, v, undefined, undefined, { scale: 20 }))).toBeLessThan(1.2e-7);
  });
});
