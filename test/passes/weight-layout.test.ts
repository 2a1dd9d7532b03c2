// layoutWeights: a model whose matmul weights fit in cache gets them stored [K, N] for the SIMD
// kernels (kernels/linear-kn.ts), a bigger one (and a weight that only multiplies a few rows fixed at
// build time) in groups of four rows interleaved by four columns (kernels/linear-n4.ts); a tied weight that Gather also reads, a weight whose dimensions are not
// multiples of 4 in a big model, and the targets whose kernels read [N, K] (scalar, WebGPU) keep
// them as written. Every Linear-family weight counts toward the budget (exactly at it is still
// small); a weight that is not an f32 constant, is laid out already, or is read other than as a
// Linear's weight is left as it is.
import { describe, expect, it } from "vitest";
import { compileArtifact } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { q4RowBytes, quantizeQ4Blocks } from "../../compiler/ir/ops/linear-q4.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { CACHED_WEIGHT_BYTES, layoutWeights, MATVEC_ROWS } from "../../compiler/passes/weight-layout.js";
import { compileAndLoad } from "../helpers/compile.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

/** logits = tied(relu(up(embed(tokens))) + embed(tokens)): `tied` shares its weight with the Gather; up is N × D, the table V × D. */
function decoderLike(N = 24, D = 8, V = D === 8 ? 10 : 12) {
  const b = new GraphBuilder("tiny", { family: "graph", config: {} });
  b.dim("T", 6);
  const tokens = b.input("tokens", "i32", ["T"]);
  const table = b.constant("embed", randomF32(V * D, 1), [V, D]);
  const x = b.node("Gather", "x", [table, tokens]);
  const h = b.node("Relu", "h", [
    b.node("Linear", "up", [x, b.constant("up.w", randomF32(N * D, 2), [N, D]), b.constant("up.b", randomF32(N, 3), [N])]),
  ]);
  const down = b.node("Linear", "down", [h, b.constant("down.w", randomF32(D * N, 4), [D, N])]);
  b.output(b.node("Linear", "logits", [b.node("Add", "sum", [down, x]), table]));
  return b.finish();
}

/** A graph whose outputs `body` builds. */
function linears(body: (b: GraphBuilder) => string[]) {
  const b = new GraphBuilder("linears", { family: "graph", config: {} });
  for (const o of body(b)) b.output(o);
  return b.finish();
}

/** An f32 constant [n, k]. */
const weight = (b: GraphBuilder, name: string, n: number, k: number) => b.constant(name, randomF32(n * k, n + k), [n, k]);

/** Linear y reads the f32 constant w [4, 4] as its weight, and `other` reads w too. */
const shared =
  (other: (b: GraphBuilder, x: string, w: string) => string) =>
  (b: GraphBuilder, x: string): string[] => {
    const w = weight(b, "w", 4, 4);
    return [b.node("Linear", "y", [x, w]), other(b, x, w)];
  };

/** The smallest N (a multiple of 4) that takes decoderLike's matmul weights (up and down: 2 · N · 8 · 4 bytes) past the cache budget. */
const BIG = Math.ceil(CACHED_WEIGHT_BYTES / 64 / 4) * 4 + 4;

describe("layoutWeights", () => {
  it("stores small models' Linear weights [K, N], in their places, and leaves a weight Gather also reads", () => {
    const before = decoderLike();
    const { graph, layout, moved } = layoutWeights(before);
    expect([layout, moved]).toEqual(["kn", 2]);
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[1] ?? ""} ${n.attrs.layout ?? ""}`.trim())).toEqual([
      "x tokens",
      "up up.w.kn kn",
      "h",
      "down down.w.kn kn",
      "sum x",
      "logits embed",
    ]);
    expect([...graph.values.values()].filter((v) => v.kind === "const").map((v) => `${v.name} [${v.shape.join(", ")}]`)).toEqual([
      "embed [10, 8]",
      "up.w.kn [8, 24]",
      "up.b [24]",
      "down.w.kn [24, 8]",
    ]);
    const tokens = Int32Array.of(3, 9, 0, 4, 4);
    expect(
      maxAbsDiff(new Interpreter(graph).run({ tokens }).logits.data, new Interpreter(before).run({ tokens }).logits.data),
    ).toBeLessThan(1e-5);
  });

  it(`interleaves the rows of a model whose matmul weights pass ${CACHED_WEIGHT_BYTES} bytes, in groups of four`, () => {
    const before = decoderLike(BIG);
    const { graph, layout, moved } = layoutWeights(before);
    expect([layout, moved]).toEqual(["n4", 2]);
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[1] ?? ""} ${n.attrs.layout ?? ""}`.trim())).toEqual([
      "x tokens",
      "up up.w.n4 n4",
      "h",
      "down down.w.n4 n4",
      "sum x",
      "logits embed",
    ]);
    const up = graph.values.get("up.w.n4")!,
      written = before.values.get("up.w")!.data as Float32Array;
    expect(up.shape).toEqual([BIG, 8]);
    // Group 0's first 16 floats: columns 0-3 of rows 0, 1, 2, 3.
    expect(Array.from((up.data as Float32Array).subarray(0, 16))).toEqual(
      [0, 1, 2, 3].flatMap((n) => Array.from(written.subarray(n * 8, n * 8 + 4))),
    );
    const tokens = Int32Array.of(3, 9, 0, 4, 4);
    expect(
      maxAbsDiff(new Interpreter(graph).run({ tokens }).logits.data, new Interpreter(before).run({ tokens }).logits.data),
    ).toBeLessThan(1e-5);
  });

  it("stores a tied table in groups of four where its classifier takes them: its lookup (Gather) reads the same bytes so", async () => {
    const before = decoderLike(BIG, 8, 12);
    const { graph, moved } = layoutWeights(before);
    expect(moved).toBe(3);
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[n.op === "Gather" ? 0 : 1] ?? ""} ${n.attrs.layout ?? ""}`.trim())).toEqual([
      "x embed.n4 n4",
      "up up.w.n4 n4",
      "h",
      "down down.w.n4 n4",
      "sum x",
      "logits embed.n4 n4",
    ]);
    const tokens = Int32Array.of(3, 11, 0, 4, 4, 8);
    const want = new Interpreter(before).run({ tokens }).logits.data;
    expect(maxAbsDiff(new Interpreter(graph).run({ tokens }).logits.data, want)).toBeLessThan(1e-5);
    // The SIMD targets' kernels (gatherN4: row id's four-float chunks 64 bytes apart), on a table
    // whose classifier multiplies three rows fixed at build time (n4 in a small model too).
    const lookup = linears((b) => {
      const table = weight(b, "table", 12, 8);
      const rows = b.node("Gather", "rows", [table, b.input("ids", "i32", [3])]);
      return [rows, b.node("Linear", "logits", [rows, table])];
    });
    expect(layoutWeights(lookup).graph.nodes.map((n) => n.attrs.layout)).toEqual(["n4", "n4"]);
    const ids = Int32Array.of(11, 0, 6);
    const ref = new Interpreter(lookup).run({ ids });
    for (const target of ["wasm-simd", "wasm-relaxed"] as const) {
      const out = await (await compileAndLoad(lookup, target)).run({ ids });
      expect(maxAbsDiff(out.rows as Float32Array, ref.rows.data), target).toBe(0);
      expect(maxAbsDiff(out.logits as Float32Array, ref.logits.data), target).toBeLessThan(1e-5);
    }
  });

  it(`stores a weight that only multiplies ${MATVEC_ROWS} rows or fewer fixed at build time in groups of four, even in a small model`, () => {
    const before = linears((b) => {
      b.dim("T", 6);
      const step = b.input("h", "f32", [2, 8]),
        tokens = b.input("x", "f32", ["T", 8]);
      return [
        b.node("Linear", "step", [step, weight(b, "r", 16, 8)]),
        b.node("Linear", "all", [tokens, weight(b, "w", 16, 8)]),
        b.node("Linear", "odd", [step, weight(b, "o", 6, 8)]), // 6 rows of weights: not in fours, so transposed
      ];
    });
    const { graph, layout } = layoutWeights(before);
    expect(layout).toBe("kn");
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[1]} ${n.attrs.layout}`)).toEqual(["step r.n4 n4", "all w.kn kn", "odd o.kn kn"]);
    const feeds = { h: randomF32(16, 5), x: randomF32(48, 6) };
    const [got, want] = [graph, before].map((g) => new Interpreter(g).run(feeds));
    for (const name of ["step", "all", "odd"]) expect(maxAbsDiff(got[name].data, want[name].data), name).toBeLessThan(1e-5);
  });

  it("leaves a big model's weights whose dimensions are not multiples of 4 as written", () => {
    const before = decoderLike(BIG + 1);
    const { graph, layout, moved } = layoutWeights(before);
    expect([moved, layout]).toEqual([0, undefined]);
    expect(graph).toBe(before);
  });

  it("transposes a small model's weights whatever their dimensions", () => {
    const { graph, layout, moved } = layoutWeights(
      linears((b) => [b.node("Linear", "y", [b.input("x", "f32", [1, 3]), weight(b, "w", 5, 3)])]),
    );
    expect([layout, moved]).toEqual(["kn", 1]);
    expect(graph.values.get("w.kn")!.shape).toEqual([3, 5]);
  });

  it(`transposes exactly ${CACHED_WEIGHT_BYTES} bytes of weights, and counts a MeanLinear's weight toward them`, () => {
    const atBudget = (b: GraphBuilder) => b.node("Linear", "y", [b.input("x", "f32", [1, 1024]), weight(b, "w", 512, 1024)]);
    expect(layoutWeights(linears((b) => [atBudget(b)])).layout).toBe("kn");
    const over = layoutWeights(
      linears((b) => [atBudget(b), b.node("MeanLinear", "mean", [b.input("m", "f32", [2, 4]), weight(b, "mw", 4, 4)])]),
    );
    expect([over.layout, over.moved, over.graph.nodes[1].inputs[1]]).toEqual(["n4", 1, "mw"]);
  });

  it("stores int8 weights (QLinear, and a tied table's QGather) in fours interleaved by 16 columns whatever the model's size; a K not a multiple of 16 as written", () => {
    /** An int8 weight [n, k] and its scales. */
    const int8 = (b: GraphBuilder, name: string, n: number, k: number) => [
      b.constant(name, Int8Array.from(randomF32(n * k, n + k, 127), Math.round), [n, k]),
      b.constant(`${name}.scale`, randomF32(n, n, 0.01), [n]),
    ];
    const before = linears((b) => {
      b.dim("T", 6);
      const x = b.input("x", "f32", ["T", 32]),
        x24 = b.input("x24", "f32", ["T", 24]);
      const table = int8(b, "table", 8, 32);
      return [
        b.node("QLinear", "a", [x, ...int8(b, "wa", 8, 32)]),
        b.node("QLinear", "short", [x24, ...int8(b, "ws", 8, 24)]),
        b.node("QLinear", "tied", [x, ...table]),
        b.node("QGather", "rows", [...table, b.input("ids", "i32", ["T"])]),
      ];
    });
    const { graph, moved } = layoutWeights(before);
    expect(moved).toBe(2);
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[n.op === "QGather" ? 0 : 1]} ${n.attrs.layout ?? ""}`.trim())).toEqual([
      "a wa.n4k16 n4k16",
      "short ws",
      "tied table.n4k16 n4k16",
      "rows table.n4k16 n4k16",
    ]);
    // Group 0's first 64 bytes: columns 0-15 of rows 0, 1, 2, 3.
    const written = before.values.get("wa")!.data as Int8Array;
    expect(Array.from((graph.values.get("wa.n4k16")!.data as Int8Array).subarray(0, 64))).toEqual(
      [0, 1, 2, 3].flatMap((n) => Array.from(written.subarray(n * 32, n * 32 + 16))),
    );
    const feeds = { x: randomF32(5 * 32, 8), x24: randomF32(5 * 24, 9), ids: Int32Array.of(1, 7, 0, 3, 3) };
    const [got, want] = [graph, before].map((g) => new Interpreter(g).run(feeds));
    for (const name of ["a", "short", "tied", "rows"]) expect(maxAbsDiff(got[name].data, want[name].data), name).toBeLessThan(1e-6);
  });

  it("interleaves 4-bit weights (Q4Linear) four rows at a time, block by block, where N is a multiple of 4; others as written", () => {
    /** A Q4Linear weight of n rows of k inputs, as Q4_0 blocks. */
    const q4 = (b: GraphBuilder, name: string, n: number, k: number) =>
      b.constant(name, new Int8Array(quantizeQ4Blocks(randomF32(n * k, n + k), n, k).buffer), [n, q4RowBytes(k)]);
    const before = linears((b) => {
      b.dim("T", 6);
      const x = b.input("x", "f32", ["T", 45]);
      const shared = q4(b, "shared", 8, 45);
      return [
        b.node("Q4Linear", "a", [x, q4(b, "wa", 8, 45)]),
        b.node("Q4Linear", "odd", [x, q4(b, "wo", 6, 45)]),
        b.node("Q4Linear", "twice", [x, shared]),
        b.node("Q4Linear", "again", [x, shared], { activation: "relu" }),
      ];
    });
    const { graph, moved } = layoutWeights(before);
    expect(moved).toBe(2);
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[1]} ${n.attrs.layout ?? ""}`.trim())).toEqual([
      "a wa.n4 n4",
      "odd wo",
      "twice shared.n4 n4",
      "again shared.n4 n4",
    ]);
    // The first record: rows 0-3's scales, then their first blocks' 16 bytes of nibbles; the second starts 72 bytes in.
    const written = before.values.get("wa")!.data as Int8Array,
      row = q4RowBytes(45);
    const rows = [0, 1, 2, 3].map((n) => written.subarray(n * row, (n + 1) * row));
    expect(Array.from((graph.values.get("wa.n4")!.data as Int8Array).subarray(0, 80))).toEqual([
      ...rows.flatMap((r) => [r[0], r[1]]),
      ...rows.flatMap((r) => Array.from(r.subarray(2, 18))),
      ...rows.flatMap((r) => [r[18], r[19]]),
    ]);
    const feeds = { x: randomF32(5 * 45, 8) };
    const [got, want] = [graph, before].map((g) => new Interpreter(g).run(feeds));
    for (const name of ["a", "odd", "twice", "again"]) expect(maxAbsDiff(got[name].data, want[name].data), name).toBe(0);
  });

  it.each([
    ["an input", (b: GraphBuilder, x: string) => [b.node("Linear", "y", [x, b.input("w", "f32", [4, 4])])]],
    ["an i8 constant", (b: GraphBuilder, x: string) => [b.node("Linear", "y", [x, b.constant("w", new Int8Array(16), [4, 4])])]],
    ["already laid out", (b: GraphBuilder, x: string) => [b.node("Linear", "y", [x, weight(b, "w", 4, 4)], { layout: "kn" })]],
    ["also a MeanLinear's weight", shared((b, x, w) => b.node("MeanLinear", "z", [x, w]))],
    ["also a Linear's input", shared((b, _x, w) => b.node("Linear", "z", [w, w]))],
    ["also a Linear's residual", shared((b, x, w) => b.node("Linear", "z", [x, w, w], { residual: 1 }))],
  ])("leaves a Linear's weight that is %s as it is", (_what, body) => {
    const before = linears((b) => body(b, b.input("x", "f32", [4, 4])));
    const { graph, layout, moved } = layoutWeights(before);
    expect([moved, layout]).toEqual([0, undefined]);
    expect(graph).toBe(before);
  });

  it.each([
    ["wasm-simd", true],
    ["wasm-relaxed", true],
    ["wasm", false],
    ["webgpu", false],
  ] as const)("the %s target's program reads weights laid out for its kernels: %s", async (target, laidOut) => {
    const small = (await compileArtifact({ graph: decoderLike(), format: "graph" }, { target })).files.get("src/model.ts") as string;
    const big = (await compileArtifact({ graph: decoderLike(BIG), format: "graph" }, { target })).files.get("src/model.ts") as string;
    expect([small.includes("linearKN("), big.includes("linearN4(")]).toEqual([laidOut, laidOut]);
    expect(big.includes("linearKN(") || small.includes("linearN4(")).toBe(false);
    if (target === "webgpu") return;
    // int8: a tied table (rows of 16 columns) read interleaved by its classifier and its lookup alike.
    const tied = (await compileArtifact({ graph: quantizeInt8(decoderLike(24, 16)).graph, format: "graph" }, { target })).files.get(
      "src/model.ts",
    ) as string;
    const calls = ["qlinearN4(", "qgatherN4(", "qlinearSumsN4(", "qlinearSums(", "qlinear(", "qgather("].filter((c) => tied.includes(c));
    // down ([16, 24]: K not a multiple of 16) as written; wasm-relaxed's int8 matmuls take their rows' sums (passes/row-sums.ts).
    expect(calls).toEqual(
      {
        wasm: ["qlinear(", "qgather("],
        "wasm-simd": ["qlinearN4(", "qgatherN4(", "qlinear("],
        "wasm-relaxed": ["qgatherN4(", "qlinearSumsN4(", "qlinearSums("],
      }[target],
    );
  });
});
