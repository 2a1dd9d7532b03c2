// stories260K end to end through the CLI, against llama2.c's documented output and the reference interpreter.
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontends/load.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { argmax } from "../../runtime/sampler.js";
import { seec } from "../helpers/cli.js";
import { maxAbsDiff } from "../helpers/random.js";
import { LLAMA2C } from "../helpers/shared.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else
        out[prefix + e.name] = createHash("sha256")
          .update(readFileSync(join(d, e.name)))
          .digest("hex");
  };
  walk(dir, "");
  return out;
}

describe.skipIf(!LLAMA2C)("stories260K on wasm-simd, through the CLI", () => {
  const m = LLAMA2C!;
  let work: string, out: string;

  beforeAll(async () => {
    work = await tmpDir();
    out = join(work, "stories");
    const r = await seec("build", m.model, "--tokenizer", m.tokenizer, "--target", "wasm-simd", "-o", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("writes the artifact the design describes, with sizes and sha256 in the manifest", () => {
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    for (const f of ["model.wasm", "weights.bin", "index.mjs", "index.d.mts", "tokenizer.json"]) {
      const bytes = readFileSync(join(out, f));
      expect(manifest.files[f]).toEqual({ bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
    }
    expect(manifest.target).toBe("wasm-simd");
    expect(manifest.memory.weights.bytes).toBe(readFileSync(join(out, "weights.bin")).length);
  });

  it("greedy from BOS for 256 steps prints exactly llama2.c's documented output", async () => {
    const r = await seec("run", out, "--prompt", "", "--max-tokens", "256", "--temperature", "0");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(m.greedy256, "utf8"));
  });

  // Tolerances about 3x what is measured: 1.38e-5 over the 256 steps, 4.5e-6 for the chunked prefill.
  it("matches the reference interpreter's logits within 4e-5 at every one of those 256 steps", async () => {
    const model = await loadWasm(out);
    const { graph } = await loadModel({ model: m.model, tokenizer: m.tokenizer });
    const ref = new Interpreter(graph);
    let token = 1,
      worst = 0;
    for (let pos = 0; pos < 256; pos++) {
      const feeds = { tokens: Int32Array.of(token), pos: Int32Array.of(pos) };
      const want = ref.run(feeds).logits.data;
      const got = (await model.run(feeds)).logits as Float32Array;
      worst = Math.max(worst, maxAbsDiff(got, want));
      expect(argmax(got)).toBe(argmax(want));
      token = argmax(want);
    }
    console.log(`wasm-simd vs the reference interpreter: largest logit difference over 256 steps ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(4e-5);
  });

  it("prefills a long prompt in chunks exactly as one token at a time", async () => {
    const chunked = await loadWasm(out);
    const prompt = "Once upon a time, there was a big brown dog named Max. Max liked to run in the park with his friend";
    const ids = chunked.tokenizer!.encode(prompt);
    expect(ids.length).toBeGreaterThan(chunked.manifest.dims.T.max); // more than one chunk
    const { graph } = await loadModel({ model: m.model, tokenizer: m.tokenizer });
    const ref = new Interpreter(graph);
    let want!: Float32Array;
    ids.forEach((id, pos) => (want = ref.run({ tokens: Int32Array.of(id), pos: Int32Array.of(pos) }).logits.data as Float32Array));
    const chunkedWorst = maxAbsDiff(await chunked.step(ids, 0), want);
    console.log(
      `chunked prefill of ${ids.length} tokens vs the reference interpreter: largest logit difference ${chunkedWorst.toExponential(2)}`,
    );
    expect(chunkedWorst).toBeLessThan(1.5e-5);
    expect(await chunked.generate(prompt, { maxTokens: 40, temperature: 0 })).toMatch(/\S/);
  });

  it("ends the text before a stop string: the documented output cut there, through the CLI, stream() and generate()", async () => {
    const greedy = readFileSync(m.greedy256, "utf8");
    // "red ball" spans four tokens (" r", "ed", " b", "all"): held back until the last completes it.
    // --stop repeats (not variadic), so the directory may follow it.
    const r = await seec("run", "--stop", "red ball", "--stop", "NOT IN THE TEXT", out, "--temperature", "0", "--max-tokens", "256");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(greedy.slice(0, greedy.indexOf("red ball")) + "\n");
    const model = await loadWasm(out);
    const pieces: string[] = [];
    for await (const p of model.stream("", { temperature: 0, stop: ["park", "Lily"] })) pieces.push(p);
    expect(pieces.join("")).toBe(greedy.slice(0, greedy.indexOf("Lily"))); // "Lily" comes before "park"
    expect(model.stats.generatedTokens).toBeLessThan(20);
    expect(await model.generate("", { temperature: 0, stop: "\n" })).toBe(greedy.slice(0, greedy.indexOf("\n")));
    const e = await rejectsSeec(() => model.generateTokens([1], { stop: "." }));
    expect([e.code, e.at]).toEqual(["runtime.option", "stop"]);
    expect((await rejectsSeec(() => model.generate("", { stop: [""] }))).message).toBe(
      'stop must be a non-empty string of whole characters or an array of them, got [""]',
    );
    const sparse: string[] = [];
    sparse[2] = "zzz"; // holes, which every() would skip
    for (const stop of [sparse, "\uDE42", 7 as unknown as string])
      expect((await rejectsSeec(() => model.generate("", { maxTokens: 5, stop }))).code).toBe("runtime.option");
  });

  it("samples deterministically for a seed, and differently for another", async () => {
    const args = ["run", out, "--prompt", "The cat", "--max-tokens", "40", "--temperature", "0.9"];
    const a = await seec(...args, "--seed", "7");
    const b = await seec(...args, "--seed", "7");
    const c = await seec(...args, "--seed", "8");
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
    expect(a.stdout.startsWith("The cat")).toBe(true);
  });

  it("builds byte-identical artifacts from the same inputs", async () => {
    const again = join(work, "again");
    const args = [m.model, "--tokenizer", m.tokenizer, "-o", again];
    expect((await seec("build", ...args)).code).toBe(0);
    const first = hashes(again);
    expect((await seec("build", ...args)).code).toBe(0);
    expect(hashes(again)).toEqual(first);
  });

  it("refuses a truncated checkpoint in one line, exit code 3, leaving no output", async () => {
    const cut = join(work, "cut.bin");
    writeFileSync(cut, readFileSync(m.model).subarray(0, 500_000));
    const dest = join(work, "never");
    const r = await seec("build", cut, "--tokenizer", m.tokenizer, "-o", dest);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^seec: error\[input\.truncated\] .*cut\.bin @ byte \d+: file ends inside layers\.\d\./);
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("keeps the previous artifact whole when a rebuild fails", async () => {
    const before = hashes(out);
    const badTok = join(work, "bad-tok.bin");
    writeFileSync(badTok, readFileSync(m.tokenizer).subarray(0, 3000));
    const r = await seec("build", m.model, "--tokenizer", badTok, "-o", out);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^seec: error\[input\.truncated\] .*bad-tok\.bin/);
    expect(hashes(out)).toEqual(before);
  });

  it("inspect reports ops, parameters by group and the memory plan", async () => {
    const r = await seec("inspect", m.model, "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ops).toEqual({ Gather: 1, RMSNorm: 11, Linear: 36, RoPE: 10, Attention: 5, Add: 10, SwiGLU: 5, LastRow: 1 });
    expect(report.parameters["layers.*.feed_forward.w1"]).toEqual({ tensors: 5, parameters: 5 * 172 * 64, bytes: 5 * 172 * 64 * 4 });
    expect(report.memory.state.bytes).toBe(5 * 2 * 512 * 32 * 4); // K and V caches: layers x context x kvDim
    const text = await seec("inspect", m.model);
    expect(text.stdout).toMatch(/memory plan\n {2}weights {8}1\.01 MiB/);
  });

  it("inspect checks an artifact's files against its manifest: a changed byte or a missing file fails, exit 3", async () => {
    const copy = join(work, "inspected");
    cpSync(out, copy, { recursive: true });
    const whole = await seec("inspect", copy);
    expect([whole.code, whole.stderr]).toEqual([0, ""]);
    expect(whole.stdout).toMatch(/^stories260K: decoder, dim 64, hiddenDim 172, nLayers 5, /);
    expect(whole.stdout).toMatch(
      /a seec \S+ artifact for wasm-simd, built by: seec build stories260K\.bin --tokenizer tok512\.bin --target wasm-simd -o stories\n/,
    );
    expect(whole.stdout).toMatch(/files \(all 6 as the manifest records them: size and sha256\)\n(.*ok\n){6}/);
    expect(whole.stdout).toMatch(/ {2}weights\.bin +1\.01 MiB {2}ok\n/);
    const weights = readFileSync(join(copy, "weights.bin"));
    weights[1000] ^= 1;
    writeFileSync(join(copy, "weights.bin"), weights);
    rmSync(join(copy, "tokenizer.json"));
    const damaged = await seec("inspect", copy);
    expect(damaged.code).toBe(3);
    expect(damaged.stdout).toMatch(/ {2}tokenizer\.json +5\.3 KiB {2}missing\n {2}weights\.bin +1\.01 MiB {2}sha256 differs\n/);
    expect(damaged.stderr).toBe(
      `seec: error[input.artifact] ${copy} @ tokenizer.json: tokenizer.json (missing), weights.bin (sha256 differs): not as seec build wrote them, by the manifest's record (hint: build the artifact again, or copy it again from where it was built)\n`,
    );
    const json = await seec("inspect", copy, "--json");
    expect(JSON.parse(json.stdout).files.filter((f: { state: string }) => f.state !== "ok")).toEqual([
      { name: "tokenizer.json", bytes: 5406, state: "missing" },
      { name: "weights.bin", bytes: 1056512, state: "sha256 differs" },
    ]);
    // A manifest whose list leaves out a file the artifact reads checks nothing of it: refused too.
    const unlisted = join(work, "unlisted");
    cpSync(out, unlisted, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(unlisted, "manifest.json"), "utf8"));
    delete manifest.files["weights.bin"];
    writeFileSync(join(unlisted, "manifest.json"), JSON.stringify(manifest));
    const left = await seec("inspect", unlisted);
    expect([left.code, left.stderr]).toEqual([
      3,
      expect.stringContaining("the manifest's file list leaves out weights.bin, which the artifact reads"),
    ]);
    writeFileSync(join(unlisted, "manifest.json"), "{ cut");
    const cut = await seec("inspect", unlisted);
    expect([cut.code, cut.stderr]).toEqual([3, expect.stringContaining("error[input.json]")]);
    const plan = await seec("inspect", copy, "--plan");
    expect([plan.code, plan.stderr]).toEqual([
      2,
      expect.stringMatching(/^seec: error\[usage\.option\] @ --plan: --plan is for a model seec reads/),
    ]);
  });

  it("answers bad usage with exit code 2 and a missing file with exit code 8", async () => {
    const unknown = await seec("build", m.model, "--no-such-flag");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-flag'/);
    const missing = await seec("build", join(work, "absent.bin"), "-o", join(work, "x"));
    expect(missing.code).toBe(8);
    expect(missing.stderr).toMatch(/^seec: error\[io\.not_found\] .*absent\.bin: cannot read the model: no such file/);
  });

  it("refuses to replace a directory that is not a seec artifact", async () => {
    const mine = join(work, "mine");
    writeFileSync(join(work, "keep.txt"), "x");
    const r = await seec("build", m.model, "-o", work);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage\.output/);
    expect(existsSync(join(work, "keep.txt"))).toBe(true);
    expect(existsSync(mine)).toBe(false);
  });
});
