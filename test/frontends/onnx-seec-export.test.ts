// seec builds the ONNX graph its export-onnx wrote: the calls of ai.seec:Attention and ai.seec:RoPE
// map back onto seec's ops and the caches back into the module, so the artifact is the decoder
// again — llama2.c's documented greedy output exactly, and the logits of a build of the checkpoint.
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { beforeAll, describe, expect, it } from "vitest";
import { loadOnnx } from "../../compiler/frontends/onnx/index.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

const { onnx } = onnxProto;

// Skipped, not passed, when ../shared/models/llama2c is absent (helpers/shared.ts says so).
describe.skipIf(!LLAMA2C)("seec builds the decoder it exported to ONNX", () => {
  const m = LLAMA2C!;
  let work: string, exported: string;
  beforeAll(async () => {
    work = await tmpDir();
    exported = join(work, "stories260K.onnx");
    expect((await seec("export-onnx", m.model, "-o", exported)).code).toBe(0);
  }, 60_000);

  it("writes attention and RoPE as calls of two ai.seec functions, one body each for all five layers", () => {
    const model = onnx.ModelProto.decode(readFileSync(exported));
    expect(model.functions.map((f) => `${f.domain}:${f.name}`).sort()).toEqual(["ai.seec:Attention", "ai.seec:RoPE"]);
    const calls = model.graph!.node!.filter((n) => n.domain === "ai.seec").map((n) => n.opType);
    expect([calls.filter((c) => c === "Attention").length, calls.filter((c) => c === "RoPE").length]).toEqual([5, 10]);
    expect(model.opsetImport.map((o) => `${o.domain}=${o.version}`)).toEqual(["=17", "ai.seec=1"]);
  });

  it("the artifact prints llama2.c's documented greedy output exactly, with the checkpoint's tokenizer", async () => {
    const out = join(work, "roundtrip");
    const build = await seec("build", exported, "--tokenizer", m.tokenizer, "-o", out);
    expect(build.code).toBe(0);
    expect(build.stdout + build.stderr).toContain("a decoder seec exported: its 5 layers' KV caches kept in the module");
    const r = await seec("run", out, "--prompt", "", "--max-tokens", "256", "--temperature", "0");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(m.greedy256, "utf8"));
  }, 120_000);

  // Measured 1.2e-5 (the ONNX graph's matmuls take their weights in another layout, and sum in another order).
  it("gives the logits of a build of the checkpoint within 4e-5 over a prompt chunk and 64 decoded tokens, chunked or not", async () => {
    const original = join(work, "original"),
      chunked = join(work, "chunked"),
      single = join(work, "single");
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "-o", original)).code).toBe(0);
    expect((await seec("build", exported, "-o", chunked)).code).toBe(0);
    expect((await seec("build", exported, "--max-chunk", "1", "--context", "128", "-o", single)).code).toBe(0);
    const want = await loadWasm(original);
    for (const dir of [chunked, single]) {
      const got = await loadWasm(dir);
      expect(got.contextLength).toBe(dir === single ? 128 : 512);
      let worst = 0;
      let prompt = [1, 400, 401, 402, 403, 20];
      for (let pos = 0, n = 0; n <= 64; pos += prompt.length, n++) {
        const a = await want.step(prompt, pos),
          b = await got.step(prompt, pos);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        prompt = [b.indexOf(Math.max(...b))];
      }
      expect(worst, dir).toBeLessThan(4e-5);
    }
  }, 120_000);

  it("refuses a graph that calls seec's Attention but lost a cache's output, naming the node", async () => {
    const model = onnx.ModelProto.decode(readFileSync(exported));
    const g = model.graph!;
    const dropped = g.output!.find((o) => o.name!.endsWith(".next"))!.name!;
    g.output = g.output!.filter((o) => o.name !== dropped);
    g.node = g.node!.filter((n) => !n.output!.includes(dropped));
    const file = join(work, "tampered.onnx");
    await writeFile(file, onnx.ModelProto.encode(model).finish());
    const e = await rejectsSeec(() => loadOnnx(file, "t", {}));
    expect(e.code).toBe("input.onnx");
    expect(e.message).toMatch(/not a decoder seec exported: its updated cache .* goes elsewhere than the output .*\.next/);
    expect(e.at).toMatch(/^node Attention_\d+$/);
  });

  type Model = import("onnx-proto").onnx.ModelProto;
  const attention = (m: Model) => m.graph!.node!.filter((n) => n.domain === "ai.seec" && n.opType === "Attention");
  const setAttr = (n: import("onnx-proto").onnx.INodeProto, name: string, i: number) => {
    n.attribute!.find((a) => a.name === name)!.i = i;
  };
  // Edits of the file that ONNX Runtime would run otherwise or not at all: each refused by name, before a wrong artifact.
  it.each<[string, (m: Model) => void, string | RegExp]>([
    [
      "heads not a multiple of kvHeads",
      (m) => attention(m).forEach((n) => setAttr(n, "heads", 3)),
      "heads 3 are not a multiple of its kvHeads 4",
    ],
    ["a negative head count", (m) => attention(m).forEach((n) => setAttr(n, "kvHeads", -4)), "kvHeads is -4, not a positive whole number"],
    [
      "a headDim unlike RoPE's",
      (m) => attention(m).forEach((n) => setAttr(n, "headDim", 4)),
      /headDim (4|8) is not its (RoPE|attention)'s (8|4)/,
    ],
    [
      "caches longer than the RoPE tables",
      (m) => m.graph!.input!.filter((i) => /cache/.test(i.name!)).forEach((i) => (i.type!.tensorType!.shape!.dim![0].dimValue = 1024)),
      "its caches hold 1024 rows, its RoPE tables 512 positions",
    ],
    [
      "a cache read by another node",
      (m) => m.graph!.node!.push({ opType: "Identity", input: [attention(m)[0].input![4]], output: ["peek"], name: "peek" }),
      /its cache layers\.0\.attention\.k_cache is read by node peek as well/,
    ],
    ["calls without the functions they call", (m) => (m.functions = []), /calls ai\.seec:(Attention|RoPE), which the file does not define/],
  ])("refuses a file edited so: %s", async (_what, edit, message) => {
    const model = onnx.ModelProto.decode(readFileSync(exported));
    edit(model);
    const file = join(work, "edited.onnx");
    await writeFile(file, onnx.ModelProto.encode(model).finish());
    const e = await rejectsSeec(() => loadOnnx(file, "t", {}));
    expect(e.code).toBe("input.onnx");
    expect(e.message).toMatch(message);
  });

  it("a context too short for prompt chunks takes one token a call, as a build of the checkpoint does", async () => {
    const r = await seec("build", exported, "--context", "3", "-o", join(work, "short"));
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const model = await loadWasm(join(work, "short"));
    expect([model.contextLength, model.manifest.model.config.maxChunk]).toEqual([3, 1]);
  });

  it("keeps the head tied to the embedding: one table, as in a build of the checkpoint", async () => {
    const model = onnx.ModelProto.decode(readFileSync(exported));
    const table = model.graph!.node!.find((n) => n.opType === "Gather")!.input![0];
    expect(model.graph!.node!.some((n) => n.opType === "Transpose" && n.input![0] === table)).toBe(true);
    const onnxBuild = JSON.parse(readFileSync(join(work, "roundtrip", "manifest.json"), "utf8"));
    const original = JSON.parse(readFileSync(join(work, "original", "manifest.json"), "utf8"));
    expect(onnxBuild.memory.weights.bytes).toBe(original.memory.weights.bytes);
  });

  it("needs no more memory than a build of the checkpoint: the SwiGLU fused back, the residual adds into their matmuls", () => {
    const onnxBuild = JSON.parse(readFileSync(join(work, "roundtrip", "manifest.json"), "utf8"));
    const original = JSON.parse(readFileSync(join(work, "original", "manifest.json"), "utf8"));
    expect(onnxBuild.memory.arena.bytes).toBe(original.memory.arena.bytes);
    const source = readFileSync(join(work, "roundtrip", "src", "model.ts"), "utf8");
    expect(source.match(/^  swiglu\(/gm)).toHaveLength(5);
    expect(source).not.toMatch(/^  (sigmoid|map_\w+)\(/m);
  });

  it("refuses --shape and a --max-chunk from 2 to 4, as for any decoder", async () => {
    const shape = await seec("build", exported, "--shape", "tokens=4", "-o", join(work, "x"));
    expect([shape.code, shape.stderr]).toEqual([2, expect.stringContaining("error[usage.shape]")]);
    const chunk = await seec("build", exported, "--max-chunk", "3", "-o", join(work, "y"));
    expect(chunk.stderr).toContain("error[usage.max_chunk] @ --max-chunk: a call takes 1 token or 5 and more; --max-chunk is 3");
    expect(chunk.code).toBe(2);
  });
});
