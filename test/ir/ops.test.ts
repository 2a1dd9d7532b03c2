// Reference semantics of the op registry on values worked out by hand, and the shape rules.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { embeddingRow, type SeeFactors } from "../../compiler/factors/factors.js";
import { entangledAttrs, entangledOperands, entangledScratchLayout, readEntangledAttrs } from "../../compiler/ir/ops/entangled.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import { storeWeights, weightIndex } from "../../compiler/ir/ops/linear.js";
import { dOut, expectRank, f32, fail, i32, num, nums, oneOf, optionalNum } from "../../compiler/ir/ops/op.js";
import { dequantizeQ4Blocks, q4RowBytes, quantizeQ4Blocks } from "../../compiler/ir/ops/linear-q4.js";
import { catchSeec } from "../helpers/errors.js";
import { inferRefusal } from "../helpers/ir-ops.js";
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
      slotPerTerm: [0, 0, 0],
      slotIndexBytes: [1, 0, 1],
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
    const refusal = (op: string, first: { dtype: "i32" | "f32"; shape: (number | string)[] }) => inferRefusal(op, [first, ...ops], attrs);
    expect(refusal("EntangledEmbedding", { dtype: "f32", shape: [4] })).toMatch(/ids must be i32/);
    expect(refusal("EntangledEmbedding", { dtype: "i32", shape: [1, 4] })).toMatch(/ids/);
    expect(refusal("EntangledLogits", { dtype: "f32", shape: [1, 4] })).toMatch(/h must have 5 features/);
    expect(refusal("EntangledLogits", { dtype: "f32", shape: [5] })).toMatch(/h/);
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
    ["a layout other than nk or n4", [x, w], { layout: "kn" }, /Q4Linear's weight layout is "nk" or "n4", not "kn"/],
    ["n4 for rows not a multiple of 4", [x, { dtype: "i8", shape: [6, 36] }], { layout: "n4" }, /"n4" needs N a multiple of 4, got 6/],
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
    expect(inferRefusal("Q4Linear", inputs, attrs)).toMatch(message);
  });
});

describe("the row ops' rules: Add, AddRows, MeanRows, Gather, QGather and LastRow", () => {
  const f32 = (shape: (number | string)[]) => ({ dtype: "f32" as const, shape });
  const ids = (shape: (number | string)[]) => ({ dtype: "i32" as const, shape });
  const message = (op: string, inputs: { dtype: "f32" | "i32" | "i8"; shape: (number | string)[] }[]) => inferRefusal(op, inputs);

  it("infer their shapes", () => {
    expect(opDef("Add").infer([f32(["T", 4]), f32(["T", 4])], {}, "n")).toEqual([f32(["T", 4])]);
    expect(opDef("AddRows").infer([f32(["T", 4]), f32([16, 4])], {}, "n")).toEqual([f32(["T", 4])]);
    expect(opDef("MeanRows").infer([f32(["T", 4])], {}, "n")).toEqual([f32([1, 4])]);
    expect(opDef("Gather").infer([f32([9, 4]), ids(["T"])], {}, "n")).toEqual([f32(["T", 4])]);
    expect(opDef("QGather").infer([{ dtype: "i8", shape: [9, 4] }, f32([9]), ids(["T"])], {}, "n")).toEqual([f32(["T", 4])]);
    expect(opDef("LastRow").infer([f32(["T", 4])], {}, "n")).toEqual([f32([1, 4])]);
  });

  it("refuse what does not fit, naming it", () => {
    expect(message("Add", [f32([2, 3]), f32([3, 2])])).toMatch(/Add needs equal shapes, got \[2, 3\] and \[3, 2\]/);
    expect(message("Add", [f32([2, 3]), f32([2, 3, 1])])).toMatch(/Add needs equal shapes/);
    expect(message("SwiGLU", [f32([2]), f32([3])])).toMatch(/SwiGLU needs equal shapes/);
    expect(message("AddRows", [f32([2, 3]), f32([8, 4])])).toMatch(/x and table must have the same width/);
    expect(message("Gather", [f32([9, 4]), f32([3])])).toMatch(/ids must be i32/);
    expect(message("QGather", [f32([9, 4]), f32([9]), ids([3])])).toMatch(/table must be i8/);
    expect(message("QGather", [{ dtype: "i8", shape: [9, 4] }, f32([8]), ids([3])])).toMatch(/scale must be f32 \[9\]/);
    expect(message("QGather", [{ dtype: "i8", shape: [9, 4] }, ids([9]), ids([3])])).toMatch(/scale must be f32 \[9\]/);
    expect(message("QGather", [{ dtype: "i8", shape: [9, 4] }, f32([9]), f32([3])])).toMatch(/ids must be i32/);
    expect(message("LastRow", [f32([4])])).toMatch(/x/);
  });

  it("compute their rows", () => {
    const x = { shape: [3, 2], data: f(1, 2, 3, 4, 5, 6) };
    expect(opDef("LastRow").run([x], {})[0]).toEqual({ shape: [1, 2], data: f(5, 6) });
    expect(opDef("MeanRows").run([x], {})[0]).toEqual({ shape: [1, 2], data: f(3, 4) });
    expect(opDef("MeanRows").run([{ shape: [0, 2], data: f() }], {})[0]).toEqual({ shape: [1, 2], data: f(0, 0) });
    expect(opDef("AddRows").run([x, { shape: [4, 2], data: f(10, 20, 30, 40, 50, 60, 70, 80) }], {})[0].data).toEqual(
      f(11, 22, 33, 44, 55, 66),
    );
    const q = opDef("QGather").run(
      [
        { shape: [3, 2], data: Int8Array.of(1, -2, 3, 4, -5, 6) },
        { shape: [3], data: f(0.5, 2, -1) },
        { shape: [2], data: Int32Array.of(2, 0) },
      ],
      {},
    )[0];
    expect(q).toEqual({ shape: [2, 2], data: f(5, -6, 0.5, -1) });
    const bad = catchSeec(() =>
      opDef("QGather").run(
        [
          { shape: [3, 2], data: new Int8Array(6) },
          { shape: [3], data: f(1, 1, 1) },
          { shape: [1], data: Int32Array.of(3) },
        ],
        {},
      ),
    );
    expect([bad.code, bad.message]).toEqual(["runtime.token", "token id 3 is outside the vocabulary [0, 3)"]);
    const negative = catchSeec(() =>
      opDef("Gather").run(
        [
          { shape: [3, 2], data: new Float32Array(6) },
          { shape: [1], data: Int32Array.of(-1) },
        ],
        {},
      ),
    );
    expect(negative.message).toBe("token id -1 is outside the vocabulary [0, 3)");
  });
});

describe("RoPE's shape rule and its heads", () => {
  const f32 = (shape: (number | string)[]) => ({ dtype: "f32" as const, shape });
  const pos = { dtype: "i32" as const, shape: [1] };
  const attrs = { headDim: 4, interleaved: 1 };
  const message = (inputs: { dtype: "f32" | "i32"; shape: (number | string)[] }[], a: Record<string, number> = attrs) =>
    inferRefusal("RoPE", inputs, a);

  it("infers x's shape, and refuses each input that does not fit", () => {
    expect(opDef("RoPE").infer([f32(["T", 8]), pos, f32([16, 2]), f32([16, 2])], attrs, "n")).toEqual([f32(["T", 8])]);
    expect(message([f32([1, 8]), { dtype: "f32", shape: [1] }, f32([16, 2]), f32([16, 2])])).toMatch(/pos must be i32 \[1\]/);
    expect(message([f32([1, 8]), { dtype: "i32", shape: [2] }, f32([16, 2]), f32([16, 2])])).toMatch(/pos must be i32 \[1\]/);
    expect(message([f32([1, 8]), { dtype: "i32", shape: [1, 1] }, f32([16, 2]), f32([16, 2])])).toMatch(/pos must be i32 \[1\]/);
    expect(message([f32([1, 6]), pos, f32([16, 2]), f32([16, 2])])).toMatch(/features 6 are not a multiple of headDim 4/);
    expect(message([f32([1, "D"]), pos, f32([16, 2]), f32([16, 2])])).toMatch(/features D are not a multiple of headDim 4/);
    expect(message([f32([1, 8]), pos, f32([16, 3]), f32([16, 2])])).toMatch(/cos\/sin tables must be \[context, 2\]/);
    expect(message([f32([1, 8]), pos, f32([16, 2]), f32([2])])).toMatch(/cos\/sin tables must be \[context, 2\]/);
    expect(message([f32([1, 8]), pos, f32([16, 2]), f32([16, 2])], { headDim: 4, interleaved: 0 })).toMatch(/only interleaved RoPE/);
  });

  it("turns each head's pairs by the same angles, at positions pos, pos + 1, …", () => {
    // Two heads of 4 (two pairs each), two tokens from position 1: angles a(p, i) = (p + 1)(i + 1)/3.
    const angle = (p: number, i: number) => ((p + 1) * (i + 1)) / 3;
    const cos = f(...[0, 1, 2, 3].flatMap((p) => [0, 1].map((i) => Math.cos(angle(p, i)))));
    const sin = f(...[0, 1, 2, 3].flatMap((p) => [0, 1].map((i) => Math.sin(angle(p, i)))));
    const x = f(...Array.from({ length: 16 }, (_, k) => (k % 5) - 2 + k / 10));
    const y = run(
      "RoPE",
      [
        [[2, 8], x],
        [[1], Int32Array.of(1)],
        [[4, 2], cos],
        [[4, 2], sin],
      ],
      { headDim: 4, interleaved: 1 },
    ).data;
    for (let t = 0; t < 2; t++)
      for (let j = 0; j < 8; j += 2) {
        const a = angle(1 + t, (j / 2) % 2),
          [x0, x1] = [x[t * 8 + j], x[t * 8 + j + 1]];
        expect(y[t * 8 + j]).toBeCloseTo(x0 * Math.cos(a) - x1 * Math.sin(a), 5);
        expect(y[t * 8 + j + 1]).toBeCloseTo(x0 * Math.sin(a) + x1 * Math.cos(a), 5);
      }
  });
});

describe("Linear's layouts, epilogue and shape rule, QLinear and MeanLinear", () => {
  // x [2, 4] by an N = 4 × K = 4 weight, bias, residual, relu: every term of y changes the result.
  const x = f(1, -2, 3, 0.5, -1, 2, 0.25, 4);
  const W = f(...Array.from({ length: 16 }, (_, i) => ((i * 7) % 9) / 4 - 1));
  const b = f(0.5, -0.5, 1, -3);
  const r = f(1, 2, 3, 4, 5, 6, 7, 8);
  const want = (relu: boolean, scale = [1, 1, 1, 1]) =>
    Array.from({ length: 8 }, (_, i) => {
      const [t, n] = [Math.floor(i / 4), i % 4];
      let s = 0;
      for (let k = 0; k < 4; k++) s += x[t * 4 + k] * W[n * 4 + k];
      s = s * scale[n] + b[n];
      return (relu ? Math.max(0, s) : s) + r[i];
    });

  it.each(["nk", "kn", "n4"] as const)("the same y from the weight stored %s, with bias, relu and residual", (layout) => {
    const stored = storeWeights(W, 4, 4, layout);
    const y = run(
      "Linear",
      [
        [[2, 4], x],
        [[4, 4], stored],
        [[4], b],
        [[2, 4], r],
      ],
      { layout, activation: "relu", residual: 1 },
    ).data;
    want(true).forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
    // The weight's element (n, k) is where weightIndex says.
    const at = weightIndex(layout, 4, 4);
    for (let n = 0; n < 4; n++) for (let k = 0; k < 4; k++) expect(stored[at(n, k)]).toBe(W[n * 4 + k]);
  });

  it("QLinear scales each output row, and MeanLinear gives the rows' mean (zeros for none)", () => {
    const q = Int8Array.from(W, (v) => v * 4);
    const scale = f(0.25, 0.25, 0.5, 1);
    const y = run(
      "QLinear",
      [
        [[2, 4], x],
        [[4, 4], q as unknown as Float32Array],
        [[4], scale],
        [[4], b],
        [[2, 4], r],
      ],
      { activation: "relu", residual: 1 },
    ).data;
    want(true, [1, 1, 2, 4]).forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
    const mean = run("MeanLinear", [
      [[2, 4], x],
      [[4, 4], W],
      [[4], b],
    ]);
    expect(mean.shape).toEqual([1, 4]);
    const rows = want(false).map((v, i) => v - r[i]);
    for (let n = 0; n < 4; n++) expect(mean.data[n]).toBeCloseTo((rows[n] + rows[4 + n]) / 2, 5);
    expect(
      Array.from(
        run("MeanLinear", [
          [[0, 4], f()],
          [[4, 4], W],
          [[4], b],
        ]).data,
      ),
    ).toEqual([0, 0, 0, 0]);
  });

  it("infers [T, N] ([1, N] for a mean), and refuses what does not fit", () => {
    const t = (shape: (number | string)[], dtype: "f32" | "i8" = "f32") => ({ dtype, shape });
    const infer = (op: string, inputs: ReturnType<typeof t>[], attrs: Record<string, unknown> = {}) =>
      opDef(op).infer(inputs, attrs as never, "n");
    expect(infer("Linear", [t(["T", 4]), t([6, 4]), t([6]), t(["T", 6])], { residual: 1 })).toEqual([t(["T", 6])]);
    expect(infer("Linear", [t(["T", 4]), t([4, 6])], { layout: "kn" })).toEqual([t(["T", 6])]);
    expect(infer("MeanLinear", [t(["T", 4]), t([6, 4]), t([6])])).toEqual([t([1, 6])]);
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 5])])).toMatch(/x has 4 features but the weight expects 5/);
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4])], { layout: "kn" })).toMatch(/x has 4 features but the weight expects 6/);
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4])], { layout: "n4" })).toMatch(
      /weight layout "n4" needs both dimensions a multiple of 4, got \[6, 4\]/,
    );
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4])], { layout: "mk" })).toMatch(/layout/);
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4]), t([5])])).toMatch(/bias must be \[6\]/);
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4]), t([6, 1])])).toMatch(/bias must be \[6\]/);
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4]), t([2, 5])], { residual: 1 })).toMatch(
      /the residual must be \[2, 6\], got \[2, 5\]/,
    );
    expect(inferRefusal("Linear", [t([2, 4]), t([6, 4])], { activation: "gelu" })).toMatch(/activation/);
    expect(inferRefusal("QLinear", [t([2, 4]), t([6, 4]), t([6])])).toMatch(/weight must be i8/);
    expect(inferRefusal("QLinear", [t([2, 4]), t([6, 4], "i8"), t([5])])).toMatch(/scale must be \[6\]/);
    expect(inferRefusal("MeanLinear", [t([2, 4]), t([6, 4]), t([6])], { activation: "relu" })).toMatch(
      /a mean of rows takes no activation, residual or weight layout/,
    );
    expect(inferRefusal("MeanLinear", [t([2, 4]), t([6, 4]), t([6])], { layout: "kn" })).toMatch(/a mean of rows/);
  });
});

describe("packed texts (per-text.ts): the row-mixing ops run on each text's rows alone", () => {
  // Three texts of 2, 0 and 3 rows packed end to end, 2 wide.
  const x = { shape: [5, 2], data: f(1, 2, 3, 4, 10, 20, 30, 40, 50, 60) };
  const lengths = { shape: [3], data: Int32Array.of(2, 0, 3) };

  it("MeanRows gives a row per text (zeros for the empty one), AddRows restarts the table at each text", () => {
    expect(opDef("MeanRows").run([x, lengths], {})[0]).toEqual({ shape: [3, 2], data: f(2, 3, 0, 0, 30, 40) });
    const table = { shape: [4, 2], data: f(0.5, 0.25, 1, 2, 100, 200, 7, 7) };
    expect(opDef("AddRows").run([x, table, lengths], {})[0]).toEqual({
      shape: [5, 2],
      data: f(1.5, 2.25, 4, 6, 10.5, 20.25, 31, 42, 150, 260),
    });
    // No texts: no rows, as wide as a text's output.
    expect(
      opDef("MeanRows").run(
        [
          { shape: [0, 2], data: f() },
          { shape: [0], data: new Int32Array(0) },
        ],
        {},
      )[0],
    ).toEqual({ shape: [0, 2], data: f() });
  });

  it("infers a row per text for a pool and the packed rows otherwise, and refuses other lengths", () => {
    const t = (shape: (number | string)[], dtype: "f32" | "i32" = "f32") => ({ dtype, shape });
    expect(opDef("MeanRows").infer([t(["T", 2]), t(["B"], "i32")], {}, "n")).toEqual([t(["B", 2])]);
    expect(opDef("AddRows").infer([t(["T", 2]), t([8, 2]), t(["B"], "i32")], {}, "n")).toEqual([t(["T", 2])]);
    for (const bad of [t(["B"]), t(["B", 1], "i32")]) {
      const e = catchSeec(() => opDef("MeanRows").infer([t(["T", 2]), bad], {}, "n"));
      expect(e.message).toBe("takes 1 inputs, and the texts' lengths (i32 [B]) when they are packed");
    }
    expect(catchSeec(() => opDef("MeanRows").infer([t(["T", 2]), t(["B"], "i32"), t(["B"], "i32")], {}, "n")).code).toBe("internal.ir");
  });

  it("refuses to differentiate packed texts (distillation packs around the one-text ops)", () => {
    const step = {
      inputs: [x, lengths],
      outputs: [{ shape: [3, 2], data: new Float32Array(6) }],
      dOutputs: [new Float32Array(6)],
      wants: [true, false],
      attrs: {},
    };
    expect(catchSeec(() => opDef("MeanRows").vjp!(step as never)).message).toBe("packed texts are not differentiated");
  });
});

describe("the attribute and tensor readers every op uses (op.ts)", () => {
  const error = (f: () => unknown) => {
    const e = catchSeec(f);
    return `${e.code}: ${e.message}`;
  };
  it("read numbers, lists and names, and refuse the wrong kind by the attribute's name", () => {
    expect(num({ k: 3 }, "k")).toBe(3);
    expect(error(() => num({ k: "3" }, "k"))).toBe('internal.ir: attribute "k" must be a number');
    expect(optionalNum({}, "k", 7)).toBe(7);
    expect(optionalNum({ k: 2 }, "k", 7)).toBe(2);
    expect(error(() => optionalNum({ k: [2] }, "k", 7))).toBe('internal.ir: attribute "k" must be a number');
    expect(nums({ k: [1, 2] }, "k")).toEqual([1, 2]);
    expect(error(() => nums({ k: [1, "2"] }, "k"))).toBe('internal.ir: attribute "k" must be a list of numbers');
    expect(error(() => nums({ k: 1 }, "k"))).toBe('internal.ir: attribute "k" must be a list of numbers');
    expect(oneOf({ k: "b" }, "k", { a: 1, b: 1 })).toBe("b");
    expect(error(() => oneOf({ k: "toString" }, "k", { a: 1, b: 1 }))).toBe('internal.ir: attribute "k" must be one of a, b, got toString');
    expect(error(() => oneOf({}, "k", { a: 1 }))).toBe('internal.ir: attribute "k" must be one of a, got undefined');
  });

  it("take a tensor's data as f32 or i32 only when it is, and zeros for a gradient no loss reaches", () => {
    expect(error(() => f32({ shape: [1], data: Int32Array.of(1) }))).toBe("internal.ir: expected an f32 tensor");
    expect(error(() => i32({ shape: [1], data: f(1) }))).toBe("internal.ir: expected an i32 tensor");
    expect(Array.from(dOut({ outputs: [{ shape: [3], data: f(1, 2, 3) }], dOutputs: [] } as never))).toEqual([0, 0, 0]);
    const e = catchSeec(() => fail("n7", "bad"));
    expect([e.code, e.message, e.at]).toEqual(["internal.ir", "bad", "node n7"]);
    expect(error(() => expectRank("n", "x", [2, 3], 3))).toBe("internal.ir: x must have rank 3, got [2, 3]");
  });
});
