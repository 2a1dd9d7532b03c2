// The Universal Sentence Encoder Lite (TF.js graph model from npm) end to end, against TF.js.
import { readFileSync, writeFileSync, mkdirSync, copyFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cosine, readStsb, spearman } from "../../compiler/eval/stsb.js";
import type { Model } from "../../runtime/model.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { sharedPath } from "../helpers/shared.js";
import { referenceEmbedder, USE_DIR, USE_MODEL_JSON } from "../helpers/use-lite.js";

const STSB = sharedPath("eval/stsb/dev.tsv");

describe("Universal Sentence Encoder Lite on wasm-simd", () => {
  let work: string, out: string, model: Model;

  beforeAll(async () => {
    work = await tmpDir();
    out = join(work, "use");
    const r = await seec("build", USE_DIR, "-o", out); // the package folder works as well as model.json
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    model = await loadWasm(out);
  });

  it.skipIf(!STSB)("matches TF.js on every STS-B dev sentence (cosine > 0.99999), and so does its Spearman", async () => {
    const pairs = readStsb(readFileSync(STSB!, "utf8"));
    const sentences = pairs.flatMap((p) => [p.a, p.b]);
    const ours = await model.embed(sentences);
    const theirs = await (await referenceEmbedder())(sentences);
    const cosines = ours.map((e, i) => cosine(e, theirs[i]));
    const worst = Math.min(...cosines);
    expect(worst).toBeGreaterThan(0.99999);
    const score = (emb: ArrayLike<number>[]) =>
      spearman(
        pairs.map((_, i) => cosine(emb[2 * i], emb[2 * i + 1])),
        pairs.map((p) => p.score),
      );
    const [a, b] = [score(ours), score(theirs)];
    expect(a.toFixed(3)).toBe(b.toFixed(3));
    expect(a).toBeGreaterThan(0.66);
  });

  it.skipIf(!STSB)("the build measures int8's STS-B cost (within 0.005) against the f32 model, and int8 halves the weights", async () => {
    const q8 = join(work, "q8");
    const r = await seec("build", USE_DIR, "--quantize", "int8", "--stsb", STSB!, "-o", q8, "--json");
    expect(r.code).toBe(0);
    const { quality } = JSON.parse(r.stdout);
    expect(quality).toMatchObject({ metric: "stsb-spearman", count: 1500, unit: "pairs" });
    // The f32 score is the dense artifact's, as seec eval gives it; the int8 one the artifact written.
    const score = async (dir: string) => JSON.parse((await seec("eval", dir, "--stsb", STSB!, "--json")).stdout).spearman;
    expect(quality.f32).toBeCloseTo(await score(out), 6);
    expect(quality.value).toBeCloseTo(await score(q8), 6);
    expect(Math.abs(quality.value - quality.f32)).toBeLessThan(0.005);
    expect(readFileSync(join(q8, "weights.bin")).length).toBeLessThan(readFileSync(join(out, "weights.bin")).length / 2);
  });

  it("embeds an empty text and a text longer than the model's 128 tokens", async () => {
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const [empty, clipped] = await model.embed(["", long]);
    const [refEmpty, refClipped] = await (await referenceEmbedder())(["", long]);
    expect(cosine(empty, refEmpty)).toBeGreaterThan(0.99999);
    expect(cosine(clipped, refClipped)).toBeGreaterThan(0.99999);
  });

  it("prints the similarity matrix of --text arguments, and the vectors with --json", async () => {
    const texts = ["A man is playing the cello.", "A man seated is playing the cello.", "The stock market fell sharply today."];
    const r = await seec("run", out, ...texts.flatMap((t) => ["--text", t]));
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .slice(-3)
      .map((l) => l.trim().split(/\s+/).slice(1).map(Number));
    expect(rows.map((row, i) => row[i])).toEqual([1, 1, 1]);
    expect(rows[0][1]).toBeGreaterThan(0.8);
    expect(rows[0][2]).toBeLessThan(0.3);
    const json = JSON.parse((await seec("run", out, "--json", ...texts.flatMap((t) => ["--text", t]))).stdout);
    expect(json.embeddings).toHaveLength(3);
    expect(json.embeddings[0]).toHaveLength(512);
    expect(json.similarity[0][1]).toBeCloseTo(rows[0][1], 3);
  });

  it.skipIf(!STSB)("seec eval --stsb prints the Spearman correlation", async () => {
    const r = await seec("eval", out, "--stsb", STSB!, "--limit", "200");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^0\.\d{4}\n$/);
  });

  it("refuses a graph with ops it does not support, listing each with its node, before writing anything", async () => {
    const dir = join(work, "edited");
    mkdirSync(dir);
    for (const f of readdirSync(USE_DIR))
      if (f.startsWith("group1-shard") || f === "vocab.json") copyFileSync(join(USE_DIR, f), join(dir, f));
    const json = JSON.parse(readFileSync(USE_MODEL_JSON, "utf8"));
    const nodes = json.modelTopology.node;
    nodes.find((n: { op: string }) => n.op === "Tanh").op = "Gelu";
    nodes.find((n: { op: string }) => n.op === "Softmax").op = "Sparsemax";
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    const r = await seec("build", join(dir, "model.json"), "-o", join(work, "never"));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(
      /^seec: error\[unsupported\.op\] .*unsupported TF ops: (Sparsemax|Gelu) \(node .+\), (Sparsemax|Gelu) \(node .+\)/,
    );
  });
});
