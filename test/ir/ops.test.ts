// Reference semantics of the op registry on values worked out by hand, and the shape rules.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import { catchSeec } from "../helpers/errors.js";

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
