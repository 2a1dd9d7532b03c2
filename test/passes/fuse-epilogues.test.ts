// fuseEpilogues: a matmul's following Relu and residual Add become its epilogue, and the outputs
// are the unfused graph's, on the reference interpreter and compiled for every wasm flavour. (The
// graph has an output named "t": the emitted program must not confuse it with forward's T.) On small
// graphs: an epilogue taken once (a second Relu or Add stays), an Add of two matmuls, Q4Linear, and a
// matmul left where a node between it and its Add writes its input.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { fuseEpilogues } from "../../compiler/passes/fuse-epilogues.js";
import { quantizeQ4 } from "../../compiler/passes/quantize-q4.js";
import { compileAndLoad } from "../helpers/compile.js";
import { epilogueGraph } from "../helpers/epilogues.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

describe("fuseEpilogues", () => {
  it("folds Relu and residual Adds into the matmul before them, and leaves a matmul with two readers or one that is an output", () => {
    const { graph, fused } = fuseEpilogues(epilogueGraph());
    expect(fused).toBe(4);
    const nodes = graph.nodes.map(
      (n) => `${n.op} ${n.name} ${n.inputs.filter((i) => !i.includes(".")).join(",")} -> ${n.outputs.join(",")} ${JSON.stringify(n.attrs)}`,
    );
    expect(nodes).toEqual([
      `Linear p x -> p {}`,
      `Linear a x,p -> s {"residual":1}`, // moved after p, its residual
      `Linear c1 s -> h {"activation":"relu"}`,
      `Linear c2 h,s -> s2 {"activation":"relu","residual":1}`, // s + relu(c2): either operand
      `Linear shared s2 -> shared {}`,
      `Tanh t shared -> t {}`,
      `Add u shared,s2 -> u {}`,
      `Linear g u -> g {}`,
      `Relu gr g -> gr {}`,
    ]);
    for (const gone of ["a", "c1", "c2", "r2"]) expect(graph.values.has(gone)).toBe(false);
  });

  it("fuses QLinear's the same way", () => {
    const { graph, fused } = fuseEpilogues(epilogueGraph({ int8: true }));
    expect(fused).toBe(4);
    expect(graph.nodes.map((n) => n.op)).toEqual(["QLinear", "QLinear", "QLinear", "QLinear", "QLinear", "Tanh", "Add", "QLinear", "Relu"]);
  });

  it.each([false, true])("gives the interpreter's outputs (int8: %s)", (int8) => {
    const before = new Interpreter(epilogueGraph({ int8 })),
      after = new Interpreter(fuseEpilogues(epilogueGraph({ int8 })).graph);
    for (const T of [1, 4, 9]) {
      const x = randomF32(T * 13, T + 20);
      const [want, got] = [before.run({ x }), after.run({ x })];
      for (const out of ["t", "g", "gr"])
        expect(maxAbsDiff(got[out].data, want[out].data), out).toBeLessThan(
          1e-6 * Math.max(1, ...Array.from(want[out].data as Float32Array, Math.abs)),
        );
    }
  });

  // int8 on SIMD rounds each QLinear's input rows to 1/32767 of their largest value (kernels/linear-q8.ts),
  // on relaxed SIMD to 1/63 (kernels-relaxed/linear-q8s.ts): through five matmuls in a chain that moves
  // outputs by up to about 4% of the largest (4.4e-2 measured), where wasm-simd's tolerance checks the
  // epilogues (epilogue.ts, which both kernels end with) closely.
  it.each([
    ["wasm-simd", false, 2e-6],
    ["wasm-relaxed", false, 2e-6],
    ["wasm", false, 2e-6],
    ["wasm-simd", true, 5e-4],
    ["wasm-relaxed", true, 8e-2],
    ["wasm", true, 2e-6],
  ] as const)("%s: the compiled epilogues (int8: %s) give the unfused graph's outputs for 1 to 9 rows", async (target, int8, tolerance) => {
    const model = await compileAndLoad(epilogueGraph({ int8 }), target);
    expect(model.manifest.outputs.map((o) => o.name)).toEqual(["t", "g", "gr"]);
    const ref = new Interpreter(epilogueGraph({ int8 }));
    for (const T of [1, 3, 4, 5, 9]) {
      const x = randomF32(T * 13, T + 30);
      const [want, got] = [ref.run({ x }), await model.run({ x })];
      for (const out of ["t", "g", "gr"])
        expect(maxAbsDiff(got[out] as Float32Array, want[out].data), `${out}, T = ${T}`).toBeLessThan(
          tolerance * Math.max(1, ...Array.from(want[out].data as Float32Array, Math.abs)),
        );
    }
  });
});

/** x [T ≤ 4, K] in; `body` adds nodes and outputs. */
function graphOf(body: (b: GraphBuilder, x: string, linear: (name: string, input: string, N?: number) => string) => void, K = 4): Graph {
  const b = new GraphBuilder("g", { family: "graph", config: {} });
  b.dim("T", 4);
  const x = b.input("x", "f32", ["T", K]);
  let seed = 10;
  const linear = (name: string, input: string, N = K) =>
    b.node("Linear", name, [
      input,
      b.constant(`${name}.w`, randomF32(N * K, seed++), [N, K]),
      b.constant(`${name}.b`, randomF32(N, seed++), [N]),
    ]);
  body(b, x, linear);
  return b.finish();
}

const nodesOf = (g: Graph) =>
  g.nodes.map((n) => `${n.op} ${n.name} (${n.inputs.join(", ")}) -> ${n.outputs.join(", ")} ${JSON.stringify(n.attrs)}`);

/** Both graphs' outputs on the interpreter, for three row counts. */
function expectSameOutputs(
  before: Graph,
  after: Graph,
  feeds: (T: number) => Record<string, Float32Array | Int32Array> = (T) => ({ x: randomF32(T * 4, T) }),
): void {
  for (const T of [1, 3, 4]) {
    const [want, got] = [new Interpreter(before).run(feeds(T)), new Interpreter(after).run(feeds(T))];
    for (const o of before.outputs) expect(maxAbsDiff(got[o].data, want[o].data), o).toBeLessThan(1e-6);
  }
}

describe("fuseEpilogues, on small graphs", () => {
  it("returns the graph it was given when nothing fuses", () => {
    const g = graphOf((b, x, linear) => {
      const l = linear("l", x);
      b.output(l);
      b.output(b.node("Relu", "r", [l]));
    });
    const { graph, fused } = fuseEpilogues(g);
    expect(fused).toBe(0);
    expect(graph).toBe(g);
  });

  it("fuses one Relu of two in a row, and one residual Add of two in a row", () => {
    const g = graphOf((b, x, linear) => {
      b.output(b.node("Relu", "r2", [b.node("Relu", "r1", [linear("l1", x)])]));
      b.output(b.node("Add", "s2", [b.node("Add", "s1", [linear("l2", x), x]), x]));
    });
    const { graph, fused } = fuseEpilogues(g);
    expect(fused).toBe(2);
    expect(nodesOf(graph)).toEqual([
      'Linear l1 (x, l1.w, l1.b) -> r1 {"activation":"relu"}',
      "Relu r2 (r1) -> r2 {}",
      'Linear l2 (x, l2.w, l2.b, x) -> s1 {"residual":1}',
      "Add s2 (s1, x) -> s2 {}",
    ]);
    expect([...graph.values.keys()].filter((k) => !k.includes("."))).toEqual(["x", "r1", "r2", "s1", "s2"]);
    expectSameOutputs(g, graph);
  });

  it("fuses an Add of two matmuls once, the second as the first's residual", () => {
    const g = graphOf((b, x, linear) => b.output(b.node("Add", "s", [linear("l1", x), linear("l2", x)])));
    const { graph, fused } = fuseEpilogues(g);
    expect(fused).toBe(1);
    expect(nodesOf(graph)).toEqual(["Linear l2 (x, l2.w, l2.b) -> l2 {}", 'Linear l1 (x, l1.w, l1.b, l2) -> s {"residual":1}']);
    expectSameOutputs(g, graph);
  });

  it("leaves an Add of a matmul to itself", () => {
    const g = graphOf((b, x, linear) => {
      const l = linear("l", x);
      b.output(b.node("Add", "twice", [l, l]));
    });
    const { graph, fused } = fuseEpilogues(g);
    expect(fused).toBe(0);
    expect(graph).toBe(g);
  });

  it("fuses Q4Linear's Relu and residual Add", () => {
    const g = quantizeQ4(
      graphOf((b, x) => {
        const w = b.constant("w", randomF32(32 * 32, 5), [32, 32]);
        b.output(b.node("Add", "s", [x, b.node("Relu", "r", [b.node("Linear", "l", [x, w])])]));
      }, 32),
    ).graph;
    expect(g.nodes.map((n) => n.op)).toEqual(["Q4Linear", "Relu", "Add"]);
    const { graph, fused } = fuseEpilogues(g);
    expect(fused).toBe(2);
    expect(graph.nodes.map((n) => `${n.op} ${n.inputs.at(-1)} ${JSON.stringify(n.attrs)}`)).toEqual([
      'Q4Linear x {"activation":"relu","residual":1}',
    ]);
    expectSameOutputs(g, graph, (T) => ({ x: randomF32(T * 32, T) }));
  });

  /**
   * m = Linear(kCache) and an Attention that writes kCache: before m (`writeFirst`), or between m and
   * the Add that reads it, or writing a cache m does not read (`otherCache`).
   */
  function cacheGraph(order: "writeFirst" | "between" | "otherCache"): Graph {
    const b = new GraphBuilder("cache", { family: "decoder", config: {} });
    b.dim("T", 4);
    const x = b.input("x", "f32", ["T", 4]);
    const pos = b.input("pos", "i32", [1]);
    const [kCache, vCache] = ["kCache", "vCache"].map((n) => b.state(n, "f32", [4, 4]));
    const reads = order === "otherCache" ? b.state("other", "f32", [4, 4]) : kCache;
    const attention = () => b.output(b.node("Attention", "att", [x, x, x, pos, kCache, vCache], { heads: 1, kvHeads: 1, headDim: 4 }));
    if (order === "writeFirst") attention();
    const m = b.node("Linear", "m", [reads, b.constant("m.w", randomF32(16, 1), [4, 4])]);
    if (order !== "writeFirst") attention();
    b.output(b.node("Add", "s", [m, b.constant("r", randomF32(16, 2), [4, 4])]));
    return b.finish();
  }
  const cacheFeeds = (T: number) => ({ x: randomF32(T * 4, T), pos: Int32Array.of(0) });

  it("leaves a matmul whose input a node between it and the Add writes, and fuses it when the write comes first", () => {
    const between = cacheGraph("between");
    expect(fuseEpilogues(between)).toEqual({ graph: between, fused: 0 });

    const first = cacheGraph("writeFirst");
    const fusedFirst = fuseEpilogues(first);
    expect(fusedFirst.fused).toBe(1);
    expect(nodesOf(fusedFirst.graph).map((n) => n.split(" (")[0])).toEqual(["Attention att", "Linear m"]);
    expectSameOutputs(first, fusedFirst.graph, cacheFeeds);

    const other = cacheGraph("otherCache");
    const fusedOther = fuseEpilogues(other);
    expect(fusedOther.fused).toBe(1);
    expect(nodesOf(fusedOther.graph).map((n) => n.split(" (")[0])).toEqual(["Attention att", "Linear m"]);
    expectSameOutputs(other, fusedOther.graph, cacheFeeds);
  });

  it("fuses the Add's other matmul when the first cannot move past a write: Add(Linear(kCache), Linear(other))", () => {
    const b = new GraphBuilder("cache2", { family: "decoder", config: {} });
    b.dim("T", 4);
    const x = b.input("x", "f32", ["T", 4]);
    const [kCache, vCache, other] = ["kCache", "vCache", "other"].map((n) => b.state(n, "f32", [4, 4]));
    const m = b.node("Linear", "m", [kCache, b.constant("m.w", randomF32(16, 1), [4, 4])]);
    b.output(b.node("Attention", "att", [x, x, x, b.input("pos", "i32", [1]), kCache, vCache], { heads: 1, kvHeads: 1, headDim: 4 }));
    const m2 = b.node("Linear", "m2", [other, b.constant("m2.w", randomF32(16, 2), [4, 4])]);
    b.output(b.node("Add", "s", [m, m2]));
    const g = b.finish();
    const { graph, fused } = fuseEpilogues(g);
    expect(fused).toBe(1);
    expect(nodesOf(graph).map((n) => n.split(" {")[0])).toEqual([
      "Linear m (kCache, m.w) -> m",
      "Attention att (x, x, x, pos, kCache, vCache) -> att",
      "Linear m2 (other, m2.w, m) -> s",
    ]);
    expectSameOutputs(g, graph, cacheFeeds);
  });
});
