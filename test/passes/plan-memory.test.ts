// planMemory: tensors share arena bytes exactly when their lifetimes do not overlap, placed largest
// first at the lowest free offset; nodes that need only weights, load-time results and unwritten
// state run once at load, and their results sit in the state region beside the state.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { planMemory } from "../../compiler/passes/plan-memory.js";

function chain(length: number) {
  const b = new GraphBuilder("chain", { family: "decoder", config: {} });
  let x = b.input("x", "f32", [1, 256]);
  const w = b.constant("w", new Float32Array(256 * 256), [256, 256]);
  for (let i = 0; i < length; i++) x = b.node("Linear", `l${i}`, [x, w]);
  b.output(x);
  return b.finish();
}

describe("planMemory", () => {
  it("reuses bytes along a chain: peak is two tensors, not one per node", () => {
    const { plan } = planMemory(chain(10));
    expect(plan.arena.bytes).toBe(2 * 1024);
    expect(plan.weights.bytes).toBe(256 * 256 * 4);
  });

  it("never gives overlapping bytes to tensors alive at the same time", () => {
    const { plan } = planMemory(chain(10));
    const e = plan.arena.entries;
    for (const a of e)
      for (const b of e) {
        if (a === b || a.to! < b.from! || b.to! < a.from!) continue;
        expect(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset).toBe(true);
      }
  });

  it("keeps graph outputs alive to the end", () => {
    const { graph, plan } = planMemory(chain(3));
    const out = plan.arena.entries.find((p) => p.name === graph.outputs[0])!;
    expect(out.to).toBe(graph.nodes.length);
  });
});

/**
 * Forward: W = Linear(x) 2048 bytes, X 1024, Z 256, Y 512, out 64; `unused` is an input no node
 * reads. Placed largest first, Z must skip Y (placed after X but lower) to land between them.
 */
function layers() {
  const b = new GraphBuilder("layers", { family: "graph", config: {} });
  const x = b.input("x", "f32", [1, 16]);
  b.input("unused", "f32", [1, 16]);
  const linear = (name: string, input: string, k: number, n: number) =>
    b.node("Linear", name, [input, b.constant(`${name}.w`, new Float32Array(n * k), [n, k])]);
  const W = linear("W", x, 16, 512);
  const X = linear("X", W, 512, 256);
  const Z = linear("Z", X, 256, 64);
  const Y = linear("Y", Z, 64, 128);
  b.output(linear("out", Y, 128, 16));
  return b.finish();
}

/**
 * Load time: wr = Relu(w), w2 = Add(wr, w) and bias2 = Relu(bias), bias a state nothing writes.
 * Every call: q = Linear(x, w2), att = Attention(…, kCache, vCache) (which writes the caches),
 * seen = Relu(kCache), out = Add(att, bias2). Outputs: out, seen, and w2 (computed at load).
 */
function phases() {
  const b = new GraphBuilder("phases", { family: "graph", config: {} });
  const x = b.input("x", "f32", [1, 8]);
  const pos = b.input("pos", "i32", [1]);
  const w = b.constant("w", new Float32Array(64), [8, 8]);
  const kCache = b.state("kCache", "f32", [4, 8]);
  const vCache = b.state("vCache", "f32", [4, 8]);
  const bias = b.state("bias", "f32", [1, 8]);
  const w2 = b.node("Add", "w2", [b.node("Relu", "wr", [w]), w]);
  const bias2 = b.node("Relu", "bias2", [bias]);
  const q = b.node("Linear", "q", [x, w2]);
  const att = b.node("Attention", "att", [q, q, q, pos, kCache, vCache], { heads: 1, kvHeads: 1, headDim: 8 });
  const seen = b.node("Relu", "seen", [kCache]);
  b.output(b.node("Add", "out", [att, bias2]));
  b.output(seen);
  b.output(w2);
  return b.finish();
}

describe("planMemory's phases and regions", () => {
  it("places the arena largest first at the lowest free offset, lists it in definition order, and keeps an unread input at -1", () => {
    const { plan } = planMemory(layers());
    expect(plan.arena.entries.map((p) => `${p.name} @${p.offset} ${p.bytes} [${p.from}, ${p.to}]`)).toEqual([
      "x @2048 64 [-1, 0]",
      "unused @0 64 [-1, -1]",
      "W @0 2048 [0, 1]",
      "X @2048 1024 [1, 2]",
      "Z @512 256 [2, 3]",
      "Y @0 512 [3, 4]",
      "out @512 64 [4, 5]",
    ]);
    expect(plan.arena.bytes).toBe(3072);
  });

  it("runs nodes that read only weights, load-time results and unwritten state once at load", () => {
    const { init, forward } = planMemory(phases());
    expect(init.map((n) => n.name)).toEqual(["wr", "w2", "bias2"]);
    expect(forward.map((n) => n.name)).toEqual(["q", "att", "seen", "out"]);
  });

  it("packs constants into weights, and state with load-time results into state, 64-byte aligned in graph order", () => {
    const { plan } = planMemory(phases());
    expect(plan.weights).toEqual({ bytes: 256, entries: [{ name: "w", offset: 0, bytes: 256 }] });
    expect(plan.state.entries.map((p) => `${p.name} @${p.offset} ${p.bytes}`)).toEqual([
      "kCache @0 128",
      "vCache @128 128",
      "bias @256 32",
      "wr @320 256",
      "w2 @576 256",
      "bias2 @832 32",
    ]);
    expect(plan.state.bytes).toBe(896);
  });

  it("leaves a load-time output out of the arena, which holds the inputs and every call's tensors", () => {
    const { plan } = planMemory(phases());
    expect(plan.arena.entries.map((p) => `${p.name} [${p.from}, ${p.to}]`)).toEqual([
      "x [-1, 0]",
      "pos [-1, 1]",
      "q [0, 1]",
      "att [1, 3]",
      "seen [2, 4]",
      "out [3, 4]",
    ]);
  });
});
