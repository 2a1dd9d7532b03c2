// Every shared ONNX graph, compiled by `seec build` for wasm-simd and run by the artifact's runtime,
// gives ONNX Runtime's outputs for the same inputs: the stored ones (test_data_set_0, computed by
// onnxruntime-node 1.30 CPU), or live ones from onnxruntime-node for the graph that has none.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { tensor, type OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { halfToFloat } from "../../compiler/util/float16.js";
import { denseTable } from "../../compiler/factors/factors.js";
import { readSee } from "../../compiler/factors/format.js";
import type { Feeds } from "../../runtime/model.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { deviation, deviationFromStored, feed, graphDirs } from "../helpers/onnx.js";
import { sharedPath } from "../helpers/shared.js";

const ONNX = sharedPath("onnx");

describe.skipIf(!ONNX)("ONNX graphs compiled for wasm-simd", () => {
  const dirs = ONNX ? graphDirs(ONNX) : [];

  for (const dir of dirs.filter((d) => existsSync(join(ONNX!, d, "test_data_set_0"))))
    it(`${dir}: the artifact's outputs match ONNX Runtime's`, async () => {
      const worst = await deviationFromStored(ONNX!, dir, "wasm-simd", async (artifact, feeds) => (await loadWasm(artifact)).run(feeds));
      console.log(`${dir} (wasm-simd): largest deviation from ONNX Runtime ${worst.toExponential(2)}`);
    }, 60_000);

  it("phi_layer_standard_ops_weights_as_inputs: matches onnxruntime-node on seeded N(0, 0.05²) weights", async () => {
    const ort = await import("onnxruntime-node");
    const file = join(ONNX!, "phi_layer_standard_ops_weights_as_inputs", "model.onnx");
    const model = await readOnnx(file);
    let seed = 1;
    const uniform = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const feeds: Feeds = {};
    const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const input of model.inputs) {
      const shape = input.dims as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      // The int64 input indexes the rotary caches: positions 0..S-1 in each row.
      const data =
        input.elementType === "int64"
          ? BigInt64Array.from({ length: n }, (_, i) => BigInt(i % shape.at(-1)!))
          : Float32Array.from({ length: n }, () => 0.05 * normal());
      feeds[input.name] = data;
      ortFeeds[input.name] = new ort.Tensor(input.elementType === "int64" ? "int64" : "float32", data, shape);
    }
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
    const want = await session.run(ortFeeds);
    const out = join(await tmpDir(), "artifact");
    await build({ model: file, target: "wasm-simd", out });
    const results = await (await loadWasm(out)).run(feeds);
    let worst = 0;
    for (const o of model.outputs) {
      const w = want[o.name];
      const values =
        w.type === "float16" ? Array.from(w.data as Uint16Array, halfToFloat) : Array.from(w.data as ArrayLike<number | bigint>, Number);
      worst = Math.max(worst, deviation(results[o.name] as ArrayLike<number | bigint>, values, true, o.name));
    }
    console.log(
      `phi layer (wasm-simd): largest deviation from onnxruntime-node ${worst.toExponential(2)} over ${model.outputs.length} outputs`,
    );
  }, 180_000);

  it("SEE on ONNX: factorize finds the token embedding (word2ketXS: no tokenizer here), and build --see replaces that initializer", async () => {
    const file = join(ONNX!, "gpt2_tiny_ort_fused_contrib", "model.onnx");
    const shapes = {
      input_ids: [1, 4],
      position_ids: [1, 4],
      attention_mask: [1, 4],
      ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`past_${i}`, [2, 1, 4, 0, 8]])),
    };
    const flags = Object.entries(shapes).flatMap(([k, v]) => ["--shape", `${k}=${v.join("x")}`]);
    const work = await tmpDir();
    // No tokenizer beside this graph: SEE's knowledge (morphemes and sememes of each piece) needs one.
    const refused = await seec("factorize", file, ...flags, "--ratio", "4", "-o", join(work, "f.see"));
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining("error[usage.tokenizer]")]);
    writeFileSync(join(work, "text.txt"), "Once upon a time.\n");
    const counted = await seec(
      "factorize",
      file,
      ...flags,
      "--method",
      "word2ketxs",
      "--frequencies",
      join(work, "text.txt"),
      "-o",
      join(work, "f.see"),
    );
    expect(counted.stderr).toContain("--frequencies counts the tokens of a text, and gpt2_tiny_ort_fused_contrib has no tokenizer");
    const f = await seec("factorize", file, ...flags, "--method", "word2ketxs", "--ratio", "4", "-o", join(work, "f.see"));
    expect(f.code, f.stderr).toBe(0);
    const factors = readSee(new Uint8Array(readFileSync(join(work, "f.see"))), "f.see");
    expect(factors.spec.replaces).toBe("transformer.wte.weight");
    expect((await seec("build", file, ...flags, "--see", join(work, "f.see"), "-o", join(work, "a"))).code).toBe(0);
    expect(readFileSync(join(work, "a", "src", "model.ts"), "utf8")).toContain("entangled");

    // The reference: the same graph with that initializer replaced by the factors' dense table.
    const model = await readOnnx(file);
    const wte = model.initializers.get("transformer.wte.weight")!;
    model.initializers.set("transformer.wte.weight", { ...wte, data: denseTable(factors) });
    const ids = [5, 17, 256, 999];
    const inputs: Record<string, OnnxTensor> = {
      input_ids: tensor("int32", [1, 4], ids),
      position_ids: tensor("int32", [1, 4], [0, 1, 2, 3]),
      attention_mask: tensor("int32", [1, 4], [1, 1, 1, 1]),
      ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`past_${i}`, tensor("float32", [2, 1, 4, 0, 8])])),
    };
    const want = evaluateOnnx(model, new Map(Object.entries(inputs)));
    const got = await (await loadWasm(join(work, "a"))).run(Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, feed(t)])));
    const worst = deviation(got.logits as Float32Array, Array.from(want.get("logits")!.data), false, "logits");
    console.log(`SEE-compressed gpt2 (ratio 4) vs the reference with the reconstructed embedding: ${worst.toExponential(2)}`);
  }, 60_000);

  it("fuses the decomposed layer norms, RMS norms, GELUs and attention exporters write into seec's fused kernels", async () => {
    // op → how many the compiled graph has (undefined: none left).
    const cases: [string, string, Record<string, number | undefined>][] = [
      [
        "bert_distilbert_tiny_hf_pt110",
        "fused 5 LayerNormalization, 2 Gelu, 2 Attention",
        { LayerNorm: 5, ScaledAttention: 2, Softmax: undefined },
      ],
      ["seq2seq_nn_transformer_pt113/decoder", "fused 3 LayerNormalization, 2 Attention", { LayerNorm: 3, ScaledAttention: 2 }],
      ["gpt2_past_tiny_pt16", "fused 25 LayerNormalization, 12 Gelu", { LayerNorm: 25 }],
      ["onnx_node_tests/test_rms_normalization_3d_axis_negative_1_epsilon_expanded", "fused 1 RMSNormalization", { RMSNorm: 1 }],
      ["onnx_node_tests/test_gelu_default_2_expanded", "fused 1 Gelu", {}],
    ];
    for (const [dir, note, ops] of cases) {
      const file = join(ONNX!, dir, "model.onnx");
      const out = join(await tmpDir(), "a");
      const r = await seec("build", file, "-o", out);
      expect(r.stdout, dir).toContain(note);
      const inspect = JSON.parse((await seec("inspect", file, "--json")).stdout) as { ops: Record<string, number> };
      for (const [op, n] of Object.entries(ops)) expect(inspect.ops[op], `${dir} ${op}`).toBe(n);
      if (dir.includes("gelu")) expect(readFileSync(join(out, "src", "model.ts"), "utf8")).toMatch(/erff\(/);
    }
  }, 120_000);

  it("seec build takes --shape per input, and says which dimensions it set to 1", async () => {
    const file = join(ONNX!, "bert_distilbert_tiny_hf_pt110", "model.onnx");
    const work = await tmpDir();
    const r = await seec("build", file, "--shape", "input_ids=2x8", "-o", join(work, "a"));
    expect(r.code).toBe(0);
    // attention_mask shares input_ids' dimension names, so --shape on one binds both.
    expect(r.stdout).not.toContain("were set to 1");
    const manifest = JSON.parse(await (await import("node:fs/promises")).readFile(join(work, "a", "manifest.json"), "utf8"));
    expect(manifest.inputs.map((i: { name: string; shape: number[]; elementType?: string }) => [i.name, i.shape, i.elementType])).toEqual([
      ["input_ids", [2, 8], "int64"],
      ["attention_mask", [2, 8], "int64"],
    ]);
    const defaulted = await seec("build", file, "-o", join(work, "b"));
    expect(defaulted.stdout).toContain("note: dimensions batch, sequence were set to 1");
  }, 60_000);

  it("names a bad --shape: unknown input, wrong rank, a fixed dimension contradicted, malformed", async () => {
    const work = await tmpDir();
    const bert = join(ONNX!, "bert_distilbert_tiny_hf_pt110", "model.onnx");
    const ln = join(ONNX!, "onnx_node_tests", "test_layer_normalization_3d_axis_negative_1_epsilon", "model.onnx");
    for (const [file, shape, text] of [
      [bert, "tokens=1x8", 'names "tokens"'],
      [bert, "input_ids=8", "has 1 dimensions; the input has 2"],
      [ln, "X=2x3x6", "dimension 2 is fixed at 5"],
    ]) {
      const r = await seec("build", file, "--shape", shape, "-o", join(work, "x"));
      expect(r.stderr).toContain("error[usage.shape]");
      expect(r.stderr).toContain(text);
      expect(r.code).toBe(2);
    }
    const malformed = await seec("build", bert, "--shape", "input_ids:2x8", "-o", join(work, "x"));
    expect(malformed.stderr).toContain("expected <input>=<dims>");
    expect(malformed.code).toBe(2);
  }, 60_000);
});
