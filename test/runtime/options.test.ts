// The runtime API's generation options are checked as the CLI's flags are: a wrong one is
// runtime.option naming it, never NaN probabilities, an undefined token or a raw RangeError.
import { describe, expect, it } from "vitest";
import { Sampler } from "../../runtime/sampler.js";
import { generation } from "../../runtime/generation.js";
import { catchSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";
import { readFileSync } from "node:fs";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import { createTokenizer } from "../../runtime/tokenizers/index.js";
import type { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";

describe("generation options", () => {
  it.each([
    [{ temperature: NaN }, "temperature"],
    [{ temperature: -1 }, "temperature"],
    [{ temperature: Infinity }, "temperature"],
    [{ topP: 1.5 }, "topP"],
    [{ topP: NaN }, "topP"],
    [{ seed: NaN }, "seed"],
    [{ seed: Infinity }, "seed"],
    [{ seed: -3 }, "seed"],
    [{ seed: 1.5 }, "seed"],
    [{ seed: "7" as unknown as number }, "seed"],
  ])("%j is runtime.option", (opts, name) => {
    const e = catchSeec(() => new Sampler(opts));
    expect(e.code).toBe("runtime.option");
    expect(e.at).toBe(name);
    expect(e.message).toMatch(new RegExp(`^${name} must be `));
  });

  it("a temperature so small the logits overflow samples greedily, not NaN", () => {
    const logits = Float32Array.from([0.5, 3, -1, 2.9]);
    expect(new Sampler({ temperature: 1e-45, seed: 1 }).sample(logits)).toBe(1);
  });

  it.skipIf(!LLAMA2C)("a prompt that cannot fit the context is refused before it is encoded (1 MB in well under a second)", () => {
    const tokenizer = createTokenizer(readLlama2cTokenizer(new Uint8Array(readFileSync(LLAMA2C!.tokenizer)), LLAMA2C!.tokenizer, 512));
    const stats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };
    const t0 = performance.now();
    const e = catchSeec(() => generation(tokenizer, "Once upon a time. ".repeat(60_000), {}, 512, stats).next());
    expect(e.code).toBe("runtime.context");
    expect(performance.now() - t0).toBeLessThan(1000);
    // The bound never exceeds what encoding gives.
    const tok = tokenizer as Llama2cTokenizer;
    for (const text of ["", "a", "Once upon a time", "zzzz qqq ééé 日本", "The cat sat on the mat. ".repeat(20)])
      expect(tok.minTokens(text)).toBeLessThanOrEqual(tok.encode(text).length);
  });

  it.skipIf(!LLAMA2C)("maxTokens must be a whole number, 0 or more", () => {
    const tokenizer = createTokenizer(readLlama2cTokenizer(new Uint8Array(readFileSync(LLAMA2C!.tokenizer)), LLAMA2C!.tokenizer, 512));
    const stats = { promptTokens: 0, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 };
    for (const maxTokens of [1.5, -1, NaN]) {
      const e = catchSeec(() => generation(tokenizer, "Once", { maxTokens }, 512, stats).next());
      expect([e.code, e.at]).toEqual(["runtime.option", "maxTokens"]);
    }
  });
});
