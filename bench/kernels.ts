// Kernel efficiency: the machine's single-core f32x4 peak (mul+add and relaxed FMA) measured by a
// microbenchmark, then seec's linear kernel at the models' own shapes, on wasm-simd and
// wasm-relaxed, as GFLOP/s and as a share of that peak; and the int8 and q4 kernels (--quantize int8
// and q4, integer dot products, the same code in both flavours) at the same shapes, as the f32
// GFLOP/s they equal (2·T·K·N ÷ time) and as a share of the relaxed FMA peak. All in one process.
// Usage: node bench/run.mjs bench/kernels.ts   (writes bench/results/kernels.json)
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import asc from "assemblyscript/asc";
import { writeArtifact } from "../compiler/artifact.js";
import { compileArtifact } from "../compiler/build.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import { storeWeights, type WeightLayout } from "../compiler/ir/ops/linear.js";
import { quantizeInt8 } from "../compiler/passes/quantize.js";
import { quantizeQ4 } from "../compiler/passes/quantize-q4.js";
import { rng } from "../compiler/util/random.js";
import { load } from "../runtime/index.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

/** CHAINS independent multiply-add chains on registers (enough to hide latency): what one core can issue. */
const CHAINS = 12;
const PEAK = (madd: (a: string) => string) => {
  const acc = Array.from({ length: CHAINS }, (_, i) => `a${i}`);
  return `
export function peak(iters: i32): f32 {
  const x = f32x4.splat(0.999999), y = f32x4.splat(0.000001);
  ${acc.map((a, i) => `let ${a} = f32x4.splat(${i + 1});`).join(" ")}
  for (let i = 0; i < iters; i++) {
    ${acc.map((a) => `${a} = ${madd(a)};`).join(" ")}
  }
  return f32x4.extract_lane(${acc.reduce((s, a) => `f32x4.add(${s}, ${a})`)}, 0);
}`;
};

/** The peak microbenchmark, compiled: call it to measure GFLOP/s now. */
async function peakMeter(relaxed: boolean): Promise<() => number> {
  const source = PEAK((a) => (relaxed ? `f32x4.relaxed_madd(${a}, x, y)` : `f32x4.add(f32x4.mul(${a}, x), y)`));
  const r = await asc.compileString(
    { "peak.ts": source },
    { optimizeLevel: 3, runtime: "stub", enable: relaxed ? ["simd", "relaxed-simd"] : ["simd"], noAssert: true },
  );
  if (!r.binary) throw new Error(r.stderr.toString());
  const { instance } = await WebAssembly.instantiate(r.binary as BufferSource);
  const peak = instance.exports.peak as (n: number) => number;
  const iters = 5_000_000;
  peak(1000);
  return () => {
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      peak(iters);
      best = Math.min(best, performance.now() - t0);
    }
    return (iters * CHAINS * 8) / best / 1e6; // chains × 4 lanes × (mul + add)
  };
}

/**
 * One Linear of T × K × N, its weights stored as in the model the shape comes from (a graph of one
 * small matmul would otherwise get the layout of a small model: passes/weight-layout.ts).
 */
async function linearModel(
  T: number,
  K: number,
  N: number,
  layout: WeightLayout,
  target: "wasm-simd" | "wasm-relaxed",
  quant?: "int8" | "q4",
) {
  const r = rng(K * 7 + N);
  const written = Float32Array.from({ length: N * K }, () => r() - 0.5);
  const w = storeWeights(written, N, K, layout);
  const b = new GraphBuilder("linear", { family: "decoder", config: {} });
  b.dim("T", T);
  const x = b.input("x", "f32", ["T", K]);
  // int8 and q4 weights are [N, K] as written (the Linear's layout applies to f32 only).
  b.output(
    quant
      ? b.node("Linear", "y", [x, b.constant("w", written, [N, K])])
      : b.node("Linear", "y", [x, b.constant("w", w, layout === "kn" ? [K, N] : [N, K])], { layout }),
  );
  const graph = quant === "int8" ? quantizeInt8(b.finish()).graph : quant === "q4" ? quantizeQ4(b.finish()).graph : b.finish();
  const artifact = await compileArtifact({ graph, format: "graph" }, { target });
  const dir = join(await mkdtemp(join(tmpdir(), "seec-bench-")), "linear");
  await writeArtifact(dir, artifact.files);
  return load(dir);
}

const SHAPES: [string, number, number, number, WeightLayout][] = [
  ["stories260K decode, FFN w1 (T=1)", 1, 64, 172, "kn"],
  ["stories260K prefill 32, FFN w1", 32, 64, 172, "kn"],
  ["USE-Lite layer 1 q (16 tokens)", 16, 512, 512, "n4"],
  ["USE-Lite FFN conv1 (16 tokens)", 16, 512, 1536, "n4"],
  ["USE-Lite FFN conv2 (16 tokens)", 16, 1536, 512, "n4"],
  ["stories15M-shaped FFN w1, decode (T=1)", 1, 288, 768, "n4"],
  ["stories110M-shaped FFN w1, decode (T=1)", 1, 768, 2048, "n4"],
  ["stories110M-shaped FFN w2, decode (T=1)", 1, 2048, 768, "n4"],
  ["stories110M-shaped FFN w1, prefill 32", 32, 768, 2048, "n4"],
];

// This machine is shared: its speed drifts, by up to 2x within minutes. So every round measures the
// peaks again and then each kernel, a row's share is the median over rounds of (kernel ÷ the peak of
// its round), and its GFLOP/s the median over rounds; the peaks reported are the highest seen.
const meters = { "wasm-simd": await peakMeter(false), "wasm-relaxed": await peakMeter(true) };
const peaks = { "wasm-simd": 0, "wasm-relaxed": 0 };
const ROUNDS = 7;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
interface Row {
  shape: string;
  T: number;
  K: number;
  N: number;
  layout: WeightLayout;
  target: string;
  backend: string;
  ms: number;
  gflops: number;
  shareOfPeak: number;
}
const rows: Row[] = [];
for (const [what, T, K, N, layout] of SHAPES) {
  const models = {
    "wasm-simd": await linearModel(T, K, N, layout, "wasm-simd"),
    "wasm-relaxed": await linearModel(T, K, N, layout, "wasm-relaxed"),
    int8: await linearModel(T, K, N, layout, "wasm-simd", "int8"),
    q4: await linearModel(T, K, N, layout, "wasm-simd", "q4"),
  };
  const x = Float32Array.from({ length: T * K }, (_, i) => Math.sin(i));
  const flops = 2 * T * K * N;
  const reps = Math.max(20, Math.round(2e8 / flops));
  const ms: Record<string, number[]> = { "wasm-simd": [], "wasm-relaxed": [], int8: [], q4: [] };
  const shares: Record<string, number[]> = { "wasm-simd": [], "wasm-relaxed": [], int8: [], q4: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const now = { "wasm-simd": meters["wasm-simd"](), "wasm-relaxed": meters["wasm-relaxed"]() };
    peaks["wasm-simd"] = Math.max(peaks["wasm-simd"], now["wasm-simd"]);
    peaks["wasm-relaxed"] = Math.max(peaks["wasm-relaxed"], now["wasm-relaxed"]);
    for (const [target, m] of Object.entries(models)) {
      // The kernel alone: forward() on the input run() placed, without run()'s checks and copies
      // (a few microseconds a call, which at stories260K's shapes is a third of the time).
      await m.run({ x });
      const { forward } = (m as unknown as { engine: { exports: { forward(T: number): void } } }).engine.exports;
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) forward(T);
      const t = (performance.now() - t0) / reps;
      ms[target].push(t);
      shares[target].push(flops / t / 1e6 / (target === "int8" || target === "q4" ? now["wasm-relaxed"] : now[target as keyof typeof now]));
    }
  }
  for (const [target, m] of Object.entries(models))
    rows.push({
      shape: what,
      T,
      K,
      N,
      layout,
      target,
      backend: m.backend,
      ms: median(ms[target]),
      gflops: flops / median(ms[target]) / 1e6,
      shareOfPeak: median(shares[target]),
    });
}

console.log(
  `single-core peak (highest seen; a row's share is its median over ${ROUNDS} rounds of kernel ÷ that round's peak): f32x4 mul+add ${peaks["wasm-simd"].toFixed(1)} GFLOP/s, relaxed FMA ${peaks["wasm-relaxed"].toFixed(1)} GFLOP/s\n`,
);
console.log(
  "| shape | T×K×N, f32 weight layout | wasm-simd GFLOP/s (of peak) | wasm-relaxed GFLOP/s (of peak) | int8, f32-equivalent GFLOP/s (of the relaxed peak) | q4, the same |\n|---|---|---|---|---|---|",
);
const cell = (r: Row) => `${r.gflops.toFixed(1)} (${(100 * r.shareOfPeak).toFixed(0)}%)`;
for (let i = 0; i < rows.length; i += 4) {
  const [s, r, q, q4] = rows.slice(i, i + 4);
  console.log(`| ${s.shape} | ${s.T}×${s.K}×${s.N}, ${s.layout} | ${cell(s)} | ${cell(r)} | ${cell(q)} | ${cell(q4)} |`);
}
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/kernels.json", `${JSON.stringify({ peaks, rows }, null, 2)}\n`);
