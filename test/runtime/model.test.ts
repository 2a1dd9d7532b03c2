// The runtime's guards: bad feeds get a clear SeecError before they reach wasm, and many runs or
// loads leave memory flat.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Model } from "../../runtime/model.js";
import { compileAndLoad, loadWasm, tmpDir, tokensToOutGraph } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { seec } from "../helpers/cli.js";
import { LLAMA2C } from "../helpers/shared.js";

describe("runtime guards", () => {
  let model: Model;
  beforeAll(async () => {
    model = await compileAndLoad(tokensToOutGraph({ family: "decoder", config: { vocabSize: 11, contextLength: 8 } }));
  });

  it("runs a good feed", async () => {
    expect((await model.run({ tokens: Int32Array.of(1, 2, 3) })).out).toHaveLength(9);
  });

  it.each([
    [
      "a token id outside the vocabulary",
      { tokens: Int32Array.of(1, 11) },
      "runtime.token",
      /token id 11 is outside the vocabulary \[0, 11\)/,
    ],
    ["a negative token id", { tokens: Int32Array.of(-1) }, "runtime.token", /token id -1/],
    ["the wrong dtype", { tokens: Float32Array.of(1) }, "runtime.input", /must be a Int32Array, got Float32Array/],
    ["more tokens than a call takes", { tokens: new Int32Array(5) }, "runtime.input", /has 5 elements; shape \[T\] allows 1 to 4/],
    [
      "an unknown input name",
      { tokens: Int32Array.of(1), extra: Int32Array.of(1) },
      "runtime.input",
      /unknown input "extra"; the model's inputs are tokens/,
    ],
    ["a missing input", {}, "runtime.input", /missing input "tokens"/],
  ])("refuses %s", async (_what, feeds, code, message) => {
    const e = await rejectsSeec(() => model.run(feeds as never));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it("keeps wasm memory and the JS heap flat over 10,000 runs", async () => {
    const feeds = { tokens: Int32Array.of(1, 2, 3, 4) };
    const memory = () => (model as unknown as { engine: { exports: { memory: WebAssembly.Memory } } }).engine.exports.memory;
    for (let i = 0; i < 1000; i++) await model.run(feeds);
    const pages = memory().buffer.byteLength;
    globalThis.gc?.();
    const heap = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) await model.run(feeds);
    globalThis.gc?.();
    expect(memory().buffer.byteLength).toBe(pages);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(4 * 1024 * 1024);
  });

  it("refuses to run a disposed model", async () => {
    const m = await compileAndLoad(tokensToOutGraph({ family: "decoder", config: { vocabSize: 11, contextLength: 8 } }));
    m.dispose();
    expect((await rejectsSeec(() => m.run({ tokens: Int32Array.of(1) }))).code).toBe("runtime.disposed");
  });
});

describe.skipIf(!LLAMA2C)("loading and generating", () => {
  it("1,000 load/dispose cycles leave the JS heap flat", async () => {
    const dir = join(await tmpDir(), "stories");
    expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "-o", dir)).code).toBe(0);
    for (let i = 0; i < 50; i++) (await loadWasm(dir)).dispose();
    globalThis.gc?.();
    const heap = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1000; i++) (await loadWasm(dir)).dispose();
    globalThis.gc?.();
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(16 * 1024 * 1024);
  });

  it("refuses a prompt longer than the context", async () => {
    const dir = join(await tmpDir(), "short");
    expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--context", "16", "-o", dir)).code).toBe(0);
    const m = await loadWasm(dir);
    const e = await rejectsSeec(() => m.generate("Once upon a time there was a little girl who loved to play in the park with her dog"));
    expect(e.code).toBe("runtime.context");
    expect(e.message).toMatch(/the context holds 16/);
  });
});
