// Prefill of a prompt through the ONNX decoders of ../shared/onnx (--decoder): seec built for chunks
// of up to 32 tokens a call, the same built for one token a call (--max-chunk 1), and
// onnxruntime-node on one thread running the whole prompt in one call from an empty past. wasm-simd,
// one thread, a 64-token prompt of ids spread over the vocabulary; the three interleaved in every
// round, median of the rounds (round 0 warms up). The chunked build's logits are checked against the
// one-token build's before timing.
// Usage: node bench/run.mjs bench/onnx-decoder-prefill.ts [--tokens n] [--rounds n]
//   (writes bench/results/onnx-decoder-prefill.json)
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../compiler/build.js";
import { readOnnx } from "../compiler/frontends/onnx/read.js";
import { load, type Model } from "../runtime/index.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const tokens = Number(arg("--tokens")) || 64;
const rounds = Number(arg("--rounds")) || 9;
const shared = process.env.SEEC_SHARED ?? join(process.cwd(), "..", "shared");
const ort = await import("onnxruntime-node");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = [];
const work = await mkdtemp(join(tmpdir(), "seec-bench-"));
try {
  for (const dir of ["llama_tiny_fp16_genai_builder", "gpt2_tiny_ort_fused_contrib"]) {
    const file = join(shared, "onnx", dir, "model.onnx");
    const models: Model[] = [];
    for (const maxChunk of [32, 1]) {
      const out = join(work, `${dir}-${maxChunk}`);
      await build({ model: file, target: "wasm-simd", out, decoder: true, context: 2 * tokens, maxChunk });
      models.push(await load(out, { webgpu: false, threads: 1 }));
    }
    const vocab = models[0].manifest.model.config.vocabSize!;
    const prompt = Array.from({ length: tokens }, (_, i) => (i * 7919 + 5) % vocab);
    const [chunked, single] = [await models[0].step(prompt, 0), await models[1].step(prompt, 0)];
    let top = 0,
      diff = 0;
    for (let i = 0; i < single.length; i++)
      ((top = Math.max(top, Math.abs(single[i]))), (diff = Math.max(diff, Math.abs(chunked[i] - single[i]))));
    if (diff > 1e-4 * top) throw new Error(`${dir}: chunked logits ${diff} off the one-token build's`);

    // onnxruntime-node: the prompt in one call, the past empty.
    const graph = await readOnnx(file);
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
    const ints = (name: string, values: number[]) =>
      graph.inputs.find((i) => i.name === name)!.dtype === "int32"
        ? new ort.Tensor("int32", Int32Array.from(values), [1, values.length])
        : new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const input of graph.inputs) {
      if (input.name === "input_ids") feeds[input.name] = ints(input.name, prompt);
      else if (input.name === "attention_mask")
        feeds[input.name] = ints(
          input.name,
          prompt.map(() => 1),
        );
      else if (input.name === "position_ids")
        feeds[input.name] = ints(
          input.name,
          prompt.map((_, i) => i),
        );
      else {
        const dims = input.dims.map((d) => (typeof d === "number" ? d : /batch/.test(d) ? 1 : 0));
        const half = input.dtype === "float16";
        feeds[input.name] = new ort.Tensor(half ? "float16" : "float32", half ? new Uint16Array(0) : new Float32Array(0), dims);
      }
    }

    const times: Record<string, number[]> = { chunked: [], oneTokenACall: [], ort: [] };
    for (let r = 0; r <= rounds; r++) {
      const round: [string, () => Promise<unknown>][] = [
        ["chunked", () => models[0].step(prompt, 0)],
        ["oneTokenACall", () => models[1].step(prompt, 0)],
        ["ort", () => session.run(feeds)],
      ];
      for (const [name, f] of round) {
        const t0 = performance.now();
        await f();
        if (r > 0) times[name].push(performance.now() - t0);
      }
    }
    const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const result = {
      model: dir,
      promptTokens: tokens,
      ms,
      chunkedOverOneTokenACall: ms.oneTokenACall / ms.chunked,
      ortOverSeec: ms.ort / ms.chunked,
    };
    console.log(
      `${dir}: ${tokens}-token prompt, chunks of 32 ${ms.chunked.toFixed(2)} ms, one token a call ${ms.oneTokenACall.toFixed(2)} ms ` +
        `(${result.chunkedOverOneTokenACall.toFixed(1)}x), onnxruntime-node ${ms.ort.toFixed(2)} ms (ORT / seec ${result.ortOverSeec.toFixed(2)})`,
    );
    results.push(result);
    for (const m of models) m.dispose();
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
mkdirSync(join(process.cwd(), "bench/results"), { recursive: true });
writeFileSync(
  join(process.cwd(), "bench/results/onnx-decoder-prefill.json"),
  JSON.stringify({ date: new Date().toISOString().slice(0, 10), threads: 1, target: "wasm-simd", results }, null, 2) + "\n",
);
