// The reference interpreter's own checks and bookkeeping: symbolic dims bound from what is fed
// (and the same for every input), feeds that fit no shape, missing inputs, state allocated at its
// largest once and kept across calls.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { catchSeec } from "../helpers/errors.js";

function addGraph() {
  const b = new GraphBuilder("add", { family: "decoder", config: { contextLength: 8 } });
  b.dim("T", 5);
  const x = b.input("x", "f32", ["T", 3]);
  const y = b.input("y", "f32", ["T", 3]);
  b.state("cache", "f32", ["T", 2]);
  b.output(b.node("Add", "out", [x, y]));
  return b.finish();
}

describe("interpreter", () => {
  it("binds T from the length fed, with the fixed dims dividing it out", () => {
    const run = new Interpreter(addGraph()).run({
      x: Float32Array.from([1, 2, 3, 4, 5, 6]),
      y: Float32Array.from([10, 20, 30, 40, 50, 60]),
    });
    expect(run.out.shape).toEqual([2, 3]);
    expect(Array.from(run.out.data)).toEqual([11, 22, 33, 44, 55, 66]);
  });

  it("allocates state at its largest shape, zeroed, once", () => {
    const interp = new Interpreter(addGraph());
    const cache = interp.state.get("cache")!;
    expect(cache.shape).toEqual([5, 2]);
    expect(Array.from(cache.data)).toEqual(new Array(10).fill(0));
    expect([...interp.state.keys()]).toEqual(["cache"]);
    const env = new Map();
    interp.run({ x: new Float32Array(3), y: new Float32Array(3) }, env);
    expect(env.get("cache")).toBe(cache);
  });

  it.each([
    ["a missing input", { x: new Float32Array(3) }, 'missing input "y"'],
    ["a length no T fits", { x: new Float32Array(4), y: new Float32Array(4) }, 'input "x" has 4 elements, which does not fit [T, 3]'],
    [
      "inputs that disagree on T",
      { x: new Float32Array(3), y: new Float32Array(6) },
      'input "y" has 6 elements, which does not fit [T, 3]',
    ],
  ])("%s is runtime.input", (_what, feeds, message) => {
    const e = catchSeec(() => new Interpreter(addGraph()).run(feeds as Record<string, Float32Array>));
    expect([e.code, e.message]).toEqual(["runtime.input", message]);
  });
});
