// The SEE ops compiled to wasm-simd against the reference interpreter: slot counts 1 to 4, odd
// widths cut to an odd dim, bag slots with empty bags, LayerNorm, indices of 1, 2 and 4 bytes, an
// index per rank term (product quantization), both tied-head strategies; nothing written past a
// call's rows of the embedding.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../compiler/ir/builder.js";
import { Interpreter } from "../../../compiler/ir/interpreter.js";
import { applySee, type HeadStrategy } from "../../../compiler/passes/see.js";
import { compileAndLoad } from "../../helpers/compile.js";
import { guardPast } from "../../helpers/output-guard.js";
import { maxAbsDiff } from "../../helpers/random.js";
import { randomFactors, type Shape } from "../../helpers/see.js";

/** ids -> embedding -> (tied head) logits, with the embedding replaced by the factors. */
function tiedModel(shape: Shape, head: HeadStrategy) {
  const f = randomFactors(shape, shape.dim * 7 + shape.rank);
  const b = new GraphBuilder("tied", { family: "decoder", config: {} });
  b.dim("T", 6);
  const emb = b.constant("emb", new Float32Array(shape.vocab * shape.dim), [shape.vocab, shape.dim]);
  const x = b.node("Gather", "embed", [emb, b.input("ids", "i32", ["T"])]);
  b.output(x);
  const last = b.node("LastRow", "last", [x]);
  b.output(b.node("Linear", "logits", [last, emb]));
  return applySee(b.finish(), f, head);
}

const SHAPES: [string, Shape][] = [
  ["one slot", { vocab: 9, dim: 7, rank: 2, slots: [["a", 7]] }],
  [
    "two slots, cut 15 -> 13",
    {
      vocab: 11,
      dim: 13,
      rank: 3,
      slots: [
        ["a", 3],
        ["b", 5],
      ],
    },
  ],
  [
    "three slots sharing a source, SIMD-wide innermost",
    {
      vocab: 20,
      dim: 30,
      rank: 2,
      slots: [
        ["m", 2],
        ["m", 2],
        ["s", 8],
      ],
    },
  ],
  [
    "four slots with a bag and LayerNorm",
    {
      vocab: 23,
      dim: 21,
      rank: 3,
      slots: [
        ["m", 2],
        ["m", 2],
        ["x", 3],
        ["s", 2, true],
      ],
      norm: true,
    },
  ],
  [
    "SEE layout: morphemes and a sememe bag",
    {
      vocab: 31,
      dim: 64,
      rank: 4,
      slots: [
        ["morpheme", 4],
        ["morpheme", 4],
        ["sememe", 4, true],
      ],
    },
  ],
  [
    "product quantization: one-hot blocks ⊗ a code per rank term (u16 entries)",
    {
      vocab: 13,
      dim: 12,
      rank: 3,
      slots: [
        ["block", 3],
        ["code", 4, false, true],
      ],
      rows: { block: 1, code: 300 },
    },
  ],
  [
    "a per-term index between others, indices of 1, 2 and 4 bytes",
    {
      vocab: 10,
      dim: 16,
      rank: 2,
      slots: [
        ["a", 2],
        ["p", 4, false, true],
        ["w", 1],
        ["big", 2],
      ],
      rows: { a: 5, p: 7, w: 1000, big: 70000 },
    },
  ],
];

describe("SEE kernels match the reference interpreter", () => {
  for (const [head, target] of [
    ["materialize", "wasm-simd"],
    ["stream", "wasm-simd"],
    ["stream", "wasm"],
  ] as const)
    it.each(SHAPES)(`%s (${head} head, ${target})`, async (_name, shape) => {
      const graph = tiedModel(shape, head);
      expect([...graph.values.keys()]).not.toContain("emb"); // the dense table is gone
      const model = await compileAndLoad(graph, target);
      const ref = new Interpreter(graph);
      for (const ids of [
        Int32Array.of(0),
        Int32Array.from({ length: 6 }, (_, i) => (i * 5 + 3) % shape.vocab),
        Int32Array.of(shape.vocab - 1, 1),
      ]) {
        const want = ref.run({ ids });
        const guard = guardPast(model, "embed", ids.length * shape.dim);
        const got = await model.run({ ids });
        expect(guard.written(), guard.message()).toBe(-1);
        for (const name of ["embed", "logits"]) {
          const w = want[name].data,
            g = got[name] as Float32Array | Int32Array;
          const scale = Math.max(1, ...Array.from(w, Math.abs));
          expect(maxAbsDiff(g, w) / scale, name).toBeLessThan(2e-6);
        }
      }
    });

  it("streams the head without a vocab × dim table in memory", async () => {
    const shape = SHAPES[4][1];
    const stream = await compileAndLoad(tiedModel(shape, "stream"));
    const materialize = await compileAndLoad(tiedModel(shape, "materialize"));
    const table = shape.vocab * shape.dim * 4;
    expect(materialize.manifest.memory.state.bytes - stream.manifest.memory.state.bytes).toBeGreaterThanOrEqual(table);
  });
});
