// seec build --threads n: model.threads.wasm splits the large matmuls across threads over shared
// memory (targets/wasm/kernels/threads.ts, runtime/threads.ts). A split result must equal the
// unsplit one bit for bit: one token's outputs split by weight rows, a prompt's tokens by rows, for
// f32, int8 and q4 weights, on wasm-simd and wasm-relaxed; load()'s threads option chooses.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { Worker as NodeWorker } from "node:worker_threads";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { load } from "../../runtime/index.js";
import { tmpDir } from "../helpers/compile.js";
import { seec } from "../helpers/cli.js";
import { rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";
import { splitLogits, writeSplitCheckpoint } from "../helpers/threads.js";

// Node 20 runs relaxed-SIMD modules only with this flag (set before any is compiled), so that wasm-relaxed runs its own kernels.
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

describe("seec build --threads", () => {
  let model: string, root: string;

  beforeAll(async () => {
    root = await tmpDir();
    model = join(root, "synthetic.bin");
    writeSplitCheckpoint(model);
  });

  for (const [target, quantize] of [
    ["wasm-simd", undefined],
    ["wasm-simd", "int8"],
    ["wasm-simd", "q4"],
    ["wasm-relaxed", "q4"],
    ["wasm-relaxed", "int8"],
  ] as const)
    it(`${target}${quantize ? ` --quantize ${quantize}` : ""}: two threads give one thread's logits exactly`, async () => {
      const out = join(root, `${target}-${quantize ?? "f32"}`);
      await build({ model, noTokenizer: true, target, quantize, threads: 2, out });
      const one = await load(out, { threads: 1 }),
        two = await load(out, { threads: 2 });
      try {
        expect([one.threads, two.threads, one.backend, two.backend]).toEqual([1, 2, target, target]);
        const [a, b] = [await splitLogits(one), await splitLogits(two)];
        expect(b[0].length).toBe(512);
        expect(b).toEqual(a);
        // And again: the workers serve every call, not only the first.
        expect(await splitLogits(two)).toEqual(a);
      } finally {
        one.dispose();
        two.dispose();
      }
    }, 60_000);

  it("lists the modules for threads first, each before the one it splits, and ships their source", async () => {
    const out = join(root, "relaxed-listing");
    await build({ model, noTokenizer: true, target: "wasm-relaxed", threads: 4, out });
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    expect(manifest.modules).toEqual([
      { backend: "wasm-relaxed", file: "model.relaxed.threads.wasm", threads: 4 },
      { backend: "wasm-simd", file: "model.threads.wasm", threads: 4 },
      { backend: "wasm-relaxed", file: "model.relaxed.wasm" },
      { backend: "wasm-simd", file: "model.wasm" },
    ]);
    const source = await readFile(join(out, "src/model.threads.ts"), "utf8");
    expect(source).toContain("parallel(0, T, share); // layers.0.attention.wq");
    expect(source).toContain("export function work(tid: i32): void {");
    expect(source).toMatch(/case \d+: \{ \/\/ layers\.1\.attention: its kv heads\n.*\n\s+if \(count > 0\) attentionHeads\(/);
    // At most 4 threads; the machine's cores decide below that, and threads: 1 runs model.relaxed.wasm.
    const all = await load(out, { threads: 16 });
    const single = await load(out, { threads: 1 });
    try {
      expect(all.threads).toBe(4);
      expect(single.threads).toBe(1);
      expect(await splitLogits(all)).toEqual(await splitLogits(single));
    } finally {
      all.dispose();
      single.dispose();
    }
  }, 60_000);

  it("a model in a worker (load's worker: true) starts its threads there", async () => {
    const out = join(root, "wasm-simd-int8");
    const inWorker = await load(out, { worker: true, threads: 2 }),
      here = await load(out, { threads: 1 });
    try {
      expect(inWorker.threads).toBe(2);
      expect(await splitLogits(inWorker as never)).toEqual(await splitLogits(here));
    } finally {
      inWorker.dispose();
      here.dispose();
    }
  }, 60_000);

  it("without --threads, the artifact has no module for threads and load() runs one", async () => {
    const out = join(root, "plain");
    await build({ model, noTokenizer: true, target: "wasm-simd", out });
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    expect(manifest.modules).toEqual([{ backend: "wasm-simd", file: "model.wasm" }]);
    const m = await load(out, { threads: 8 });
    expect(m.threads).toBe(1);
    m.dispose();
  }, 60_000);

  it.skipIf(!LLAMA2C)(
    "seec run --threads: the same greedy text on one thread and on two, as --json says",
    async () => {
      // The split checkpoint's vocabulary is stories260K's: its tokenizer gives it text.
      const out = join(root, "split-text");
      expect((await seec("build", model, "--tokenizer", LLAMA2C!.tokenizer, "--threads", "2", "-o", out)).code).toBe(0);
      const run = async (threads: string) => {
        const r = await seec("run", out, "--prompt", "Once upon a time", "-n", "40", "--temperature", "0", "--json", "--threads", threads);
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { text: string; threads: number; generatedTokens: number };
      };
      const [one, two] = [await run("1"), await run("2")];
      expect([one.threads, two.threads]).toEqual([1, 2]);
      expect(one.generatedTokens).toBeGreaterThan(0);
      expect(two.text).toBe(one.text);
    },
    60_000,
  );

  it.skipIf(!LLAMA2C)(
    "stories260K splits nothing: build --threads says so and writes no module for threads; run --threads 2 runs one",
    async () => {
      const out = join(root, "stories");
      const built = await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--threads", "2", "-o", out);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toContain(
        "note: --threads 2: no matmul of this model is large enough to split across threads (65,536 multiply-adds a token or more), so it runs on one thread and the artifact has no module for threads",
      );
      expect(readdirSync(out).filter((f) => f.includes("threads"))).toEqual([]);
      const r = await seec("run", out, "--prompt", "Once upon a time", "-n", "40", "--temperature", "0", "--json", "--threads", "2");
      expect(r.code, r.stderr).toBe(0);
      const { text, threads } = JSON.parse(r.stdout) as { text: string; threads: number };
      expect(threads).toBe(1);
      expect(text).toMatch(/^Once upon a time, there was a little girl named Lily/);
    },
    60_000,
  );

  it("a load that fails after its threads started ends them (a damaged tokenizer.json)", async (ctx) => {
    if (!existsSync("/proc/self/task")) ctx.skip(); // counts this process's threads: Linux only
    const threadsNow = () => readdirSync("/proc/self/task").length;
    const out = join(root, "broken-tokenizer");
    await build({ model, noTokenizer: true, target: "wasm-simd", threads: 4, out });
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    writeFileSync(join(out, "tokenizer.json"), "{ not json");
    manifest.tokenizer = { file: "tokenizer.json", type: "llama2c-bpe" };
    manifest.files["tokenizer.json"] = { bytes: 10, sha256: createHash("sha256").update("{ not json").digest("hex") };
    writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest));
    const before = threadsNow();
    for (let i = 0; i < 3; i++) expect((await rejectsSeec(() => load(out, { threads: 4 }))).code).toBe("input.json");
    // Terminated workers' threads end asynchronously.
    for (let t0 = Date.now(); threadsNow() > before && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 50));
    expect(threadsNow()).toBeLessThanOrEqual(before);
  }, 60_000);

  it("a worker that stopped makes the next call runtime.worker, not a hang", async () => {
    const workers: NodeWorker[] = [];
    const unref = NodeWorker.prototype.unref;
    NodeWorker.prototype.unref = function (this: NodeWorker) {
      workers.push(this);
      return unref.call(this);
    };
    let m;
    try {
      m = await load(join(root, "wasm-simd-int8"), { threads: 2 });
    } finally {
      NodeWorker.prototype.unref = unref;
    }
    expect(workers).toHaveLength(1);
    await splitLogits(m);
    await workers[0].terminate();
    await new Promise((r) => setTimeout(r, 50)); // its exit event
    const e = await rejectsSeec(() => m.run({ tokens: Int32Array.of(1), pos: Int32Array.of(0) }));
    expect([e.code, e.message, e.hint]).toEqual([
      "runtime.worker",
      "a thread of the model stopped: its worker exited (code 1)",
      "load the model again (threads: 1 runs it on one thread)",
    ]);
    m.dispose();
  }, 60_000);

  it("a model dropped without dispose() ends its workers once it is collected", async (ctx) => {
    if (!existsSync("/proc/self/task")) ctx.skip(); // counts this process's threads: Linux only
    const threadsNow = () => readdirSync("/proc/self/task").length;
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const out = join(root, "dropped");
    await build({ model, noTokenizer: true, target: "wasm-simd", threads: 2, out });
    // Threads of earlier tests' terminated workers end asynchronously: count once the number holds.
    const settled = async () => {
      for (let n = threadsNow(), t0 = Date.now(); Date.now() - t0 < 5_000;) {
        gc();
        await new Promise((r) => setTimeout(r, 100));
        if (threadsNow() === n) return n;
        n = threadsNow();
      }
      return threadsNow();
    };
    const before = await settled();
    // Held while the workers are counted, so that none is collected early; loaded in a function of
    // its own, so that no register of this one keeps the last model alive afterwards.
    const held: object[] = [];
    const use = async () => {
      const m = await load(out, { threads: 2 });
      expect(m.threads).toBe(2);
      await m.run({ tokens: Int32Array.of(1), pos: Int32Array.of(0) });
      held.push(m);
    };
    for (let i = 0; i < 3; i++) await use();
    expect(threadsNow()).toBeGreaterThanOrEqual(before + 3);
    held.length = 0;
    // Collected, finalized, then the terminated workers' threads end asynchronously.
    for (let t0 = Date.now(); threadsNow() > before && Date.now() - t0 < 20_000;) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(threadsNow()).toBeLessThanOrEqual(before);
  }, 60_000);

  it("the caller gives up a worker's part after 10 s of the clock with no part ending, not after a count of polls", async () => {
    // The module for threads on its own, told that two threads share the jobs but with no worker
    // started: the first split job's other part never ends. Its clock (env.now) is ours: each look
    // at it moves `step` ms on. The loop once gave up after 2^31 polls, 0.64 s on this machine, so a
    // worker the system had descheduled that long made the model unusable.
    const out = join(root, "wasm-simd-int8");
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    const module = await WebAssembly.compile(await readFile(join(out, "model.threads.wasm")));
    const looks = async (step: number) => {
      const memory = new WebAssembly.Memory({ initial: manifest.memory.pages, maximum: manifest.memory.pages, shared: true });
      let clock = 1000,
        count = 0;
      const now = () => ((count += 1), (clock += step));
      const { exports } = (await WebAssembly.instantiate(module, { env: { memory, now } })) as unknown as {
        exports: { setThreads(n: number): void; forward(T: number, B: number): void };
      };
      exports.setThreads(2);
      expect(() => exports.forward(1, 0)).toThrow(WebAssembly.RuntimeError);
      return count;
    };
    // One look starts the clock; it gives up at the first look past 10 s.
    expect(await looks(1000)).toBe(12);
    expect(await looks(250)).toBe(42);
  }, 60_000);

  it("refuses --threads for a target without modules for threads, and a bad threads option", async () => {
    const wasi = await rejectsSeec(() => build({ model, noTokenizer: true, target: "wasi", threads: 2, out: join(root, "wasi") }));
    expect(wasi).toMatchObject({ code: "unsupported.target", at: "--threads", message: "the wasi target has no modules for threads" });
    expect(wasi.hint).toBe("build --threads for wasm-simd or wasm-relaxed");
    const option = await rejectsSeec(() => load(join(root, "plain"), { threads: 0 }));
    expect(option).toMatchObject({
      code: "runtime.option",
      at: "threads",
      message: "load() option threads must be a whole number of at least 1, got 0",
    });
  });
});
