// load(dir, { worker: true }) in Node: the model runs in a worker_thread on the artifact's own
// index.mjs, with the Model API of the main thread (results equal to it), progress, abort, errors
// that keep their codes, the page's own fetch serving the worker's reads, and a GPU object refused.
import { getEventListeners } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { load, type Model, type Progress } from "../../runtime/index.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

describe.skipIf(!LLAMA2C)("load(dir, { worker: true }) in Node", () => {
  let dir: string, here: Model;

  beforeAll(async () => {
    dir = join(await tmpDir(), "stories");
    await build({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, target: "wasm-simd", out: dir });
    here = await load(dir);
  }, 60_000);

  it("gives what the main thread gives: generate, stream, run, step, stats, tokenizer", async () => {
    const events: Progress[] = [];
    const model = await load(dir, { worker: true, onProgress: (p) => events.push({ ...p }) });
    try {
      expect(
        events
          .filter((e) => e.loaded === e.total)
          .map((e) => e.file)
          .sort(),
      ).toEqual(["model.wasm", "tokenizer.json", "weights.bin"]);
      expect(model.backend).toBe(here.backend);
      expect(model.manifest).toEqual(here.manifest);
      expect(model.tokenizer!.encode("Once upon")).toEqual(here.tokenizer!.encode("Once upon"));
      expect(await model.generate("Once upon a time", { maxTokens: 40, temperature: 0 })).toBe(
        await here.generate("Once upon a time", { maxTokens: 40, temperature: 0 }),
      );
      expect(model.stats).toMatchObject({ promptTokens: here.stats.promptTokens, generatedTokens: here.stats.generatedTokens });
      const pieces: string[] = [];
      for await (const piece of model.stream("One day", { maxTokens: 16, seed: 9 })) pieces.push(piece);
      const mine: string[] = [];
      for await (const piece of here.stream("One day", { maxTokens: 16, seed: 9 })) mine.push(piece);
      expect(pieces).toEqual(mine);
      // Ids in, ids out: the same greedy path as generate()'s text, through the worker too.
      const prompt = here.tokenizer!.encode("Once upon a time");
      const ids = await here.generateTokens(prompt, { maxTokens: 40, temperature: 0 });
      const text = await here.generate("Once upon a time", { maxTokens: 40, temperature: 0 });
      expect((here.tokenizer as { decode(ids: number[], prev: number): string }).decode(ids, prompt.at(-1)!)).toBe(text);
      expect(await model.generateTokens(prompt, { maxTokens: 40, temperature: 0 })).toEqual(ids);
      const streamed: number[] = [];
      for await (const id of model.streamTokens(prompt, { maxTokens: 16, seed: 9 })) streamed.push(id);
      expect(streamed).toEqual(await here.generateTokens(prompt, { maxTokens: 16, seed: 9 }));
      await expect(model.generateTokens("Once" as never)).rejects.toMatchObject({ code: "runtime.input" });
      await expect(model.generate([1, 403] as never)).rejects.toMatchObject({ code: "runtime.input" });
      const feeds = { tokens: Int32Array.of(1, 403), pos: Int32Array.of(0) };
      expect((await model.run(feeds)).logits).toEqual((await here.run(feeds)).logits);
      expect(await model.step([1, 403, 407], 0)).toEqual(await here.step([1, 403, 407], 0));
    } finally {
      model.dispose();
    }
  });

  it("aborts a call at once, lets a stream left early free the model, and keeps errors' codes", async () => {
    const model = await load(dir, { worker: true });
    try {
      const controller = new AbortController();
      const call = model.generate("Once", { maxTokens: 256, signal: controller.signal });
      controller.abort();
      await expect(call).rejects.toMatchObject({ name: "AbortError" });
      const left = new AbortController();
      for await (const _ of model.stream("Once", { maxTokens: 256, signal: left.signal })) break;
      expect(getEventListeners(left.signal, "abort")).toHaveLength(0); // the call settled, its listener gone
      expect(await model.generate("Once", { maxTokens: 8, temperature: 0 })).toBe(
        await here.generate("Once", { maxTokens: 8, temperature: 0 }),
      );
      const e = await rejectsSeec(() => model.generate("Once", { topP: 2 }));
      expect([e.code, e.at]).toEqual(["runtime.option", "topP"]);
      expect((await rejectsSeec(() => model.run({ tokens: Int32Array.of(9999), pos: Int32Array.of(0) }))).code).toBe("runtime.token");
      const unsendable = new AbortController();
      const sent = await rejectsSeec(() => model.generate("Once", { temperature: (() => 1) as never, signal: unsendable.signal }));
      expect([sent.code, getEventListeners(unsendable.signal, "abort").length]).toEqual(["runtime.input", 0]);
      await expect(load(dir, { worker: true, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    } finally {
      model.dispose();
    }
    expect((await rejectsSeec(() => model.generate("Once"))).code).toBe("runtime.disposed");
  });

  it("runs the page's fetch for the worker's reads, aborts included, and refuses a GPU object", async () => {
    const asked: string[] = [];
    const fromDisk = async (url: string) => (
      asked.push(url.slice(url.lastIndexOf("/") + 1)),
      new Response(readFileSync(fileURLToPath(url)))
    );
    const model = await load(dir, { worker: true, fetch: fromDisk });
    try {
      expect(asked.sort()).toEqual(["manifest.json", "model.wasm", "tokenizer.json", "weights.bin"]);
      expect(await model.generate("Once", { maxTokens: 8, temperature: 0 })).toBe(
        await here.generate("Once", { maxTokens: 8, temperature: 0 }),
      );
    } finally {
      model.dispose();
    }
    // Bytes the caller's fetch keeps (a cache in memory) are still there after the worker took them.
    const held = new Uint8Array(readFileSync(join(dir, "weights.bin")));
    const fromMemory = async (url: string) =>
      url.endsWith("weights.bin") ? new Response(new ReadableStream({ start: (c) => (c.enqueue(held), c.close()) })) : fromDisk(url);
    (await load(dir, { worker: true, fetch: fromMemory })).dispose();
    expect(held.byteLength).toBe(here.manifest.memory.weights.bytes);
    const missing = await rejectsSeec(() =>
      load(dir, {
        worker: true,
        fetch: async (url) => (url.endsWith("weights.bin") ? new Response("gone", { status: 404 }) : fromDisk(url)),
      }),
    );
    expect([missing.code, missing.message]).toEqual(["io.read", expect.stringMatching(/weights\.bin: HTTP 404/)]);
    const bodiless = await rejectsSeec(() =>
      load(dir, {
        worker: true,
        fetch: async (url) => (url.endsWith("tokenizer.json") ? new Response(null, { status: 304 }) : fromDisk(url)),
      }),
    );
    expect([bodiless.code, bodiless.file]).toEqual(["io.read", expect.stringMatching(/tokenizer\.json$/)]);
    const controller = new AbortController();
    let weightsSignal: AbortSignal | undefined;
    const stalled = load(dir, {
      worker: true,
      signal: controller.signal,
      fetch: (url, init) =>
        url.endsWith("weights.bin")
          ? ((weightsSignal = init.signal),
            setTimeout(() => controller.abort(), 50), // mid-weights
            new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(init.signal!.reason))))
          : fromDisk(url),
    });
    await expect(stalled).rejects.toMatchObject({ name: "AbortError" });
    // The page's own fetch stops too (the worker is gone; nothing else would stop it).
    expect(weightsSignal?.aborted).toBe(true);
    const e = await rejectsSeec(() => load(dir, { worker: true, gpu: {} as GPU }));
    expect([e.code, e.at]).toEqual(["runtime.option", "gpu"]);
  });

  it("names a directory with no runtime", async () => {
    const missing = await rejectsSeec(() => load(join(dir, "nothing-here"), { worker: true }));
    expect(missing.code).toBe("runtime.worker");
    expect(missing.message).toMatch(/nothing-here\/index\.mjs/);
    // A script that never answers (not a seec runtime): the load's signal still ends the wait, and the worker.
    const silent = await tmpDir();
    writeFileSync(join(silent, "index.mjs"), "setInterval(() => {}, 1000);");
    await expect(load(silent, { worker: true, signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: "TimeoutError" });
  });
});
