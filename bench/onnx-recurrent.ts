// The ONNX recurrent ops (compiler/frontends/onnx/lower-recurrent.ts) against onnxruntime-node:
// one-node LSTM, GRU and RNN models of 128 steps, batch 1, 64 inputs, weights as initializers (seeded
// random, about 1/√fan-in), at 128 and 256 hidden units; seec wasm-simd on one thread, ONNX Runtime on one thread,
// interleaved in every round, medians of the rounds after a warm-up. Outputs compared first.
// Usage: node bench/run.mjs bench/onnx-recurrent.ts [--rounds n]
//   (writes bench/results/onnx-recurrent.json)
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../compiler/build.js";
import { load } from "../runtime/index.js";
import { opGraph, writeGraph } from "../test/helpers/onnx-model.js";
import { randomF32 } from "../test/helpers/random.js";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg("--rounds")) || 15;
const ort = await import("onnxruntime-node");
const GATES = { LSTM: 4, GRU: 3, RNN: 1 } as const;
const [S, I] = [128, 64];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const time = async (f: () => Promise<unknown>) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};
const results = [];
const work = await mkdtemp(join(tmpdir(), "seec-bench-"));
try {
  for (const H of [128, 256])
    for (const op of ["LSTM", "GRU", "RNN"] as const) {
      const G = GATES[op];
      // Weights of about 1/√fan-in, as trained ones are: random ones any larger make the recurrence
      // chaotic, where float rounding alone sends two runtimes apart over 128 steps.
      const random = (dims: number[], seed: number, fanIn: number) => ({
        dims,
        floats: Array.from(
          randomF32(
            dims.reduce((a, d) => a * d, 1),
            seed,
            1 / Math.sqrt(fanIn),
          ),
        ),
      });
      const constants = { w: random([1, G * H, I], 1, I), r: random([1, G * H, H], 2, H), b: random([1, 2 * G * H], 3, H) };
      const file = await writeGraph(opGraph({ op, opset: 14, inputs: { x: [S, 1, I] }, constants, attrs: { hidden_size: H }, outputs: 2 }));
      const out = join(work, `${op}-${H}`);
      await build({ model: file, target: "wasm-simd", out });
      const model = await load(out, { webgpu: false, threads: 1 });
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
      const x = Float32Array.from({ length: S * I }, (_, i) => Math.sin(i));
      const feeds = { x: new ort.Tensor("float32", x, [S, 1, I]) };
      const got = (await model.run({ x })).y0 as Float32Array,
        want = (await session.run(feeds)).y0.data as Float32Array;
      const worst = want.reduce((m, w, i) => Math.max(m, Math.abs(got[i] - w)), 0);
      const seec: number[] = [],
        onnxruntime: number[] = [];
      for (let r = 0; r <= rounds; r++) {
        const a = await time(() => model.run({ x })),
          b = await time(() => session.run(feeds));
        if (r > 0) (seec.push(a), onnxruntime.push(b));
      }
      const row = { op, hidden: H, steps: S, seecMs: median(seec), ortMs: median(onnxruntime), worst };
      results.push(row);
      console.log(
        `${op.padEnd(4)} H=${H}: seec ${row.seecMs.toFixed(2)} ms, onnxruntime-node ${row.ortMs.toFixed(2)} ms (${(row.seecMs / row.ortMs).toFixed(2)}x), outputs within ${worst.toExponential(1)}`,
      );
      model.dispose();
    }
} finally {
  await rm(work, { recursive: true, force: true });
}
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/onnx-recurrent.json", `${JSON.stringify({ date: new Date().toISOString(), rounds, results }, null, 2)}\n`);
