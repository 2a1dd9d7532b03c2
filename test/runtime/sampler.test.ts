// The sampler against llama2.c's (run.c: random_u32, softmax, sample_mult, sample_topp): the
// expected values below come from that C code compiled and run (seed, logits and temperature as
// given), so a seed gives llama2.c's tokens. Also the option bounds and messages, and argmax ties.
import { describe, expect, it } from "vitest";
import { argmax, checkOption, Sampler } from "../../runtime/sampler.js";
import { catchSeec } from "../helpers/errors.js";

const LOGITS = Float32Array.from([1.0, 2.5, -0.5, 0.25, 2.0, -3.0, 0.75, 1.5]);

/** llama2.c's tokens for LOGITS at 1234, 40 draws, by temperature then top-p (1 = no nucleus). */
const LLAMA2C_TOKENS: [number, number, string][] = [
  [1, 1, "4 1 1 1 7 1 1 0 1 1 1 4 1 6 4 7 7 7 1 1 1 1 4 0 1 4 4 6 3 1 4 2 0 7 4 4 1 1 4 1"],
  [1, 0.9, "7 1 1 1 6 1 4 1 1 4 1 4 1 7 4 0 6 0 1 1 1 1 4 1 1 4 4 7 4 1 4 4 1 0 7 7 1 1 7 1"],
  [1, 0.5, "4 1 1 1 4 1 1 1 1 1 1 4 1 4 1 4 4 4 1 1 1 1 4 1 1 1 1 4 1 1 1 1 1 4 4 4 1 1 4 1"],
  [0.5, 1, "4 1 1 1 7 1 1 1 1 1 1 1 1 4 1 7 7 4 1 1 1 1 4 0 1 1 1 4 1 1 1 1 0 4 4 4 1 1 4 1"],
  [0.5, 0.9, "4 1 1 1 7 1 1 1 1 1 1 1 1 4 1 7 7 4 1 1 1 1 4 1 1 1 1 4 1 1 1 1 1 4 4 4 1 1 4 1"],
  [0.5, 0.5, "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"],
  [2, 1, "5 1 2 1 7 1 3 0 1 3 1 4 1 6 4 7 7 7 1 1 1 1 4 0 2 4 4 6 3 1 4 3 0 7 5 4 2 1 4 0"],
  [2, 0.9, "0 4 4 4 3 1 4 1 4 4 4 7 1 6 7 3 3 6 4 1 4 4 0 1 4 7 7 6 7 1 7 4 1 6 0 0 4 1 0 1"],
  [2, 0.5, "4 1 1 1 7 1 4 1 1 4 1 4 1 7 4 7 7 7 1 1 1 1 4 1 4 4 4 7 4 1 4 4 1 7 4 4 1 1 4 1"],
];

describe("sampler", () => {
  it("draws llama2.c's xorshift numbers for a seed", () => {
    const rng = new Sampler({ seed: 42 }) as unknown as { randomU32(): number; randomF32(): number };
    expect(Array.from({ length: 5 }, () => rng.randomU32())).toEqual([1456360119, 3359763283, 3393612768, 4054632243, 3283045847]);
    const f = new Sampler({ seed: 7 }) as unknown as { randomF32(): number };
    expect(Array.from({ length: 3 }, () => f.randomF32())).toEqual([0.820246637, 0.928290129, 0.0893495679].map(Math.fround));
  });

  it.each(LLAMA2C_TOKENS)("at temperature %d and top-p %d gives llama2.c's tokens", (temperature, topP, want) => {
    const sampler = new Sampler({ temperature, topP, seed: 1234 });
    expect(Array.from({ length: 40 }, () => sampler.sample(LOGITS)).join(" ")).toBe(want);
  });

  it("top-p 0 is no nucleus, as 1 is", () => {
    const draw = (topP: number) => {
      const s = new Sampler({ temperature: 1, topP, seed: 1234 });
      return Array.from({ length: 40 }, () => s.sample(LOGITS)).join(" ");
    };
    expect(draw(0)).toBe(LLAMA2C_TOKENS[0][2]);
  });

  it("temperature 0 is argmax, the first of equal maxima", () => {
    expect(new Sampler({ temperature: 0 }).sample(LOGITS)).toBe(1);
    expect(new Sampler({ temperature: 0 }).sample(Float32Array.from([0, 3, 3, -1]))).toBe(1);
    expect(argmax([5, 1, 5])).toBe(0);
    expect(argmax([1, 2, 7])).toBe(2);
  });

  it("a temperature so small that only some logits overflow is still greedy", () => {
    // 0 / 1e-45 stays finite while the others overflow: not finite everywhere is enough.
    expect(new Sampler({ temperature: 1e-45, seed: 1 }).sample(Float32Array.from([0, 3, -1, 2.9]))).toBe(1);
  });

  it("softmax subtracts the largest logit, so logits past exp's f32 range still sample", () => {
    // exp(100) overflows f32: without the shift every probability is NaN and the draw falls to the last id.
    const sampler = new Sampler({ temperature: 1, topP: 1, seed: 5 });
    const draws = Array.from({ length: 50 }, () => sampler.sample(Float32Array.from([100, 99.5, -100])));
    expect(draws.every((t) => t === 0 || t === 1)).toBe(true);
    expect(draws).toContain(1);
  });

  it("accepts the ends of each option's range", () => {
    for (const opts of [{ temperature: 0 }, { temperature: 100 }, { topP: 0 }, { topP: 1 }, { seed: 0 }, { seed: Number.MAX_SAFE_INTEGER }])
      expect(() => new Sampler(opts)).not.toThrow();
    const s = new Sampler({ temperature: 100, topP: 1, seed: 0 });
    expect([s.temperature, s.topP]).toEqual([100, 1]);
  });

  it.each([
    [{ temperature: 100.5 }, "temperature must be a number from 0 (greedy) to 100, got 100.5"],
    [{ temperature: "1" as unknown as number }, 'temperature must be a number from 0 (greedy) to 100, got "1"'],
    [{ topP: -0.5 }, "topP must be a number from 0 to 1, got -0.5"],
    [{ topP: "0.5" as unknown as number }, 'topP must be a number from 0 to 1, got "0.5"'],
    [{ seed: NaN }, "seed must be a whole number from 0 to 2^53 - 1, got NaN"],
    [{ seed: "7" as unknown as number }, 'seed must be a whole number from 0 to 2^53 - 1, got "7"'],
  ])("%j is refused saying what the option must be", (opts, message) => {
    const e = catchSeec(() => new Sampler(opts));
    expect([e.code, e.message]).toEqual(["runtime.option", message]);
  });

  it("names a value JSON cannot show by its string", () => {
    const e = catchSeec(() => checkOption("x", Symbol("s"), false, "a number"));
    expect(e.message).toBe("x must be a number, got Symbol(s)");
  });
});
