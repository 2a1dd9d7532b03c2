// fuseAttention: attention written out op by op (MatMul(q, kᵀ) → scalings → additions → one Where →
// Softmax → MatMul(·, v), as an imported graph has it) becomes one ScaledAttention node over k read
// back from kᵀ's source, with the same outputs on the reference interpreter; the chains it cannot
// prove to be that (another reader, a graph output on the way, a step out of order, a fill or a
// scale that is not a constant scalar, operands of the wrong rank) are left as they are.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph, Node } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { fuseAttention } from "../../compiler/passes/fuse-attention.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

const [N, S, T, H] = [2, 3, 4, 5];

interface Chain {
  b: GraphBuilder;
  /** The scores' tensor so far. */
  at: string;
}

/**
 * q [N, S, H] and ksrc [2, N, T, H] in, k the second of ksrc's two halves (offset N·T·H), read
 * transposed: kt = Copy [N, H, T]; scores = MatMul(q, kt) [N, S, T]; `chain` adds the maps after it
 * and returns the tensor the Softmax reads (with `softmax: false`, the one the last MatMul reads);
 * out = MatMul(p, v) with v [N, T, H]. `batch`: rank 4 throughout, [1, N, ·, ·].
 */
function attention(chain: (c: Chain) => string = (c) => c.at, { softmax = true, batch = false } = {}): Graph {
  const b = new GraphBuilder("attention", { family: "graph", config: {} });
  const lead = batch ? [1] : [];
  const q = b.input("q", "f32", [...lead, N, S, H]);
  const ksrc = b.input("ksrc", "f32", [2, N, T, H]);
  const kt = b.node("Copy", "kt", [ksrc], { shape: [...lead, N, H, T], strides: [...(batch ? [0] : []), T * H, 1, H], offset: N * T * H });
  const scores = b.node("MatMul", "qk", [q, kt]);
  const s = chain({ b, at: scores });
  const p = softmax ? b.node("Softmax", "p", [s], { axis: -1 }) : s;
  b.output(b.node("MatMul", "out", [p, b.input("v", "f32", [...lead, N, T, H])]));
  return b.finish();
}

const map = (c: Chain, name: string, fn: string, inputs: string[]) => (c.at = c.b.node("Map", name, inputs, { fn, dtype: "f32" }));
const scalar = (c: Chain, name: string, x: number) => c.b.constant(name, Float32Array.of(x), [1]);
const mask = (c: Chain, name = "mask") => c.b.input(name, "i32", [S, T]);

const FEEDS = {
  q: randomF32(N * S * H, 1, 2),
  ksrc: randomF32(2 * N * T * H, 2, 2),
  v: randomF32(N * T * H, 3),
  bias: randomF32(S * T, 4, 3),
  bias2: randomF32(N * T, 5, 3),
  bias3: randomF32(T, 6, 3),
  mask: Int32Array.from({ length: S * T }, (_, i) => +(i % 3 !== 1)),
  mask2: Int32Array.from({ length: S * T }, (_, i) => +(i % 2 === 0)),
};

/** The outputs of both graphs, on the interpreter, for the inputs each takes. */
function sameOutputs(before: Graph, after: Graph): void {
  const feeds = (g: Graph) => Object.fromEntries(g.inputs.map((i) => [i, FEEDS[i as keyof typeof FEEDS]]));
  const want = new Interpreter(before).run(feeds(before)).out;
  const got = new Interpreter(after).run(feeds(after)).out;
  expect(got.shape).toEqual(want.shape);
  expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-5);
}

const describeNode = (n: Node) => `${n.op} ${n.name} (${n.inputs.join(", ")}) -> ${n.outputs.join(", ")}`;

describe("fuseAttention", () => {
  it("fuses q·kᵀ → Softmax → ·v with no chain, k read back from kᵀ's source at its offset", () => {
    const before = attention();
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(1);
    expect(graph.nodes.map(describeNode)).toEqual(["Copy out/k (ksrc) -> out/k", "ScaledAttention out (q, out/k, v) -> out"]);
    expect(graph.nodes[0].attrs).toEqual({ shape: [N, T, H], strides: [T * H, H, 1], offset: N * T * H });
    expect(graph.nodes[1].attrs).toEqual({ scale: 1, bias: 0, keep: 0, fill: 0, causal: 0, causalFill: 0 });
    expect(graph.values.get("out/k")).toEqual({ name: "out/k", kind: "activation", dtype: "f32", shape: [N, T, H] });
    for (const gone of ["kt", "qk", "p"]) expect(graph.values.has(gone)).toBe(false);
    expect([...graph.values.keys()].sort()).toEqual(["ksrc", "out", "out/k", "q", "v"]);
    expect(graph.inputs).toEqual(before.inputs);
    expect(graph.outputs).toEqual(["out"]);
    sameOutputs(before, graph);
  });

  it("fuses rank-4 operands, swapping only the last two axes of kᵀ's view", () => {
    const before = attention((c) => map(c, "scaled", "mul", [c.at, scalar(c, "c", 0.5)]), { batch: true });
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(1);
    expect(graph.nodes[0].attrs).toEqual({ shape: [1, N, T, H], strides: [0, T * H, H, 1], offset: N * T * H });
    expect(graph.values.get("out/k")!.shape).toEqual([1, N, T, H]);
    expect(graph.nodes[1].attrs.scale).toBe(0.5);
    sameOutputs(before, graph);
  });

  it("folds scalings by constants into the scale (either operand of a mul, the dividend of a div), in order", () => {
    const before = attention((c) => {
      map(c, "m1", "mul", [scalar(c, "three", 3), c.at]);
      map(c, "d1", "div", [c.at, scalar(c, "eight", 8)]);
      return map(c, "m2", "mul", [c.at, scalar(c, "half", 0.5)]);
    });
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(1);
    expect(graph.nodes.map((n) => n.op)).toEqual(["Copy", "ScaledAttention"]);
    expect(graph.nodes[1].attrs).toEqual({ scale: (3 / 8) * 0.5, bias: 0, keep: 0, fill: 0, causal: 0, causalFill: 0 });
    for (const gone of ["m1", "d1", "m2"]) expect(graph.values.has(gone)).toBe(false);
    // The constants stay (another node may read them; dropping them is plan-memory's business).
    expect(graph.values.has("three")).toBe(true);
    sameOutputs(before, graph);
  });

  it("takes one addition as the bias input, and adds several into one broadcast bias first", () => {
    const one = attention((c) => map(c, "b1", "add", [c.at, c.b.input("bias", "f32", [S, T])]));
    const fusedOne = fuseAttention(one);
    expect(fusedOne.fused).toBe(1);
    expect(fusedOne.graph.nodes.map(describeNode)).toEqual([
      "Copy out/k (ksrc) -> out/k",
      "ScaledAttention out (q, out/k, v, bias) -> out",
    ]);
    expect(fusedOne.graph.nodes[1].attrs).toEqual({ scale: 1, bias: 1, keep: 0, fill: 0, causal: 0, causalFill: 0 });
    sameOutputs(one, fusedOne.graph);

    const two = attention((c) => {
      map(c, "scaled", "div", [c.at, scalar(c, "two", 2)]);
      map(c, "b1", "add", [c.b.input("bias", "f32", [S, T]), c.at]);
      return map(c, "b2", "add", [c.at, c.b.input("bias2", "f32", [N, 1, T])]);
    });
    const { graph, fused } = fuseAttention(two);
    expect(fused).toBe(1);
    expect(graph.nodes.map(describeNode)).toEqual([
      "Copy out/k (ksrc) -> out/k",
      "Map out/bias (bias, bias2) -> out/bias",
      "ScaledAttention out (q, out/k, v, out/bias) -> out",
    ]);
    expect(graph.nodes[1].attrs).toEqual({ fn: "add", dtype: "f32" });
    expect(graph.values.get("out/bias")).toEqual({ name: "out/bias", kind: "activation", dtype: "f32", shape: [N, S, T], data: undefined });
    expect(graph.nodes[2].attrs).toEqual({ scale: 0.5, bias: 1, keep: 0, fill: 0, causal: 0, causalFill: 0 });
    sameOutputs(two, graph);
  });

  it("sums three or more additions in order, each sum a tensor of its own", () => {
    const before = attention((c) => {
      map(c, "b1", "add", [c.at, c.b.input("bias", "f32", [S, T])]);
      map(c, "b2", "add", [c.b.input("bias3", "f32", [T]), c.at]);
      return map(c, "b3", "add", [c.at, c.b.input("bias2", "f32", [N, 1, T])]);
    });
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(1);
    expect(graph.nodes.map(describeNode)).toEqual([
      "Copy out/k (ksrc) -> out/k",
      "Map out/bias.1 (bias, bias3) -> out/bias.1",
      "Map out/bias (out/bias.1, bias2) -> out/bias",
      "ScaledAttention out (q, out/k, v, out/bias) -> out",
    ]);
    expect(graph.values.get("out/bias.1")!.shape).toEqual([S, T]);
    expect(graph.values.get("out/bias")!.shape).toEqual([N, S, T]);
    sameOutputs(before, graph);
  });

  it("leaves alone scores that a map makes i32 on the way", () => {
    const before = attention((c) => (c.at = c.b.node("Map", "b1", [c.at, c.b.input("bias", "f32", [S, T])], { fn: "add", dtype: "i32" })));
    expect(fuseAttention(before).fused).toBe(0);
  });

  it("broadcasts the summed bias's shape from the lower-rank operand's trailing axes", () => {
    const before = attention((c) => {
      map(c, "b1", "add", [c.at, c.b.input("bias3", "f32", [T])]);
      return map(c, "b2", "add", [c.at, c.b.input("bias2", "f32", [N, 1, T])]);
    });
    const { graph } = fuseAttention(before);
    expect(graph.values.get("out/bias")!.shape).toEqual([N, 1, T]);
    sameOutputs(before, graph);
  });

  it("takes Where(cond, scores, fill) as a keep-mask and Where(cond, fill, scores) as its negation", () => {
    const keep = attention((c) => {
      map(c, "b1", "add", [c.at, c.b.input("bias", "f32", [S, T])]);
      return map(c, "masked", "where", [mask(c), c.at, scalar(c, "fill", -1e4)]);
    });
    const k = fuseAttention(keep);
    expect(k.fused).toBe(1);
    expect(k.graph.nodes.map(describeNode)).toEqual(["Copy out/k (ksrc) -> out/k", "ScaledAttention out (q, out/k, v, bias, mask) -> out"]);
    expect(k.graph.nodes[1].attrs).toEqual({ scale: 1, bias: 1, keep: 1, fill: -1e4, causal: 0, causalFill: 0 });
    sameOutputs(keep, k.graph);

    const drop = attention((c) => map(c, "masked", "where", [mask(c), scalar(c, "fill", -3), c.at]));
    const d = fuseAttention(drop);
    expect(d.fused).toBe(1);
    expect(d.graph.nodes.map(describeNode)).toEqual([
      "Copy out/k (ksrc) -> out/k",
      "Map out/keep (mask) -> out/keep",
      "ScaledAttention out (q, out/k, v, out/keep) -> out",
    ]);
    expect(d.graph.nodes[1].attrs).toEqual({ fn: "not", dtype: "i32" });
    expect(d.graph.values.get("out/keep")).toEqual({ name: "out/keep", kind: "activation", dtype: "i32", shape: [S, T], data: undefined });
    expect(d.graph.nodes[2].attrs).toEqual({ scale: 1, bias: 0, keep: 1, fill: -3, causal: 0, causalFill: 0 });
    sameOutputs(drop, d.graph);
  });

  it("fuses each of two attentions, and leaves the nodes around them in place", () => {
    const b = new GraphBuilder("two", { family: "graph", config: {} });
    const x = b.input("q", "f32", [N, S, H]);
    const ksrc = b.input("ksrc", "f32", [2, N, T, H]);
    const v = b.input("v", "f32", [N, T, H]);
    let at = x;
    for (const i of [1, 2]) {
      const kt = b.node("Copy", `kt${i}`, [ksrc], { shape: [N, H, T], strides: [T * H, 1, H], offset: (i - 1) * N * T * H });
      const p = b.node("Softmax", `p${i}`, [b.node("MatMul", `qk${i}`, [at, kt])], { axis: -1 });
      at = b.node("Relu", `r${i}`, [b.node("MatMul", `o${i}`, [p, v])]);
    }
    b.output(b.node("Map", "out", [at], { fn: "neg", dtype: "f32" }));
    const before = b.finish();
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(2);
    expect(graph.nodes.map((n) => `${n.op} ${n.name}`)).toEqual([
      "Copy o1/k",
      "ScaledAttention o1",
      "Relu r1",
      "Copy o2/k",
      "ScaledAttention o2",
      "Relu r2",
      "Map out",
    ]);
    expect(graph.nodes[3].attrs.offset).toBe(N * T * H);
    sameOutputs(before, graph);
  });

  const unchanged: [string, () => Graph][] = [
    ["scores that are a graph output, read by the Softmax", () => addOutput(attention(), "qk")],
    [
      "scores that are a graph output, read by a scaling",
      () =>
        addOutput(
          attention((c) => map(c, "m", "mul", [c.at, scalar(c, "c", 2)])),
          "qk",
        ),
    ],
    [
      "a scaled score that is a graph output, read by the Softmax",
      () =>
        addOutput(
          attention((c) => map(c, "m", "mul", [c.at, scalar(c, "c", 2)])),
          "m",
        ),
    ],
    [
      "a scaled score that is a graph output, read by another scaling",
      () =>
        addOutput(
          attention((c) => {
            map(c, "m1", "mul", [c.at, scalar(c, "c", 2)]);
            return map(c, "m2", "mul", [c.at, scalar(c, "c2", 3)]);
          }),
          "m1",
        ),
    ],
    [
      "probabilities read by a Relu",
      () => attention((c) => c.b.node("Relu", "r", [c.b.node("Softmax", "p", [c.at], { axis: -1 })]), { softmax: false }),
    ],
    ["probabilities that are a graph output", () => addOutput(attention(), "p")],
    [
      "scores with a second reader",
      () =>
        attention((c) => {
          c.b.output(c.b.node("Relu", "peek", [c.at]));
          return c.at;
        }),
    ],
    [
      "a scaled score with a second reader",
      () =>
        attention((c) => {
          map(c, "m", "mul", [c.at, scalar(c, "c", 2)]);
          c.b.output(c.b.node("Relu", "peek", [c.at]));
          return c.at;
        }),
    ],
    ["probabilities with a second reader", () => secondReader(attention(), "p")],
    ["scores read by the Softmax and, after it, by another node", () => secondReader(attention(), "qk")],
    [
      "scores read by a scaling and by another node",
      () =>
        attention((c) => {
          const scores = c.at;
          map(c, "m", "mul", [c.at, scalar(c, "c", 2)]);
          c.b.output(c.b.node("Relu", "peek", [scores]));
          return c.at;
        }),
    ],
    ["a Relu in place of the Softmax", () => attention((c) => c.b.node("Relu", "r", [c.at]), { softmax: false })],
    [
      "a Map of q and kᵀ in place of the MatMul",
      () => {
        const b = new GraphBuilder("added", { family: "graph", config: {} });
        const kt = b.node("Copy", "kt", [b.input("ksrc", "f32", [N, T, H])], { shape: [N, H, T], strides: [T * H, 1, H], offset: 0 });
        const sum = b.node("Map", "qk", [b.input("q", "f32", [N, H, T]), kt], { fn: "add", dtype: "f32" });
        b.output(b.node("MatMul", "out", [b.node("Softmax", "p", [sum], { axis: -1 }), b.input("v", "f32", [N, T, H])]));
        return b.finish();
      },
    ],
    [
      "a Where whose condition is the scores, made i32",
      () =>
        attention((c) => {
          c.at = c.b.node("Map", "cast", [c.at, c.b.input("bias", "f32", [S, T])], { fn: "add", dtype: "i32" });
          return map(c, "w", "where", [c.at, scalar(c, "a", 1), scalar(c, "z", 0)]);
        }),
    ],
    ["kᵀ with a second reader", () => secondReader(attention(), "kt")],
    ["no Softmax (an exp instead)", () => attention((c) => map(c, "e", "exp", [c.at]), { softmax: false })],
    ["a Relu between the scores and the Softmax", () => attention((c) => (c.at = c.b.node("Relu", "r", [c.at])))],
    [
      "a scale that is not a scalar",
      () => attention((c) => map(c, "m", "mul", [c.at, c.b.constant("c", Float32Array.of(2, 3, 4, 5), [T])])),
    ],
    ["a scale that is an input", () => attention((c) => map(c, "m", "mul", [c.at, c.b.input("c", "f32", [1])]))],
    ["a constant divided by the scores", () => attention((c) => map(c, "m", "div", [scalar(c, "c", 2), c.at]))],
    ["the scores times themselves", () => attention((c) => map(c, "m", "mul", [c.at, c.at]))],
    ["the scores added to themselves", () => attention((c) => map(c, "m", "add", [c.at, c.at]))],
    ["a subtraction", () => attention((c) => map(c, "m", "sub", [c.at, scalar(c, "c", 2)]))],
    [
      "a scaling after an addition",
      () =>
        attention((c) => {
          map(c, "b1", "add", [c.at, c.b.input("bias", "f32", [S, T])]);
          return map(c, "m", "mul", [c.at, scalar(c, "c", 2)]);
        }),
    ],
    [
      "an addition after the Where",
      () =>
        attention((c) => {
          map(c, "w", "where", [mask(c), c.at, scalar(c, "fill", -5)]);
          return map(c, "b1", "add", [c.at, c.b.input("bias", "f32", [S, T])]);
        }),
    ],
    [
      "two Wheres",
      () =>
        attention((c) => {
          map(c, "w", "where", [mask(c), c.at, scalar(c, "fill", -5)]);
          return map(c, "w2", "where", [mask(c, "mask2"), c.at, scalar(c, "fill2", -5)]);
        }),
    ],
    [
      "a Where whose fill is not a constant",
      () => attention((c) => map(c, "w", "where", [mask(c), c.at, c.b.input("bias", "f32", [S, T])])),
    ],
    [
      "a Where whose condition is not i32",
      () => attention((c) => map(c, "w", "where", [c.b.input("bias", "f32", [S, T]), c.at, scalar(c, "fill", -5)])),
    ],
    ["a Where of the scores on either side", () => attention((c) => map(c, "w", "where", [mask(c), c.at, c.at]))],
    ["a Where on the scores as its condition", () => attention((c) => map(c, "w", "where", [c.at, scalar(c, "a", 1), scalar(c, "z", 0)]))],
  ];
  it.each(unchanged)("leaves the graph as it is: %s", (_, make) => {
    const before = make();
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(0);
    expect(graph.nodes).toEqual(before.nodes);
    expect(graph.values).toEqual(before.values);
  });

  it("leaves alone a kᵀ that is not a Copy, is a reshaping Copy, or is an input, and a MatMul(v, p)", () => {
    const b = new GraphBuilder("odd", { family: "graph", config: {} });
    const q = b.input("q", "f32", [N, S, H]);
    const k = b.input("k", "f32", [N, T, H]);
    const kt = b.input("kt", "f32", [N, H, T]);
    const v = b.input("v", "f32", [N, T, H]);
    const softmaxTimesV = (name: string, ktOf: string) =>
      b.output(b.node("MatMul", name, [b.node("Softmax", `${name}.p`, [b.node("MatMul", `${name}.qk`, [q, ktOf])], { axis: -1 }), v]));
    softmaxTimesV("input", kt);
    softmaxTimesV("neg", b.node("Map", "negkt", [kt], { fn: "neg", dtype: "f32" }));
    softmaxTimesV("reshaped", b.node("Copy", "reshape", [k], { shape: [N, H, T], strides: [T * H, 1, H], offset: 0, outShape: [N, H, T] }));
    // p on the right: MatMul(w [N, H, S], p [N, S, T]).
    const p = b.node(
      "Softmax",
      "vp.p",
      [b.node("MatMul", "vp.qk", [q, b.node("Copy", "kt2", [k], { shape: [N, H, T], strides: [T * H, 1, H], offset: 0 })])],
      {
        axis: -1,
      },
    );
    b.output(b.node("MatMul", "vp", [b.input("w", "f32", [N, H, S]), p]));
    const before = b.finish();
    const { graph, fused } = fuseAttention(before);
    expect(fused).toBe(0);
    expect(graph.nodes).toEqual(before.nodes);
  });

  it("leaves alone operands of rank 2 or 5, a kᵀ of lower rank than q, and a v of lower rank than q", () => {
    const build = (qShape: number[], ktShape: number[], vShape: number[]) => {
      const b = new GraphBuilder("ranks", { family: "graph", config: {} });
      const q = b.input("q", "f32", qShape);
      const size = ktShape.reduce((a, d) => a * d, 1);
      const src = b.input("ksrc", "f32", [size]);
      const strides = ktShape.map((_, i) => ktShape.slice(i + 1).reduce((a, d) => a * d, 1));
      const kt = b.node("Copy", "kt", [src], { shape: ktShape, strides, offset: 0 });
      const p = b.node("Softmax", "p", [b.node("MatMul", "qk", [q, kt])], { axis: -1 });
      b.output(b.node("MatMul", "out", [p, b.input("v", "f32", vShape)]));
      return b.finish();
    };
    const graphs = [
      build([S, H], [H, T], [T, H]),
      build([1, 1, N, S, H], [1, 1, N, H, T], [1, 1, N, T, H]),
      build([1, N, S, H], [N, H, T], [1, N, T, H]),
      build([1, N, S, H], [1, N, H, T], [N, T, H]),
    ];
    for (const before of graphs) expect(fuseAttention(before).fused).toBe(0);
    // The same builder with every rank right does fuse (rank 3 and rank 4).
    expect(fuseAttention(build([N, S, H], [N, H, T], [N, T, H])).fused).toBe(1);
    expect(fuseAttention(build([1, N, S, H], [1, N, H, T], [1, N, T, H])).fused).toBe(1);
  });
});

function addOutput(g: Graph, name: string): Graph {
  return { ...g, outputs: [...g.outputs, name] };
}

/** `name` also read by a Relu that is a graph output. */
function secondReader(g: Graph, name: string): Graph {
  const v = g.values.get(name)!;
  const values = new Map(g.values).set("peek", { ...v, name: "peek", kind: "activation" });
  return {
    ...g,
    values,
    nodes: [...g.nodes, { name: "peek", op: "Relu", inputs: [name], outputs: ["peek"], attrs: {} }],
    outputs: [...g.outputs, "peek"],
  };
}
