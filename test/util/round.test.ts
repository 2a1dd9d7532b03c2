// roundHalfAway: the rounding every int8 quantizer uses (seec's rows, GGUF's Q8_0), against its definition.
import { describe, expect, it } from "vitest";
import { roundHalfAway } from "../../compiler/util/round.js";
import { randomF32 } from "../helpers/random.js";

/** The definition: |x| rounded to nearest with halves up (Math.round on a non-negative), the sign put back. */
const reference = (x: number) => Math.sign(x) * Math.round(Math.abs(x));

describe("roundHalfAway", () => {
  it("rounds halves away from zero and everything else to nearest", () => {
    const cases: [number, number][] = [
      [0.5, 1],
      [-0.5, -1],
      [1.5, 2],
      [-1.5, -2],
      [2.5, 3],
      [-2.5, -3],
      [-126.5, -127],
      [0.49999999999999994, 0], // the largest double below 0.5: x + 0.5 would round up to 1
      [-0.49999999999999994, -0],
      [2.4999999999999996, 2],
      [1.0000000000000002, 1],
      [-3.7, -4],
      [3.2, 3],
      [2 ** 52 + 1, 2 ** 52 + 1],
      [-(2 ** 53), -(2 ** 53)],
    ];
    for (const [x, want] of cases) expect(roundHalfAway(x), `x = ${x}`).toBe(want);
  });

  it("keeps zero's sign, NaN and the infinities as the definition does", () => {
    for (const x of [0, -0, NaN, Infinity, -Infinity]) expect(Object.is(roundHalfAway(x), reference(x)), `x = ${x}`).toBe(true);
  });

  it("equals the definition on 100,000 quotients as the quantizers form them (f32 / f32 scale, as a double)", () => {
    const w = randomF32(100_000, 7, 3);
    const scale = Math.fround(3 / 127);
    for (const v of w) {
      const x = v / scale;
      if (roundHalfAway(x) !== reference(x)) expect(roundHalfAway(x), `x = ${x}`).toBe(reference(x));
    }
    // and on exact halves of every level
    for (let level = -127; level < 127; level++) expect(roundHalfAway(level + 0.5)).toBe(level + 0.5 < 0 ? level : level + 1);
  });
});
