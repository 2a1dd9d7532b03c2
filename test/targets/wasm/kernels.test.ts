// Every wasm-simd kernel against the reference interpreter, on shapes that are not multiples of
// the SIMD width (4) or the linear kernel's row block (4), compiled through the real pipeline.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../compiler/ir/builder.js";
import { Interpreter } from "../../../compiler/ir/interpreter.js";
import type { Attrs, TensorData } from "../../../compiler/ir/graph.js";
import { storeWeights } from "../../../compiler/ir/ops/linear.js";
import type { TargetName } from "../../../targets/registry.js";
import { compileArtifact } from "../../../compiler/build.js";
import { compileAndLoad } from "../../helpers/compile.js";
import { guardPast } from "../../helpers/output-guard.js";
import { maxAbsDiff, randomF32, rng } from "../../helpers/random.js";

// Node 20 runs relaxed-SIMD modules only with this flag (set before any is compiled; Chromium needs none).
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const CONTEXT = 16;

/** A graph of one node over inputs `x`, `y`... with T symbolic (max 7, or maxT) in the first dim. */
function oneOp(
  op: string,
  inputs: { name: string; shape: (number | string)[]; dtype?: "f32" | "i32" }[],
  consts: { name: string; data: TensorData; shape: number[] }[],
  attrs: Attrs = {},
  state: { name: string; shape: number[] }[] = [],
  order?: string[],
  maxT = 7,
) {
  const b = new GraphBuilder(op, { family: "decoder", config: { contextLength: CONTEXT } });
  b.dim("T", maxT);
  const names = [
    ...inputs.map((i) => b.input(i.name, i.dtype ?? "f32", i.shape)),
    ...consts.map((c) => b.constant(c.name, c.data, c.shape)),
    ...state.map((s) => b.state(s.name, "f32", s.shape)),
  ];
  b.output(b.node(op, "out", order ?? names, attrs));
  return b.finish();
}

/**
 * The SIMD QLinear kernels round each row of x to 32767 levels of its largest |x| (linear-q8.ts),
 * the relaxed one to 63 (kernels-relaxed/linear-q8s.ts): an output may be off by half a level
 * times the weight row's |sum| (the scalar kernel is exact).
 */
function activationRounding(target: TargetName, q: Int8Array, scale: Float32Array, N: number, K: number) {
  return ({ x }: Record<string, TensorData>) => {
    if (target === "wasm") return 0;
    const level = Math.max(...Array.from(x as Float32Array, Math.abs)) / (target === "wasm-relaxed" ? 63 : 32767);
    let most = 0;
    for (let n = 0; n < N; n++)
      most = Math.max(most, Math.abs(scale[n]) * q.subarray(n * K, (n + 1) * K).reduce((a, v) => a + Math.abs(v), 0));
    return 0.5 * level * most;
  };
}

/**
 * `slack`: error a kernel is allowed beyond f32 rounding, for one call's feeds. The output's memory
 * is planned for the most rows (T up to its maximum); each call's rows past its own T are filled with
 * GUARD first and must still hold it after: a kernel that computes a block of rows or a lane past
 * its end writes there, where a comparison of the outputs alone cannot see it.
 */
async function expectParity(
  graph: ReturnType<typeof oneOp>,
  calls: Record<string, TensorData>[],
  target: TargetName,
  slack?: (feeds: Record<string, TensorData>) => number,
) {
  const model = await compileAndLoad(graph, target);
  expect(model.backend).toBe(target);
  const ref = new Interpreter(graph);
  for (const feeds of calls) {
    const want = ref.run(feeds).out.data;
    const guard = guardPast(model, "out", want.length);
    const got = (await model.run(feeds as Record<string, Float32Array | Int32Array>)).out as Float32Array | Int32Array;
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    expect(got.length).toBe(want.length);
    expect(maxAbsDiff(got, want)).toBeLessThan(2e-6 * scale + (slack?.(feeds) ?? 0));
    expect(guard.written(), guard.message()).toBe(-1);
  }
}

describe.each(["wasm-simd", "wasm-relaxed", "wasm"] as const)("%s kernels match the reference interpreter", (target) => {
  // Weights this small are stored transposed for the SIMD kernels (passes/weight-layout.ts,
  // kernels/linear-kn.ts): N = 7, 172, 9, 16 cross its 8- and 4-column groups, odd K its unrolled k.
  it.each([
    [13, 7],
    [3, 1],
    [64, 172],
    [17, 9],
    [64, 16],
  ])("Linear with K=%i, N=%i for T = 1, 3, 5", async (K, N) => {
    const g = oneOp("Linear", [{ name: "x", shape: ["T", K] }], [{ name: "w", data: randomF32(N * K, K * 100 + N), shape: [N, K] }]);
    await expectParity(
      g,
      [1, 3, 5].map((T) => ({ x: randomF32(T * K, T) })),
      target,
    );
  });

  it("Linear with rows interleaved in fours (layout n4, as passes/weight-layout.ts writes them for big models): K=36, N=20, bias, ReLU, residual, for T = 1 to 7", async () => {
    const [K, N] = [36, 20];
    const w = storeWeights(randomF32(N * K, 10), N, K, "n4");
    const g = oneOp(
      "Linear",
      [
        { name: "x", shape: ["T", K] },
        { name: "r", shape: ["T", N] },
      ],
      [
        { name: "w", data: w, shape: [N, K] },
        { name: "b", data: randomF32(N, 11), shape: [N] },
      ],
      { layout: "n4", activation: "relu", residual: 1 },
      [],
      ["x", "w", "b", "r"],
    );
    await expectParity(
      g,
      [1, 2, 3, 4, 5, 6, 7].map((T) => ({ x: randomF32(T * K, T), r: randomF32(T * N, T + 20) })),
      target,
    );
  });

  it("Linear with weights stored transposed (layout kn, as passes/weight-layout.ts writes them): K=17, N=13 for T = 1, 3, 5", async () => {
    const [K, N] = [17, 13];
    const g = oneOp(
      "Linear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: randomF32(N * K, 8), shape: [K, N] },
        { name: "b", data: randomF32(N, 9), shape: [N] },
      ],
      { layout: "kn" },
    );
    await expectParity(
      g,
      [1, 3, 5].map((T) => ({ x: randomF32(T * K, T) })),
      target,
    );
  });

  // Every token blocking linear.ts and linear-q8.ts use: fours, then a two and a one.
  const TOKENS = [1, 2, 3, 4, 5, 6, 7];

  it("Linear with weights too big to stay in cache (row-major, kernels/linear.ts): K=1031, N=519 for T = 1 to 7", async () => {
    const [K, N] = [1031, 519];
    const g = oneOp(
      "Linear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: randomF32(N * K, 5), shape: [N, K] },
        { name: "b", data: randomF32(N, 6), shape: [N] },
      ],
    );
    await expectParity(
      g,
      TOKENS.map((T) => ({ x: randomF32(T * K, T) })),
      target,
    );
  });

  // N a multiple of 4 and K of 16 (64 × 8, 48 × 12): the SIMD builds store the weights "n4k16".
  it.each([
    [37, 7],
    [64, 9],
    [173, 4],
    [16, 6],
    [64, 8],
    [48, 12],
  ])("QLinear (int8 weights, per-row scales, bias) with K=%i, N=%i for T = 1 to 7", async (K, N) => {
    const q = Int8Array.from(randomF32(N * K, K + N, 127), Math.round);
    const scale = randomF32(N, 3, 0.01);
    const g = oneOp(
      "QLinear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: q, shape: [N, K] },
        { name: "scale", data: scale, shape: [N] },
        { name: "b", data: randomF32(N, 4), shape: [N] },
      ],
    );
    await expectParity(
      g,
      TOKENS.map((T) => ({ x: randomF32(T * K, T) })),
      target,
      activationRounding(target, q, scale, N, K),
    );
  });

  // The matmul kernels take four tokens at a time, then two, then one: up to 7 tokens the block of
  // four runs only from token 0, so these calls of 8 to 11 tokens are the first to reach a second one.
  it.each(["Linear kn", "Linear n4", "Linear row-major", "QLinear"])(
    "%s past a first block of four tokens: T = 8 to 11",
    async (variant) => {
      const [K, N] = variant === "Linear row-major" ? [1031, 519] : variant === "Linear n4" ? [36, 20] : [37, 7];
      const feeds = [8, 9, 10, 11].map((T) => ({ x: randomF32(T * K, T + 70), r: randomF32(T * N, T + 80) }));
      if (variant === "QLinear") {
        const q = Int8Array.from(randomF32(N * K, 71, 127), Math.round);
        const scale = randomF32(N, 72, 0.01);
        const consts = [
          { name: "w", data: q, shape: [N, K] },
          { name: "scale", data: scale, shape: [N] },
        ];
        const g = oneOp("QLinear", [{ name: "x", shape: ["T", K] }], consts, {}, [], undefined, 11);
        return expectParity(
          g,
          feeds.map(({ x }) => ({ x })),
          target,
          activationRounding(target, q, scale, N, K),
        );
      }
      const w = randomF32(N * K, 73);
      const attrs: Attrs = variant === "Linear n4" ? { layout: "n4", residual: 1 } : { residual: 1 };
      const g = oneOp(
        "Linear",
        [
          { name: "x", shape: ["T", K] },
          { name: "r", shape: ["T", N] },
        ],
        [
          { name: "w", data: variant === "Linear n4" ? storeWeights(w, N, K, "n4") : w, shape: [N, K] },
          { name: "b", data: randomF32(N, 74), shape: [N] },
        ],
        attrs,
        [],
        ["x", "w", "b", "r"],
        11,
      );
      await expectParity(g, feeds, target);
    },
  );

  it("QLinear's integer sums do not overflow: 4099 inputs, every weight 127 or -127, every input at the row's largest", async () => {
    const K = 4099,
      N = 3;
    const q = Int8Array.from({ length: N * K }, (_, i) => (i < 2 * K ? 127 : -127));
    const g = oneOp(
      "QLinear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: q, shape: [N, K] },
        { name: "scale", data: Float32Array.of(1e-3, 2e-3, 1e-3), shape: [N] },
      ],
    );
    await expectParity(
      g,
      [4, 1].map((T) => ({ x: Float32Array.from({ length: T * K }, (_, i) => (i % 2 ? 3 : -3) * (Math.floor(i / K) % 2 ? 1 : -1)) })),
      target,
    );
    await expectParity(
      g,
      [5].map((T) => ({ x: new Float32Array(T * K).fill(-2.5) })),
      target,
    );
  });

  it.each([19, 5, 64])("RMSNorm over %i features", async (D) => {
    const g = oneOp("RMSNorm", [{ name: "x", shape: ["T", D] }], [{ name: "w", data: randomF32(D, 7), shape: [D] }], { epsilon: 1e-5 });
    await expectParity(
      g,
      [1, 4].map((T) => ({ x: randomF32(T * D, T + D, 3) })),
      target,
    );
  });

  // Rows with a mean far from 0 (so the mean matters) over 19 features, and over 64 (kernels/norm.ts).
  it.each([19, 64])("LayerNorm over %i features, rows centred away from 0", async (D) => {
    const consts = [
      { name: "w", data: randomF32(D, 5), shape: [D] },
      { name: "b", data: randomF32(D, 6), shape: [D] },
    ];
    const g = oneOp("LayerNorm", [{ name: "x", shape: ["T", D] }], consts, { epsilon: 1e-5 });
    const calls = [1, 4].map((T) => ({ x: randomF32(T * D, T + D, 2).map((v, i) => v + (i % 3) + Math.floor(i / D)) }));
    await expectParity(g, calls, target);
  });

  it.each([19, 64])("L2Normalize over %i features, and a row too small for anything but eps", async (D) => {
    const g = oneOp("L2Normalize", [{ name: "x", shape: ["T", D] }], [], { epsilon: 1e-6 });
    const calls = [1, 3].map((T) => ({ x: randomF32(T * D, T + D, 3).map((v, i) => (i < D && T > 1 ? v * 1e-6 : v)) }));
    await expectParity(g, calls, target);
  });

  // Inputs around 1e-3: mean(x²) ≈ 3e-7 and 8e-6, at or below eps = 1e-5, so a kernel that drops
  // eps is off several-fold (with |x| ~ 3 eps is a part in a million, below any tolerance).
  it.each([19, 64])("RMSNorm over %i features with inputs so small that eps decides the scale", async (D) => {
    const eps = 1e-5;
    const w = randomF32(D, 7);
    const g = oneOp("RMSNorm", [{ name: "x", shape: ["T", D] }], [{ name: "w", data: w, shape: [D] }], { epsilon: eps });
    const calls = [1, 4].flatMap((T) => [1e-3, 5e-3].map((scale) => ({ x: randomF32(T * D, T + D, scale) })));
    // The interpreter against the formula, and the formula without eps far from it.
    for (const { x } of calls) {
      const want = new Interpreter(g).run({ x }).out.data as Float32Array;
      for (let t = 0; t < x.length / D; t++) {
        const row = x.subarray(t * D, (t + 1) * D);
        const ms = row.reduce((a, v) => a + v * v, 0) / D;
        const exact = Array.from(row, (v, i) => (w[i] * v) / Math.sqrt(ms + eps));
        const noEps = Array.from(row, (v, i) => (w[i] * v) / Math.sqrt(ms));
        expect(maxAbsDiff(want.subarray(t * D, (t + 1) * D), exact)).toBeLessThan(1e-6);
        expect(maxAbsDiff(noEps, exact)).toBeGreaterThan(0.1);
      }
    }
    await expectParity(g, calls, target);
  });

  it.each(["Add", "SwiGLU"])("%s over 23 features", async (op) => {
    const g = oneOp(
      op,
      [
        { name: "a", shape: ["T", 23] },
        { name: "b", shape: ["T", 23] },
      ],
      [],
    );
    await expectParity(
      g,
      [1, 5].map((T) => ({ a: randomF32(T * 23, T, 4), b: randomF32(T * 23, T + 9, 4) })),
      target,
    );
  });

  it("Tanh over 23 features, from 0 to saturation", async () => {
    const g = oneOp("Tanh", [{ name: "x", shape: ["T", 23] }], []);
    await expectParity(
      g,
      [1, 6].map((T) => ({ x: randomF32(T * 23, T + 40, 6) })),
      target,
    );
  });

  it("AddRows: the first T rows of a 9-row position table added to T = 1, 4, 7 rows of 23", async () => {
    const g = oneOp("AddRows", [{ name: "x", shape: ["T", 23] }], [{ name: "table", data: randomF32(9 * 23, 51), shape: [9, 23] }]);
    await expectParity(
      g,
      [1, 4, 7].map((T) => ({ x: randomF32(T * 23, T + 50) })),
      target,
    );
  });

  it("MeanRows of T = 1, 3, 7 rows of 23 features, each call after a longer one", async () => {
    const g = oneOp("MeanRows", [{ name: "x", shape: ["T", 23] }], []);
    await expectParity(
      g,
      [7, 1, 3].map((T) => ({ x: randomF32(T * 23, T + 60, 3) })),
      target,
    );
  });

  /** An encoder's graph, whose calls may have no tokens (T = 0). */
  const encoder = (g: ReturnType<typeof oneOp>) => ({ ...g, model: { ...g.model, family: "encoder" as const } });

  // kernels/mean-linear.ts: the columns averaged 1024 at a time, so K = 1029 takes a full chunk
  // (four weight rows at a time, then N's last three) and a partial one of 5 (row by row, while the
  // buffer of means past those 5 still holds the first chunk's); T = 0 gives zeros (no bias), and T
  // goes up to 11, each call after a longer one.
  it("MeanLinear with a bias over K=1029, N=7 for T = 9, 0, 1, 11, 4", async () => {
    const [K, N] = [1029, 7];
    const g = oneOp(
      "MeanLinear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: randomF32(N * K, 91), shape: [N, K] },
        { name: "b", data: randomF32(N, 92, 3), shape: [N] },
      ],
      {},
      [],
      undefined,
      11,
    );
    await expectParity(
      encoder(g),
      [9, 0, 1, 11, 4].map((T) => ({ x: randomF32(T * K, T + 93, 2) })),
      target,
    );
  });

  // 37 columns: one chunk of a width that is not a multiple of 4, so row by row.
  it("MeanLinear without a bias over K=37, N=9 for T = 5 and 2", async () => {
    const [K, N] = [37, 9];
    const g = oneOp("MeanLinear", [{ name: "x", shape: ["T", K] }], [{ name: "w", data: randomF32(N * K, 94), shape: [N, K] }]);
    await expectParity(
      g,
      [5, 2].map((T) => ({ x: randomF32(T * K, T + 95, 2) })),
      target,
    );
  });

  it("MeanQLinear (int8 weights, per-row scales, bias) over K=1030, N=6 for T = 9, 0, 1, 11", async () => {
    const [K, N] = [1030, 6];
    const q = Int8Array.from(randomF32(N * K, 96, 127), Math.round);
    const g = oneOp(
      "MeanQLinear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: q, shape: [N, K] },
        { name: "scale", data: randomF32(N, 97, 0.01), shape: [N] },
        { name: "b", data: randomF32(N, 98, 3), shape: [N] },
      ],
      {},
      [],
      undefined,
      11,
    );
    await expectParity(
      encoder(g),
      [9, 0, 1, 11].map((T) => ({ x: randomF32(T * K, T + 99, 2) })),
      target,
    );
  });

  // kernels/per-text.ts: three texts packed end to end (passes/pack-texts.ts), one of them empty in
  // the first call; each text's rows alone.
  const LENGTHS = [Int32Array.of(3, 0, 5), Int32Array.of(4, 6, 1)];
  const packed = (width: number, seed: number) =>
    LENGTHS.map((lengths) => {
      const T = lengths.reduce((a, n) => a + n, 0);
      return { x: randomF32(T * width, T + seed, 2), lengths };
    });
  const lengthsInput = { name: "lengths", shape: [3], dtype: "i32" as const };

  it("MeanLinear per text (lengths 3, 0, 5 and 4, 6, 1) over K=37, N=6 with a bias", async () => {
    const [K, N] = [37, 6];
    const g = oneOp(
      "MeanLinear",
      [{ name: "x", shape: ["T", K] }, lengthsInput],
      [
        { name: "w", data: randomF32(N * K, 101), shape: [N, K] },
        { name: "b", data: randomF32(N, 102, 3), shape: [N] },
      ],
      {},
      [],
      ["x", "w", "b", "lengths"],
      11,
    );
    await expectParity(g, packed(K, 103), target);
  });

  it("MeanQLinear per text (lengths 3, 0, 5 and 4, 6, 1) over K=37, N=6 with a bias", async () => {
    const [K, N] = [37, 6];
    const q = Int8Array.from(randomF32(N * K, 104, 127), Math.round);
    const scale = randomF32(N, 105, 0.01);
    const g = oneOp(
      "MeanQLinear",
      [{ name: "x", shape: ["T", K] }, lengthsInput],
      [
        { name: "w", data: q, shape: [N, K] },
        { name: "scale", data: scale, shape: [N] },
        { name: "b", data: randomF32(N, 106, 3), shape: [N] },
      ],
      {},
      [],
      ["x", "w", "scale", "b", "lengths"],
      11,
    );
    await expectParity(g, packed(K, 107), target, activationRounding(target, q, scale, N, K));
  });

  it("MeanRows per text (lengths 3, 0, 5 and 4, 6, 1) of 23 features", async () => {
    const g = oneOp("MeanRows", [{ name: "x", shape: ["T", 23] }, lengthsInput], [], {}, [], undefined, 11);
    await expectParity(g, packed(23, 108), target);
  });

  it("AddRows per text (lengths 3, 0, 5 and 4, 6, 1): each text from the table's first row", async () => {
    const g = oneOp(
      "AddRows",
      [{ name: "x", shape: ["T", 23] }, lengthsInput],
      [{ name: "table", data: randomF32(9 * 23, 109), shape: [9, 23] }],
      {},
      [],
      ["x", "table", "lengths"],
      11,
    );
    await expectParity(g, packed(23, 110), target);
  });

  it("SelfAttention per text (lengths 3, 0, 5 and 4, 6, 1) with 3 heads of width 5", async () => {
    const g = oneOp(
      "SelfAttention",
      [...["q", "k", "v"].map((name) => ({ name, shape: ["T", 15] })), lengthsInput],
      [],
      { heads: 3, headDim: 5, scale: 0.4 },
      [],
      undefined,
      11,
    );
    const calls = LENGTHS.map((lengths) => {
      const T = lengths.reduce((a, n) => a + n, 0);
      return { q: randomF32(T * 15, T + 111, 2), k: randomF32(T * 15, T + 112, 2), v: randomF32(T * 15, T + 113), lengths };
    });
    await expectParity(g, calls, target);
  });

  // kernels/tensor.ts, for the general ops an imported graph keeps (static shapes).
  it("MatMul of [5, 7] by [7, 9], and batched [2, 1, 3, 6] by [3, 6, 5] (both broadcast)", async () => {
    const single = oneOp("MatMul", [{ name: "a", shape: [5, 7] }], [{ name: "b", data: randomF32(7 * 9, 121), shape: [7, 9] }]);
    await expectParity(single, [{ a: randomF32(35, 122, 2) }], target);
    const batched = oneOp(
      "MatMul",
      [{ name: "a", shape: [2, 1, 3, 6] }],
      [{ name: "b", data: randomF32(3 * 6 * 5, 123), shape: [3, 6, 5] }],
    );
    await expectParity(batched, [{ a: randomF32(36, 124, 2) }], target);
  });

  it("Softmax over rows of 13, from logits far from 0 (±60) to a row of equal ones", async () => {
    const g = oneOp("Softmax", [{ name: "x", shape: [3, 4, 13] }], []);
    const x = randomF32(3 * 4 * 13, 125, 60);
    x.fill(-70, 13, 26);
    await expectParity(g, [{ x }, { x: randomF32(3 * 4 * 13, 126, 3) }], target);
  });

  // sigmoid and tanh over a tensor as it is run the elementwise kernels' vector loops (kernels/simd.ts's
  // exp4 and tanh4, math.ts's expf and tanhf for the tail); exp stays the generated loop of Mathf.exp,
  // whose subnormal results it keeps. Each within 4 ulp of the function in float64 across its range
  // (tanh's branches meet at |x| = 0.625), zeros' signs, NaN and ±∞ kept.
  it.each([
    ["exp", Math.exp, "Mathf.exp("],
    ["sigmoid", (x: number) => 1 / (1 + Math.exp(-x)), "sigmoid("],
    ["tanh", Math.tanh, "tanh("],
  ] as const)("Map %s over [T, 23], T = 1 and 7, within 4 ulp from −100 to 100, signed zeros, NaN and ±∞", async (fn, f, call) => {
    const g = oneOp("Map", [{ name: "x", shape: ["T", 23] }], [], { fn, dtype: "f32" });
    const source = String((await compileArtifact({ graph: g, format: "graph" }, { target })).files.get("src/model.ts"));
    expect(source, "the forward's call").toContain(call);
    expect(source.includes("Mathf."), "a generated loop of Mathf calls").toBe(fn === "exp");
    const model = await compileAndLoad(g, target);
    const special = [0, -0, 1e-8, -1e-8, 0.6249, 0.625, 0.6251, -0.625, 20, -20, -90, -100, 88.5, -88.5, 100, Infinity, -Infinity, NaN];
    const sweep = Array.from({ length: 7 * 23 - special.length }, (_, i) => -100 + (200 * i) / (7 * 23 - special.length - 1));
    for (const T of [1, 7]) {
      const x = Float32Array.from([...special, ...sweep].slice(0, T * 23));
      const guard = guardPast(model, "out", T * 23);
      const y = (await model.run({ x })).out as Float32Array;
      expect(guard.written(), guard.message()).toBe(-1);
      x.forEach((v, i) => {
        const want = Math.fround(f(v));
        if (Number.isNaN(want)) return expect(y[i], `${fn}(${v})`).toBeNaN();
        if (want === 0 || !Number.isFinite(want)) return expect(Object.is(y[i], want), `${fn}(${v}) = ${y[i]}, not ${want}`).toBe(true);
        // 4 ulp of float32 at want's binade; sigmoid's subnormal results (x below −87.3) may come out 0.
        const ulp = 2 ** (Math.floor(Math.log2(Math.abs(want))) - 23);
        const slack = fn === "sigmoid" ? 2 ** -126 : 0;
        expect(Math.abs(y[i] - want), `${fn}(${v}) = ${y[i]}, not ${want}`).toBeLessThanOrEqual(Math.max(4 * ulp, slack));
      });
    }
  });

  it.each(["erf", "gelu"])("Map %s over [4, 23], negative and positive to saturation", async (fn) => {
    const g = oneOp("Map", [{ name: "x", shape: [4, 23] }], [], { fn, dtype: "f32" });
    await expectParity(g, [{ x: randomF32(4 * 23, 127, 5) }], target);
  });

  it("Gather rows of an 11 x 13 table, every id including the last", async () => {
    const g = oneOp(
      "Gather",
      [{ name: "ids", shape: ["T"], dtype: "i32" }],
      [{ name: "table", data: randomF32(11 * 13, 3), shape: [11, 13] }],
      {},
      [],
      ["table", "ids"],
    );
    await expectParity(
      g,
      [Int32Array.of(10), Int32Array.of(0, 5, 10, 3, 7)].map((ids) => ({ ids })),
      target,
    );
  });

  it("LastRow of 3 and 1 rows of 7", async () => {
    const g = oneOp("LastRow", [{ name: "x", shape: ["T", 7] }], []);
    await expectParity(
      g,
      [3, 1].map((T) => ({ x: randomF32(T * 7, T) })),
      target,
    );
  });

  it("RoPE with 3 heads of 6 at positions 0 and 9", async () => {
    const half = 3;
    const g = oneOp(
      "RoPE",
      [
        { name: "x", shape: ["T", 18] },
        { name: "pos", shape: [1], dtype: "i32" },
      ],
      [
        { name: "cos", data: randomF32(CONTEXT * half, 1), shape: [CONTEXT, half] },
        { name: "sin", data: randomF32(CONTEXT * half, 2), shape: [CONTEXT, half] },
      ],
      { headDim: 6, interleaved: 1 },
    );
    await expectParity(
      g,
      [
        { x: randomF32(18 * 4, 4), pos: Int32Array.of(0) },
        { x: randomF32(18 * 2, 5), pos: Int32Array.of(9) },
      ],
      target,
    );
  });

  // An encoder's bidirectional attention (kernels/attention.ts selfAttention): every token sees all T.
  it("SelfAttention with 3 heads of width 5 over T = 1, 4 and 7 tokens", async () => {
    const g = oneOp(
      "SelfAttention",
      ["q", "k", "v"].map((name) => ({ name, shape: ["T", 15] })),
      [],
      { heads: 3, headDim: 5, scale: 0.4 },
    );
    const calls = [1, 4, 7].map((T) => ({ q: randomF32(T * 15, T + 1, 2), k: randomF32(T * 15, T + 2, 2), v: randomF32(T * 15, T + 3) }));
    await expectParity(g, calls, target);
  });

  // An imported graph's attention fused back (kernels/attention.ts scaledAttention): batches, query
  // heads sharing kv heads, an additive bias and a keep-mask broadcast from other shapes, and the
  // causal shortcut with fewer queries than keys (a step after a past).
  it.each([
    ["plain, 4 query heads over 2 kv heads, S = T", { scale: 0.35 }, 5, []],
    [
      "bias [B, 1, S, T], keep [B, 1, 1, T], causal, S < T",
      { scale: 0.3, bias: 1, keep: 1, fill: -1e4, causal: 1, causalFill: -1e9 },
      3,
      ["bias", "keep"],
    ],
    ["bias [1, Nq, S, T] alone, rank-4 with B = 2", { scale: 0.5, bias: 1 }, 5, ["headBias"]],
  ] as const)("ScaledAttention: %s", async (_name, attrs, S, extras) => {
    const [B, Nq, Nkv, T, H] = [2, 4, 2, 5, 6];
    const inputs: { name: string; shape: number[]; dtype?: "i32" }[] = [
      { name: "q", shape: [B, Nq, S, H] },
      { name: "k", shape: [B, Nkv, T, H] },
      { name: "v", shape: [B, Nkv, T, H] },
    ];
    const feeds: Record<string, TensorData> = {
      q: randomF32(B * Nq * S * H, 31, 2),
      k: randomF32(B * Nkv * T * H, 32, 2),
      v: randomF32(B * Nkv * T * H, 33),
    };
    for (const e of extras) {
      if (e === "bias") {
        inputs.push({ name: "bias", shape: [B, 1, S, T] });
        feeds.bias = randomF32(B * S * T, 34, 3);
      } else if (e === "headBias") {
        inputs.push({ name: "bias", shape: [1, Nq, S, T] });
        feeds.bias = randomF32(Nq * S * T, 35, 3);
      } else {
        inputs.push({ name: "keep", shape: [B, 1, 1, T], dtype: "i32" });
        feeds.keep = Int32Array.of(1, 0, 1, 1, 1, 1, 1, 1, 0, 1);
      }
    }
    await expectParity(oneOp("ScaledAttention", inputs, [], attrs), [feeds], target);
  });

  it("Attention with 6 query heads over 2 KV heads of width 5, across calls that fill the cache", async () => {
    const [heads, kvHeads, hd] = [6, 2, 5];
    const g = oneOp(
      "Attention",
      [
        { name: "q", shape: ["T", heads * hd] },
        { name: "k", shape: ["T", kvHeads * hd] },
        { name: "v", shape: ["T", kvHeads * hd] },
        { name: "pos", shape: [1], dtype: "i32" },
      ],
      [],
      { heads, kvHeads, headDim: hd },
      [
        { name: "kCache", shape: [CONTEXT, kvHeads * hd] },
        { name: "vCache", shape: [CONTEXT, kvHeads * hd] },
      ],
    );
    const r = rng(5);
    let pos = 0;
    const calls = [3, 1, 5, 2].map((T) => {
      const feeds = {
        q: randomF32(T * heads * hd, r() * 1e6, 2),
        k: randomF32(T * kvHeads * hd, r() * 1e6, 2),
        v: randomF32(T * kvHeads * hd, r() * 1e6),
        pos: Int32Array.of(pos),
      };
      pos += T;
      return feeds;
    });
    await expectParity(g, calls, target);
  });

  // Width 8 takes the SIMD attendRow (simd.ts), which scores 128 keys at a time: 150 cached keys
  // cross a chunk, and calls of 1 to 7 tokens leave 1 to 3 keys past the groups of four.
  it("Attention with 8 query heads over 4 KV heads of width 8 (stories260K's) as the cache fills past 128 keys", async () => {
    const [heads, kvHeads, hd, context] = [8, 4, 8, 160];
    const b = new GraphBuilder("attention", { family: "decoder", config: { contextLength: context } });
    b.dim("T", 7);
    const inputs = [
      ["q", heads],
      ["k", kvHeads],
      ["v", kvHeads],
    ].map(([name, h]) => b.input(name as string, "f32", ["T", (h as number) * hd]));
    const caches = ["kCache", "vCache"].map((name) => b.state(name, "f32", [context, kvHeads * hd]));
    b.output(b.node("Attention", "out", [...inputs, b.input("pos", "i32", [1]), ...caches], { heads, kvHeads, headDim: hd }));
    const r = rng(7);
    let pos = 0;
    const calls = [7, 1, 6, 3, ...Array(18).fill(7), 2, 5].map((T) => {
      const feeds = {
        q: randomF32(T * heads * hd, r() * 1e6, 2),
        k: randomF32(T * kvHeads * hd, r() * 1e6, 2),
        v: randomF32(T * kvHeads * hd, r() * 1e6),
        pos: Int32Array.of(pos),
      };
      pos += T;
      return feeds;
    });
    expect(pos).toBe(150);
    await expectParity(b.finish(), calls, target);
  });
});

// The SIMD QLinear kernels round each row of x to integer levels before the integer dot products:
// xs = max|x| / Q, xq = nearest(x · Q / max|x|), with Q = min(32767, the levels that keep an i32
// lane from overflowing) on wasm-simd (kernels/linear-q8.ts) and Q = 63 on wasm-relaxed, whose
// activations carry an offset of 64 that the weight rows' sums take out again
// (kernels-relaxed/linear-q8s.ts). Re-derived here, every output is xs · scale[n] · an exact
// integer sum, to f32 rounding: the inputs sit 0.3 or 0.7 of a level from a whole one, and most
// are a few levels, so truncating instead of rounding moves each sum by many levels.
describe.each(["wasm-simd", "wasm-relaxed"] as const)("%s QLinear's integer arithmetic, re-derived exactly", (target) => {
  const levels = (K: number) => (target === "wasm-relaxed" ? 63 : Math.min(32767, Math.floor(2147483647 / (127 * (((K + 15) >> 4) << 2)))));

  it.each([
    [37, 6],
    [2101, 6],
    [2112, 8],
  ])("K=%i, N=%i for T = 1 to 7: exact integer sums, rounded activations", async (K, N) => {
    const r = rng(K * 31 + N);
    const q = Int8Array.from({ length: N * K }, () => Math.round((r() * 2 - 1) * 127));
    const scale = Float32Array.from({ length: N }, () => 0.001 + r() * 0.01);
    const bias = randomF32(N, 4);
    const g = oneOp(
      "QLinear",
      [{ name: "x", shape: ["T", K] }],
      [
        { name: "w", data: q, shape: [N, K] },
        { name: "scale", data: scale, shape: [N] },
        { name: "b", data: bias, shape: [N] },
      ],
    );
    const Q = levels(K);
    if (target === "wasm-simd") expect(K < 2064 ? Q === 32767 : Q < 32767).toBe(true);
    const model = await compileAndLoad(g, target);
    for (let T = 1; T <= 7; T++) {
      // Row t: its largest |x| (top) at one column, the rest m + 0.7 or m + 0.3 levels (m in 0..20), either sign.
      const x = new Float32Array(T * K);
      const tops: number[] = [];
      for (let t = 0; t < T; t++) {
        const top = Math.fround(0.5 + t * 0.25);
        tops.push(top);
        for (let k = 0; k < K; k++) {
          const level = Math.floor(r() * 21) + (r() < 0.75 ? 0.7 : 0.3);
          x[t * K + k] = (r() < 0.5 ? -1 : 1) * ((level * top) / Q);
        }
        x[t * K + ((t * 5) % K)] = t % 2 ? -top : top;
      }
      const got = (await model.run({ x })).out as Float32Array;
      let truncatedApart = 0;
      for (let t = 0; t < T; t++) {
        const inv = Math.fround(Q / tops[t]),
          xs = Math.fround(tops[t] / Q);
        const xq = Array.from(x.subarray(t * K, (t + 1) * K), (v) => Math.round(Math.fround(v * inv)));
        const xt = Array.from(x.subarray(t * K, (t + 1) * K), (v) => Math.trunc(Math.fround(v * inv)));
        for (let n = 0; n < N; n++) {
          let sum = 0,
            sumTrunc = 0;
          for (let k = 0; k < K; k++) {
            sum += xq[k] * q[n * K + k];
            sumTrunc += xt[k] * q[n * K + k];
          }
          const want = xs * scale[n] * sum + bias[n];
          const tolerance = 1e-6 * (Math.abs(xs * scale[n] * sum) + Math.abs(bias[n])) + 1e-9;
          expect(Math.abs(got[t * N + n] - want), `t=${t} n=${n}`).toBeLessThan(tolerance);
          truncatedApart = Math.max(truncatedApart, Math.abs(xs * scale[n] * (sum - sumTrunc)) / tolerance);
        }
      }
      expect(truncatedApart).toBeGreaterThan(10); // the case tells rounding from truncation
    }
  });
});
