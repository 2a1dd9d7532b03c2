// Decoding a llama2.c model of a real shape with random weights (seeded; no such checkpoint is
// shipped): f32, --quantize int8 and --quantize q4 builds for wasm-simd, one thread. Writes the
// checkpoint (llama2.c's legacy format) into a temporary directory, builds each variant without a
// tokenizer, and reports weights.bin, build seconds, and decode tokens/s (one token per call,
// positions 1..n after one token at 0), the engines interleaved in every round, median and min of
// the rounds (round 0 warms up). `--untied` gives the model its own classifier (wcls), which
// Linear alone reads; tied, the embedding is also the classifier's weights. int8 and q4 both store
// the embedding as int8 (one scale per token; tied, the classifier reads the same bytes).
// `--threads n` builds each variant with --threads n too and runs it on 1 and on n threads
// (load()'s threads option), interleaved with the others, its logits checked equal to one thread's.
// Each round also measures the machine's memory bandwidth on one thread (bandwidth.ts) and each
// build's share of it: the bytes a decode token reads (every weight it multiplies by, the embedding's
// one row, the KV cache up to the position) times tokens/s, over that round's bandwidth.
// `--variants` picks builds by name (default f32,int8,q4); int8-relaxed and q4-relaxed are the same
// built for wasm-relaxed (relaxed SIMD on: Node 20 needs the flag this script sets).
// Usage: node bench/run.mjs bench/decode-synthetic.ts [--shape stories260K|stories15M|stories110M|tinyllama] [--untied] [--tokens n] [--rounds n] [--threads n] [--variants f32,int8,q4,int8-relaxed,q4-relaxed]
//   (writes bench/results/decode-synthetic-<shape>[-untied].json)
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import v8 from "node:v8";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../compiler/build.js";
import { load } from "../runtime/index.js";
import { bandwidthProbe } from "./bandwidth.js";
import { SHAPES, writeCheckpoint, type ShapeName } from "./synthetic-llama.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const shapeName = (arg("--shape") ?? "stories15M") as ShapeName;
const shape = SHAPES[shapeName];
if (!shape) throw new Error(`--shape: one of ${Object.keys(SHAPES).join(", ")}`);
const untied = process.argv.includes("--untied");
const steps = Number(arg("--tokens")) || 64;
const rounds = Number(arg("--rounds")) || 5;
const threads = Number(arg("--threads")) || 1;
// --variants int8,q4: the tinyllama shape's f32 weights (4.4 GB) are past what a wasm32 module holds.
const only = arg("--variants")?.split(",") ?? ["f32", "int8", "q4"];

const work = await mkdtemp(join(tmpdir(), "seec-bench-"));
try {
  const model = join(work, `${shapeName}.bin`);
  writeCheckpoint(model, shape, untied);
  const variants = [
    { name: "f32", quantize: undefined, target: "wasm-simd" as const },
    { name: "int8", quantize: "int8" as const, target: "wasm-simd" as const },
    { name: "q4", quantize: "q4" as const, target: "wasm-simd" as const },
    { name: "int8-relaxed", quantize: "int8" as const, target: "wasm-relaxed" as const },
    { name: "q4-relaxed", quantize: "q4" as const, target: "wasm-relaxed" as const },
  ].filter((v) => only.includes(v.name));
  const built = [];
  for (const v of variants) {
    const out = join(work, v.name);
    const t0 = performance.now();
    const result = await build({ model, noTokenizer: true, target: v.target, quantize: v.quantize, out, threads });
    const made = {
      buildSeconds: (performance.now() - t0) / 1000,
      weightsBytes: statSync(join(out, "weights.bin")).size,
      relativeError: result.quantization?.relativeError,
    };
    const loaded = await load(out, { threads: 1 });
    if (loaded.backend !== v.target) throw new Error(`${v.name}: runs on ${loaded.backend}, not ${v.target}`);
    built.push({ ...v, ...made, model: loaded });
    if (threads > 1) built.push({ ...v, ...made, name: `${v.name}, ${threads} threads`, model: await load(out, { threads }) });
  }
  if (threads > 1)
    for (let i = 0; i < built.length; i += 2) {
      const feeds = { tokens: Int32Array.of(5), pos: Int32Array.of(0) };
      const [one, split] = [(await built[i].model.run(feeds)).logits, (await built[i + 1].model.run(feeds)).logits];
      if (built[i + 1].model.threads !== threads || one.some((x, k) => x !== split[k]))
        throw new Error(`${built[i + 1].name}: ${built[i + 1].model.threads} threads, logits differ from one thread's`);
    }
  /**
   * What one decode token reads at the benchmark's mean position: weights.bin less the embedding
   * table's other rows when the classifier has its own weights (tied, the classifier reads the whole
   * table), and the KV cache's keys and values up to the position (f32).
   */
  const bytesPerToken = (b: { quantize?: string; weightsBytes: number }) => {
    const kvDim = (shape.dim / shape.nHeads) * shape.nKvHeads;
    const rowBytes = b.quantize ? shape.dim + 4 : 4 * shape.dim; // int8 and q4 keep the embedding as int8, a scale a row
    const unreadRows = untied ? (shape.vocab - 1) * rowBytes : 0;
    return b.weightsBytes - unreadRows + shape.nLayers * 2 * ((steps + 1) / 2) * kvDim * 4;
  };
  const token = (pos: number) => Int32Array.of(((pos * 7919) % (shape.vocab - 3)) + 3);
  const samples = new Map<string, number[]>(built.map((b) => [b.name, []]));
  const shares = new Map<string, number[]>(built.map((b) => [b.name, []]));
  const probe = bandwidthProbe(),
    bandwidths: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const { bytesPerSecond } = probe.measure();
    if (round > 0) bandwidths.push(bytesPerSecond);
    for (const b of built) {
      await b.model.run({ tokens: token(0), pos: Int32Array.of(0) });
      const t0 = performance.now();
      for (let pos = 1; pos <= steps; pos++) await b.model.run({ tokens: token(pos), pos: Int32Array.of(pos) });
      const ms = (performance.now() - t0) / steps;
      if (round > 0) samples.get(b.name)!.push(ms);
      if (round > 0) shares.get(b.name)!.push(bytesPerToken(b) / (ms / 1000) / bytesPerSecond);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], min: s[0] };
  };
  const rows = built.map((b) => {
    const ms = stat(samples.get(b.name)!);
    return {
      variant: b.name,
      weightsBytes: b.weightsBytes,
      buildSeconds: Number(b.buildSeconds.toFixed(2)),
      relativeError: b.relativeError,
      msPerToken: ms,
      tokensPerSecond: { median: 1000 / ms.median, max: 1000 / ms.min },
      bytesPerToken: bytesPerToken(b),
      bandwidthShare: median(shares.get(b.name)!),
    };
  });
  const MiB = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(
    `${shapeName}${untied ? " (untied classifier)" : ""}, random weights, ${[...new Set(variants.map((v) => v.target))].join(" and ")}, ${threads > 1 ? `1 and ${threads} threads` : "1 thread"}, decode ${steps} tokens, ${rounds} rounds`,
  );
  const bandwidth = median(bandwidths);
  console.log(
    `memory bandwidth, one thread: ${(bandwidth / 1e9).toFixed(1)} GB/s (median of the rounds; ${(Math.min(...bandwidths) / 1e9).toFixed(1)}–${(Math.max(...bandwidths) / 1e9).toFixed(1)})`,
  );
  const split = threads > 1;
  console.log(
    `| build | weights.bin | build s | decode tok/s median (best) | vs ${rows[0].variant} |${split ? " vs 1 thread |" : ""} bytes read a token | share of the bandwidth |`,
  );
  console.log(`|---|---|---|---|---|${split ? "---|" : ""}---|---|`);
  rows.forEach((r, i) =>
    console.log(
      `| ${r.variant} | ${MiB(r.weightsBytes)} MiB (${(rows[0].weightsBytes / r.weightsBytes).toFixed(2)}x smaller) | ${r.buildSeconds} | ${r.tokensPerSecond.median.toFixed(1)} (${r.tokensPerSecond.max.toFixed(1)}) | ${(r.tokensPerSecond.median / rows[0].tokensPerSecond.median).toFixed(2)}x |${split ? ` ${i % 2 ? `${(r.tokensPerSecond.median / rows[i - 1].tokensPerSecond.median).toFixed(2)}x` : ""} |` : ""} ${MiB(r.bytesPerToken)} MiB | ${(100 * r.bandwidthShare).toFixed(0)}% |`,
    ),
  );
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(
    `bench/results/decode-synthetic-${shapeName}${untied ? "-untied" : ""}${threads > 1 ? `-threads${threads}` : ""}.json`,
    `${JSON.stringify({ shape: shapeName, untied, ...shape, steps, rounds, threads, node: process.version, bandwidth: { median: bandwidth, rounds: bandwidths }, rows }, null, 2)}\n`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
