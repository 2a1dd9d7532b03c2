// seec's own decoder ops (compiler/frontends/onnx/lower-decoder.ts), written by hand as
// ai.seec:CachedAttention and ai.seec:PositionAffine nodes, lowered with lowerOnnx and run by the
// IR's reference interpreter: every layout CachedAttention takes (4-D [1, N, S, H], 3-D [1, S, N·H]
// with k and v, packed QKV), grouped heads, rotary caches (half and interleaved, over part of the
// head), a scale, several tokens a call over a cache filled by earlier calls, against causal attention
// written out here; each refusal of a shape with its message and `at`; PositionAffine of integer and
// float values. decoder-state.ts writes these nodes from shapes it has checked already, so no ONNX
// decoder reaches the refusals: only a node written by hand does (docs/MUTATION.md).
import { describe, expect, it } from "vitest";
import { lowerOnnx } from "../../compiler/frontends/onnx/index.js";
import type { OnnxAttr, OnnxModel, OnnxValueInfo } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxDType } from "../../compiler/frontends/onnx/tensor.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { catchSeec } from "../helpers/errors.js";
import { randomF32 } from "../helpers/random.js";

const FILE = "/models/cached.onnx";
const DOMAIN = "ai.seec";

const info = (name: string, dtype: OnnxDType, dims: number[]): OnnxValueInfo => ({ name, elementType: dtype, dtype, dims });

/** One CachedAttention node over graph inputs q, k, v (shapes given; k undefined: packed, no k and v) and pos, output y. */
function cachedModel(
  Q: number[],
  K: number[] | undefined,
  attrs: Record<string, OnnxAttr>,
  caches?: { cos: Float32Array; sin: Float32Array; rows: number; half: number },
): OnnxModel {
  const inputs = [info("q", "float32", Q), ...(K ? [info("k", "float32", K), info("v", "float32", K)] : []), info("pos", "int32", [1])];
  const initializers = new Map(
    caches
      ? [
          ["cos", tensor("float32", [caches.rows, caches.half], caches.cos)],
          ["sin", tensor("float32", [caches.rows, caches.half], caches.sin)],
        ]
      : [],
  );
  return {
    file: FILE,
    opsets: new Map([
      ["", 17],
      [DOMAIN, 1],
    ]),
    producer: "",
    nodes: [
      {
        name: "ca",
        op: "CachedAttention",
        domain: DOMAIN,
        inputs: ["q", K ? "k" : "", K ? "v" : "", "pos", ...(caches ? ["cos", "sin"] : [])],
        outputs: ["y"],
        attrs,
      },
    ],
    inputs,
    outputs: [info("y", "float32", [])],
    initializers,
  };
}

type Layout = "4d" | "3d" | "packed";

/** Rows [S][N][H] of a tensor in the layout given (for 4-D, [1, N, S, H]; 3-D, [1, S, N·H]). */
function split(x: Float32Array, layout: "4d" | "3d", S: number, N: number, H: number): number[][][] {
  return Array.from({ length: S }, (_, t) =>
    Array.from({ length: N }, (_, h) =>
      Array.from({ length: H }, (_, i) => x[layout === "4d" ? (h * S + t) * H + i : t * N * H + h * H + i]),
    ),
  );
}

/** x rotated at position p by rows cos[p], sin[p] of `half` entries: pairs (i, i + half), or (2i, 2i + 1) interleaved. */
function rotateRef(x: number[], c: Float32Array, s: Float32Array, p: number, half: number, interleaved: boolean): number[] {
  const y = [...x];
  for (let i = 0; i < half; i++) {
    const [a, b] = interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
    const cos = c[p * half + i],
      sin = s[p * half + i];
    y[a] = x[a] * cos - x[b] * sin;
    y[b] = x[b] * cos + x[a] * sin;
  }
  return y;
}

interface Case {
  layout: Layout;
  heads: number;
  kvHeads: number;
  H: number;
  S: number;
  /** CachedAttention's attributes beyond context and layer. */
  attrs: Record<string, OnnxAttr>;
  rotary?: { half: number; interleaved: boolean };
  /** The scale the attention uses (default 1/√H). */
  scale?: number;
}

/**
 * Runs `calls` calls of S new tokens each through the lowered graph and through causal attention
 * written out here over every position so far; returns the largest |difference| / (1 + |want|).
 */
function deviation(c: Case, calls: number): { worst: number; shape: number[] } {
  const { layout, heads, kvHeads, H, S } = c;
  const context = 16;
  const half = c.rotary?.half ?? 0;
  const cos = randomF32(context * half, 91, 1),
    sin = randomF32(context * half, 92, 1);
  const Q = layout === "4d" ? [1, heads, S, H] : layout === "3d" ? [1, S, heads * H] : [1, S, (heads + 2 * kvHeads) * H];
  const K = layout === "4d" ? [1, kvHeads, S, H] : layout === "3d" ? [1, S, kvHeads * H] : undefined;
  const attrs = {
    ...c.attrs,
    context,
    layer: 3,
    ...(c.rotary ? { rotary: 1, interleaved: c.rotary.interleaved ? 1 : 0 } : {}),
  };
  const load = lowerOnnx(cachedModel(Q, K, attrs, c.rotary ? { cos, sin, rows: context, half } : undefined), "cached", {});
  expect([...load.graph.values.values()].filter((v) => v.kind === "state").map((v) => [v.name, v.shape])).toEqual([
    ["kv_cache.3.key", [context, kvHeads * H]],
    ["kv_cache.3.value", [context, kvHeads * H]],
  ]);
  const interpreter = new Interpreter(load.graph);
  const scale = c.scale ?? 1 / Math.sqrt(H);
  const keys: number[][][] = [],
    values: number[][][] = [];
  let worst = 0,
    shape: number[] = [];
  for (let call = 0; call < calls; call++) {
    const pos = call * S;
    const q = randomF32(
      Q.reduce((a, b) => a * b, 1),
      100 + call,
      1,
    );
    const feeds: Record<string, Float32Array | Int32Array> = { q, pos: Int32Array.of(pos) };
    let qs: number[][][], ks: number[][][], vs: number[][][];
    if (K) {
      const n = K.reduce((a, b) => a * b, 1);
      feeds.k = randomF32(n, 200 + call, 1);
      feeds.v = randomF32(n, 300 + call, 1);
      const l = layout as "4d" | "3d";
      [qs, ks, vs] = [split(q, l, S, heads, H), split(feeds.k, l, S, kvHeads, H), split(feeds.v, l, S, kvHeads, H)];
    } else {
      const all = split(q, "3d", S, heads + 2 * kvHeads, H);
      [qs, ks, vs] = [
        all.map((r) => r.slice(0, heads)),
        all.map((r) => r.slice(heads, heads + kvHeads)),
        all.map((r) => r.slice(heads + kvHeads)),
      ];
    }
    if (c.rotary) {
      const { interleaved } = c.rotary;
      qs = qs.map((r, t) => r.map((x) => rotateRef(x, cos, sin, pos + t, half, interleaved)));
      ks = ks.map((r, t) => r.map((x) => rotateRef(x, cos, sin, pos + t, half, interleaved)));
    }
    keys.push(...ks);
    values.push(...vs);
    const out = interpreter.run(feeds).y;
    shape = out.shape as number[];
    const got = split(out.data as Float32Array, layout === "4d" ? "4d" : "3d", S, heads, H);
    for (let t = 0; t < S; t++)
      for (let h = 0; h < heads; h++) {
        const g = Math.floor(h / (heads / kvHeads));
        const scores = keys.slice(0, pos + t + 1).map((k) => k[g].reduce((a, x, i) => a + x * qs[t][h][i], 0) * scale);
        const max = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < H; i++) {
          const want = e.reduce((a, w, j) => a + w * values[j][g][i], 0) / sum;
          const x = got[t][h][i];
          worst = Math.max(worst, Number.isNaN(x) ? Infinity : Math.abs(x - want) / (1 + Math.abs(want)));
        }
      }
  }
  return { worst, shape };
}

describe("ai.seec:CachedAttention through the interpreter, against causal attention written out", () => {
  // Measured: at most 3.2e-8 (float32 against float64 sums), asserted below 2e-7.
  const cases: [string, Case][] = [
    ["4-D, grouped heads from the shapes (written-out attention)", { layout: "4d", heads: 4, kvHeads: 2, H: 4, S: 2, attrs: {} }],
    ["4-D with head counts given", { layout: "4d", heads: 2, kvHeads: 1, H: 3, S: 3, attrs: { heads: 2, kvHeads: 1 } }],
    ["3-D q, k and v [1, S, N·H]", { layout: "3d", heads: 4, kvHeads: 2, H: 2, S: 2, attrs: { heads: 4, kvHeads: 2 } }],
    ["packed QKV [1, S, (N + 2·Nkv)·H]", { layout: "packed", heads: 2, kvHeads: 1, H: 4, S: 2, attrs: { heads: 2, kvHeads: 1 } }],
    [
      "rotary over half the head (pairs i, i + half)",
      { layout: "3d", heads: 2, kvHeads: 1, H: 8, S: 2, attrs: { heads: 2, kvHeads: 1 }, rotary: { half: 2, interleaved: false } },
    ],
    [
      "rotary interleaved over half the head (pairs 2i, 2i + 1)",
      { layout: "4d", heads: 2, kvHeads: 2, H: 8, S: 2, attrs: { heads: 2, kvHeads: 2 }, rotary: { half: 2, interleaved: true } },
    ],
    [
      "rotary over the whole head, interleaved",
      { layout: "packed", heads: 2, kvHeads: 1, H: 4, S: 1, attrs: { heads: 2, kvHeads: 1 }, rotary: { half: 2, interleaved: true } },
    ],
    ["a scale of 0.2", { layout: "3d", heads: 2, kvHeads: 1, H: 4, S: 2, attrs: { heads: 2, kvHeads: 1, scale: 0.2 }, scale: 0.2 }],
    // scale / √H would be 1 here: the scale must still multiply.
    ["a scale of √H (2 for H = 4)", { layout: "4d", heads: 2, kvHeads: 1, H: 4, S: 2, attrs: { scale: 2 }, scale: 2 }],
    ["a scale of 1/√H (no multiplication)", { layout: "4d", heads: 2, kvHeads: 1, H: 4, S: 2, attrs: { scale: 0.5 }, scale: 0.5 }],
  ];
  it.each(cases)("%s: three calls over the cache", (what, c) => {
    const { worst, shape } = deviation(c, 3);
    console.log(`${what}: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(2e-7);
    expect(shape).toEqual(c.layout === "4d" ? [1, c.heads, c.S, c.H] : [1, c.S, c.heads * c.H]);
  });
});

describe("ai.seec:CachedAttention refuses shapes it cannot map onto the cache", () => {
  const refusal = (Q: number[], K: number[] | undefined, attrs: Record<string, OnnxAttr>, caches?: { half: number }) => {
    const rows = 16;
    const half = caches?.half ?? 0;
    const e = catchSeec(() =>
      lowerOnnx(
        cachedModel(
          Q,
          K,
          { context: rows, ...attrs },
          caches ? { cos: new Float32Array(rows * half), sin: new Float32Array(rows * half), rows, half } : undefined,
        ),
        "cached",
        {},
      ),
    );
    expect([e.code, e.at, e.file]).toEqual(["unsupported.onnx_op", "node ca (CachedAttention)", FILE]);
    return e.message;
  };

  it("a batch other than 1", () => {
    expect(refusal([2, 2, 1, 4], [2, 2, 1, 4], {})).toBe("a stateful decoder runs one sequence: the batch is 2");
    expect(refusal([3, 1, 8], [3, 1, 8], { heads: 2, kvHeads: 2 })).toBe("a stateful decoder runs one sequence: the batch is 3");
  });

  it("4-D: q's heads other than the count given, k and v of another shape", () => {
    expect(refusal([1, 3, 2, 4], [1, 1, 2, 4], { heads: 2, kvHeads: 1 })).toBe("q has 3 heads, not 2");
    // Each dimension wrong alone, and a 5-D k.
    expect(refusal([1, 2, 2, 4], [1, 1, 2, 4, 1], { heads: 2, kvHeads: 1 })).toBe("k and v must be [1, 1, 2, 4], not [1, 1, 2, 4, 1]");
    expect(refusal([1, 2, 2, 4], [1, 2, 2, 4], { heads: 2, kvHeads: 1 })).toBe("k and v must be [1, 1, 2, 4], not [1, 2, 2, 4]");
    expect(refusal([1, 2, 2, 4], [1, 1, 3, 4], { heads: 2, kvHeads: 1 })).toBe("k and v must be [1, 1, 2, 4], not [1, 1, 3, 4]");
    expect(refusal([1, 2, 2, 4], [1, 1, 2, 3], { heads: 2, kvHeads: 1 })).toBe("k and v must be [1, 1, 2, 4], not [1, 1, 2, 3]");
  });

  it("3-D: no head counts, k and v of another shape, features that do not split into heads", () => {
    expect(refusal([1, 2, 8], [1, 2, 8], {})).toBe("3-D q, k and v need the head counts (ONNX Attention's q_num_heads and kv_num_heads)");
    expect(refusal([1, 2, 8], [1, 2, 8, 1], { heads: 2, kvHeads: 2 })).toBe("k and v must be [1, 2, 8] (self-attention), not [1, 2, 8, 1]");
    expect(refusal([1, 2, 8], [1, 3, 8], { heads: 2, kvHeads: 2 })).toBe("k and v must be [1, 2, 8] (self-attention), not [1, 3, 8]");
    expect(refusal([1, 2, 8], [1, 2, 8], { heads: 2, kvHeads: 1 })).toBe("k and v must be [1, 2, 4] (self-attention), not [1, 2, 8]");
    expect(refusal([1, 2, 10], [1, 2, 10], { heads: 3, kvHeads: 3 })).toBe("q's 10 features do not split into 3 heads");
    // Packed: (heads + 2·kvHeads) must divide the features.
    expect(refusal([1, 1, 10], undefined, { heads: 2, kvHeads: 1 })).toBe("q's 10 features do not split into 2 heads");
    expect(refusal([1, 1, 0], undefined, { heads: 2, kvHeads: 1 })).toBe("q's 0 features do not split into 2 heads");
  });

  it("q of another rank", () => {
    expect(refusal([1, 2, 2, 4, 1], [1, 2, 2, 4], { heads: 2, kvHeads: 2 })).toBe(
      "q must be [1, S, N·H] or [1, N, S, H], not [1, 2, 2, 4, 1]",
    );
    expect(refusal([1, 8], [1, 8], { heads: 2, kvHeads: 2 })).toBe("q must be [1, S, N·H] or [1, N, S, H], not [1, 8]");
  });

  it("rotary caches wider than half the head", () => {
    expect(refusal([1, 1, 8], [1, 1, 8], { heads: 2, kvHeads: 2, rotary: 1 }, { half: 3 })).toBe(
      "the rotary caches are 3 wide, more than half the head size 4",
    );
  });
});

describe("ai.seec:PositionAffine: base + pos · slope", () => {
  function affine(dtype: "int64" | "float32", base: number[], slope: number[], shape: number[], pos: number) {
    const model: OnnxModel = {
      file: FILE,
      opsets: new Map([
        ["", 17],
        [DOMAIN, 1],
      ]),
      producer: "",
      nodes: [
        {
          name: "pa",
          op: "PositionAffine",
          domain: DOMAIN,
          inputs: ["pos"],
          outputs: ["y"],
          attrs: { base: tensor(dtype, shape, base), slope: tensor(dtype, shape, slope) },
        },
      ],
      inputs: [info("pos", "int32", [1])],
      outputs: [info("y", dtype, [])],
      initializers: new Map(),
    };
    const graph = lowerOnnx(model, "affine", {}).graph;
    const y = new Interpreter(graph).run({ pos: Int32Array.of(pos) }).y;
    return { y, value: graph.values.get("y")! };
  }

  it("integer position ids: exact, as int32", () => {
    const { y, value } = affine("int64", [0, 1, 2, 3], [1, 1, 1, 1], [1, 4], 5);
    expect(y.shape).toEqual([1, 4]);
    expect(y.data).toEqual(Int32Array.of(5, 6, 7, 8));
    expect(value.dtype).toBe("i32");
    expect(value.elementType).toBe("int64");
  });

  it("an integer slope of 2 and a base of a large offset", () => {
    const { y } = affine("int64", [100000, -7], [2, 3], [2], 1000);
    expect(y.data).toEqual(Int32Array.of(102000, 2993));
  });

  it("float values (an offset computed in float from the past's length): fractions kept", () => {
    const { y, value } = affine("float32", [0.5, 1, -2], [0.25, 0, 1.5], [3, 1], 3);
    expect(y.shape).toEqual([3, 1]);
    expect(value.dtype).toBe("f32");
    expect(Array.from(y.data)).toEqual([1.25, 1, 2.5]);
    expect(y.data).toBeInstanceOf(Float32Array);
  });
});
