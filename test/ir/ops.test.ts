// Reference semantics of the op registry on values worked out by hand, and the shape rules.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { embeddingRow, type SeeFactors } from "../../compiler/factors/factors.js";
import { entangledAttrs, entangledOperands, entangledScratchLayout, readEntangledAttrs } from "../../compiler/ir/ops/entangled.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import { dequantizeQ4Blocks, q4RowBytes, quantizeQ4Blocks } from "../../compiler/ir/ops/linear-q4.js";
import { catchSeec } from "../helpers/errors.js";
import { randomFactors } from "../helpers/see.js";

const f = (...xs: number[]) => Float32Array.from(xs);
const run = (op: string, inputs: [number[], Float32Array | Int32Array][], attrs = {}) =>
  opDef(op).run(
    inputs.map(([shape, data]) => ({ shape, data })),
    attrs,
  )[0];

describe("reference semantics", () => {
  it("Linear multiplies by the transposed [out, in] weight", () => {
    expect(
      run("Linear", [
        [[1, 2], f(1, 2)],
        [[2, 2], f(3, 4, 5, 6)],
      ]).data,
    ).toEqual(f(11, 17));
  });

  it("RMSNorm divides by the root mean square and scales by the weight", () => {
    const y = run(
      "RMSNorm",
      [
        [[1, 2], f(3, 4)],
        [[2], f(1, 2)],
      ],
      { epsilon: 0 },
    ).data;
    const rms = Math.sqrt(12.5);
    expect(y[0]).toBeCloseTo(3 / rms, 6);
    expect(y[1]).toBeCloseTo(8 / rms, 6);
  });

  it("SwiGLU is silu(gate) times up", () => {
    const y = run("SwiGLU", [
      [[1, 2], f(0, 2)],
      [[1, 2], f(5, 3)],
    ]).data;
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo((2 / (1 + Math.exp(-2))) * 3, 6);
  });

  it("RoPE turns each pair by its angle at position pos + t", () => {
    const cos = f(1, 0),
      sin = f(0, 1); // position 0: angle 0; position 1: angle pi/2
    const y = run(
      "RoPE",
      [
        [[2, 2], f(1, 2, 1, 2)],
        [[1], Int32Array.of(0)],
        [[2, 1], cos],
        [[2, 1], sin],
      ],
      { headDim: 2, interleaved: 1 },
    ).data;
    expect(Array.from(y)).toEqual([1, 2, -2, 1]);
  });

  it("Attention over one cached position returns that position's value, and writes the cache", () => {
    const kCache = new Float32Array(4),
      vCache = new Float32Array(4);
    const y = run(
      "Attention",
      [
        [[1, 2], f(1, 1)],
        [[1, 2], f(5, 5)],
        [[1, 2], f(7, 9)],
        [[1], Int32Array.of(1)],
        [[2, 2], kCache],
        [[2, 2], vCache],
      ],
      { heads: 1, kvHeads: 1, headDim: 2 },
    ).data;
    // Row 0 of the cache is zero (score 0), row 1 holds k = (5, 5) (score 10/sqrt 2): softmax weights both.
    const w1 = 1 / (1 + Math.exp(-10 / Math.sqrt(2)));
    expect(y[0]).toBeCloseTo(7 * w1, 5);
    expect(y[1]).toBeCloseTo(9 * w1, 5);
    expect(Array.from(kCache)).toEqual([0, 0, 5, 5]);
  });

  it("Gather refuses ids outside the vocabulary", () => {
    const e = catchSeec(() =>
      run("Gather", [
        [[2, 1], f(1, 2)],
        [[1], Int32Array.of(2)],
      ]),
    );
    expect(e.code).toBe("runtime.token");
  });
});

describe("shape rules", () => {
  const b = () => new GraphBuilder("g", { family: "decoder", config: {} });

  it("infer output shapes, keeping symbolic dimensions", () => {
    const g = b();
    g.dim("T", 4);
    const x = g.input("x", "f32", ["T", 3]);
    const y = g.node("Linear", "y", [x, g.constant("w", new Float32Array(15), [5, 3])]);
    expect(g.finish().values.get(y)!.shape).toEqual(["T", 5]);
  });

  it("reject a weight whose input width does not match", () => {
    const g = b();
    const x = g.input("x", "f32", [1, 3]);
    const e = catchSeec(() => g.node("Linear", "bad", [x, g.constant("w", new Float32Array(8), [2, 4])]));
    expect(e.message).toMatch(/x has 3 features but the weight expects 4/);
    expect(e.at).toBe("node bad");
  });

  it("reject unknown ops and tensors", () => {
    const g = b();
    expect(catchSeec(() => g.node("Conv9D", "c", [])).message).toMatch(/not in the registry/);
    expect(catchSeec(() => g.node("Add", "a", ["nope", "nope"])).message).toMatch(/unknown tensor "nope"/);
  });
});

describe("the entangled embedding's ops (SEE)", () => {
  // Three sources, the second read by two slots (one a bag), a norm, null rows other than 0.
  const factors = () => {
    const f = randomFactors(
      {
        vocab: 7,
        dim: 5,
        rank: 2,
        slots: [
          ["b", 2],
          ["a", 4, true],
          ["c", 3],
        ],
        norm: true,
      },
      11,
    );
    f.spec.sources.a.null = 2;
    f.spec.sources.c.null = 1;
    return f;
  };
  const operands = (f: SeeFactors) => entangledOperands(f).map(({ data, shape }) => ({ data, shape }));

  it("lists the operands by source name, then each slot's index or bag, then the norm, with their attributes", () => {
    const f = factors();
    expect(entangledOperands(f).map((o) => `${o.name} [${o.shape.join(", ")}]`)).toEqual([
      `tables.a [2, ${f.spec.sources.a.rows}, 4]`,
      `tables.b [2, ${f.spec.sources.b.rows}, 2]`,
      `tables.c [2, ${f.spec.sources.c.rows}, 3]`,
      "index.0 [7]",
      "bag.1.offsets [8]",
      `bag.1.ids [${(f.slots[1] as { bag: { ids: Int32Array } }).bag.ids.length}]`,
      `bag.1.weights [${(f.slots[1] as { bag: { ids: Int32Array } }).bag.ids.length}]`,
      "index.2 [7]",
      "norm.weight [5]",
      "norm.bias [5]",
    ]);
    expect(entangledAttrs(f)).toEqual({
      vocab: 7,
      dim: 5,
      rank: 2,
      rows: [f.spec.sources.a.rows, f.spec.sources.b.rows, f.spec.sources.c.rows],
      q: [4, 2, 3],
      nullRow: [2, 0, 1],
      slotSource: [1, 0, 2],
      slotBag: [0, 1, 0],
      norm: 1,
      epsilon: 1e-5,
    });
  });

  it("EntangledEmbedding, EntangledTable and EntangledLogits give the rows the factors define", () => {
    const f = factors();
    const attrs = { ...entangledAttrs(f) };
    const ids = Int32Array.of(6, 0, 3, 3, 1);
    const emb = opDef("EntangledEmbedding").run([{ shape: [5], data: ids }, ...operands(f)], attrs)[0];
    expect(emb.shape).toEqual([5, 5]);
    ids.forEach((t, i) => expect(Array.from(emb.data.subarray(i * 5, i * 5 + 5))).toEqual(Array.from(embeddingRow(f, t))));
    const table = opDef("EntangledTable").run(operands(f), attrs)[0];
    expect(table.shape).toEqual([7, 5]);
    for (let t = 0; t < 7; t++) expect(Array.from(table.data.subarray(t * 5, t * 5 + 5))).toEqual(Array.from(embeddingRow(f, t)));
    const h = Float32Array.of(1, -2, 0.5, 3, -1, 0.25, 2, -0.5, 1, 4);
    const logits = opDef("EntangledLogits").run([{ shape: [2, 5], data: h }, ...operands(f)], attrs)[0];
    expect(logits.shape).toEqual([2, 7]);
    for (let r = 0; r < 2; r++)
      for (let v = 0; v < 7; v++) {
        const e = embeddingRow(f, v);
        const want = e.reduce((s, x, i) => s + x * h[r * 5 + i], 0);
        expect(logits.data[r * 7 + v]).toBeCloseTo(want, 5);
      }
  });

  it("infer the output shapes, and refuse ids that are not i32 [T] and an h of other features", () => {
    const f = factors();
    const attrs = { ...entangledAttrs(f) };
    const ops = entangledOperands(f).map(({ data, shape }) => ({
      dtype: data instanceof Int32Array ? ("i32" as const) : ("f32" as const),
      shape,
    }));
    expect(opDef("EntangledEmbedding").infer([{ dtype: "i32", shape: ["T"] }, ...ops], attrs, "e")).toEqual([
      { dtype: "f32", shape: ["T", 5] },
    ]);
    expect(opDef("EntangledTable").infer(ops, attrs, "t")).toEqual([{ dtype: "f32", shape: [7, 5] }]);
    expect(opDef("EntangledLogits").infer([{ dtype: "f32", shape: [3, 5] }, ...ops], attrs, "l")).toEqual([
      { dtype: "f32", shape: [3, 7] },
    ]);
    const refusal = (op: string, first: { dtype: "i32" | "f32"; shape: (number | string)[] }) => {
      const e = catchSeec(() => opDef(op).infer([first, ...ops], attrs, "n"));
      return `${e.code}: ${e.message}`;
    };
    expect(refusal("EntangledEmbedding", { dtype: "f32", shape: [4] })).toMatch(/^internal\.ir: .*ids must be i32/);
    expect(refusal("EntangledEmbedding", { dtype: "i32", shape: [1, 4] })).toMatch(/^internal\.ir: .*ids/);
    expect(refusal("EntangledLogits", { dtype: "f32", shape: [1, 4] })).toMatch(/^internal\.ir: .*h must have 5 features/);
    expect(refusal("EntangledLogits", { dtype: "f32", shape: [5] })).toMatch(/^internal\.ir: .*h/);
  });

  it("lays out the kernels' scratch: the product, two prefix buffers, one vector per bag, one row", () => {
    // Slots of widths 2, 4 (a bag) and 3: the product is 24 wide, the slots before the last 8.
    expect(entangledScratchLayout(entangledAttrs(factors()))).toEqual({
      q: [2, 4, 3],
      width: 24,
      acc: 0,
      prefix: [24, 32],
      bags: { 1: 40 },
      row: 44,
      floats: 49,
    });
  });

  it("reads its attributes back, and refuses a node whose attributes lack one", () => {
    const attrs = entangledAttrs(factors());
    expect(readEntangledAttrs({ ...attrs })).toEqual(attrs);
    const { q: _q, ...noQ } = attrs;
    expect(catchSeec(() => readEntangledAttrs(noQ)).code).toBe("internal.ir");
  });
});

describe("Q4Linear's blocks and shape rule", () => {
  it("quantizes a group whose largest magnitude appears with both signs by the first, as ggml does", () => {
    // -1 comes first: d = -1 / -8 = 1/8, so -1 is level 0 (exact) and +1 saturates at level 15 (0.875).
    const w = new Float32Array(32);
    w[0] = -1;
    w[31] = 1;
    w[5] = 0.25;
    const blocks = quantizeQ4Blocks(w, 1, 32);
    expect(blocks[0] | (blocks[1] << 8)).toBe(0x3000); // f16 0.125
    const back = dequantizeQ4Blocks(blocks, 1, 32);
    expect([back[0], back[5], back[31], back[1]]).toEqual([-1, 0.25, 0.875, 0]);
  });

  const x = { dtype: "f32" as const, shape: [3, 40] };
  const w = { dtype: "i8" as const, shape: [4, q4RowBytes(40)] };
  it("infers Linear's output on the weight's logical [N, K], a bias included", () => {
    expect(q4RowBytes(40)).toBe(36);
    expect(opDef("Q4Linear").infer([x, w, { dtype: "f32", shape: [4] }], {}, "q")).toEqual([{ dtype: "f32", shape: [3, 4] }]);
  });

  it.each<[string, { dtype: "f32" | "i8"; shape: (number | string)[] }[], Record<string, unknown>, RegExp]>([
    ["a layout attribute", [x, w], { layout: "kn" }, /no layout attribute/],
    ["a weight that is not i8", [x, { dtype: "f32", shape: [4, 36] }], {}, /weight must be i8/],
    ["features not known at build time", [{ dtype: "f32", shape: [3, "K"] }, w], {}, /known at build time/],
    [
      "a weight of other row bytes",
      [x, { dtype: "i8", shape: [4, 18] }],
      {},
      /x has 40 features, which take 36 bytes of Q4_0 blocks a row; the weight has 18/,
    ],
    ["an x of rank 3", [{ dtype: "f32", shape: [1, 3, 40] }, w], {}, /x/],
  ])("refuses %s", (_, inputs, attrs, message) => {
    const e = catchSeec(() => opDef("Q4Linear").infer(inputs, attrs as never, "q"));
    expect(e.code).toBe("internal.ir");
    expect(e.message).toMatch(message);
  });
});
