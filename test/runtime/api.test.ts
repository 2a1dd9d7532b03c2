// The artifact's API as a web developer calls it: the same async surface on every backend, stream()
// handing out only new text, random sampling unless seeded, and calls that an AbortSignal cancels.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Model } from "../../runtime/model.js";
import { compileAndLoad, loadWasm, tmpDir } from "../helpers/compile.js";
import { randomF32 } from "../helpers/random.js";
import { LLAMA2C } from "../helpers/shared.js";

/** What an aborted call rejects with: the DOMException fetch() uses too. */
async function abortError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).name;
  }
  return "resolved";
}

describe("calls on the wasm engine", () => {
  let model: Model;
  beforeAll(async () => {
    const b = new GraphBuilder("tiny", { family: "graph", config: {} });
    b.dim("T", 4);
    const x = b.input("x", "f32", ["T", 3]);
    b.output(b.node("Linear", "y", [x, b.constant("w", randomF32(2 * 3, 1), [2, 3])]));
    model = await compileAndLoad(b.finish());
  });

  it("returns promises, as on WebGPU", async () => {
    const pending = model.run({ x: new Float32Array(6) });
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).y).toHaveLength(4);
  });

  it("rejects with an AbortError when the signal is aborted", async () => {
    expect(await abortError(model.run({ x: new Float32Array(3) }, { signal: AbortSignal.abort() }))).toBe("AbortError");
  });
});

describe.skipIf(!LLAMA2C)("generation", () => {
  let model: Model;
  const prompt = "Once upon a time";
  beforeAll(async () => {
    const out = join(await tmpDir(), "stories");
    await build({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, target: "wasm-simd", out });
    model = await loadWasm(out);
  }, 60_000);

  it("streams only the continuation, piece by piece, as generate() returns it whole", async () => {
    const pieces: string[] = [];
    for await (const piece of model.stream(prompt, { maxTokens: 16, temperature: 0 })) pieces.push(piece);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(await model.generate(prompt, { maxTokens: 16, temperature: 0 }));
    expect(pieces.join("")).not.toContain(prompt);
    expect(model.stats.generatedTokens).toBe(16);
  });

  it("a step() or run() called during a generation waits for it (they share the KV cache), in call order", async () => {
    const alone = await model.generate(prompt, { maxTokens: 64, temperature: 0 });
    const order: string[] = [];
    const [during] = await Promise.all([
      model.generate(prompt, { maxTokens: 64, temperature: 0 }).then((text) => (order.push("generate"), text)),
      Promise.resolve().then(() => model.step([1, 2, 3, 4, 5], 0).then(() => order.push("step"))),
      new Promise((r) => setTimeout(r, 0)).then(() =>
        model.run({ tokens: Int32Array.of(7), pos: Int32Array.of(3) }).then(() => order.push("run")),
      ),
    ]);
    expect(during).toBe(alone);
    expect(order).toEqual(["generate", "step", "run"]);
  });

  it("samples with a random seed unless given one; equal seeds agree and different seeds differ", async () => {
    const opts = { maxTokens: 48, temperature: 1 };
    const unseeded = await Promise.all([1, 2, 3].map(() => model.generate(prompt, opts)));
    expect(new Set(unseeded).size).toBeGreaterThan(1);
    // Started together: the model runs them one after another (they share its KV cache).
    const [a, b, c] = await Promise.all([7, 7, 8].map((seed) => model.generate(prompt, { ...opts, seed })));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(await model.generate(prompt, { ...opts, seed: 7 })).toBe(a);
  });

  it("stops a generation when its signal is aborted, before or during it", async () => {
    expect(await abortError(model.generate(prompt, { signal: AbortSignal.abort() }))).toBe("AbortError");
    const controller = new AbortController();
    let pieces = 0;
    const during = (async () => {
      for await (const _ of model.stream(prompt, { maxTokens: 200, signal: controller.signal })) if (++pieces === 3) controller.abort();
    })();
    expect(await abortError(during)).toBe("AbortError");
    expect(pieces).toBe(3);
  });

  it("hears an abort() from a timer while it streams (the engine returns to the event loop)", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    let pieces = 0;
    const drawing = (async () => {
      for await (const _ of model.stream(prompt, { maxTokens: 100_000, temperature: 0, signal: controller.signal })) {
        pieces++;
        for (const end = performance.now() + 1; performance.now() < end;); // a page drawing each piece
      }
    })();
    expect(await abortError(drawing)).toBe("AbortError");
    await model.generate(prompt, { maxTokens: 100_000, temperature: 0 });
    expect(pieces).toBeLessThan(model.stats.generatedTokens); // stopped before its end
  });
});
