// stories260K: seec (wasm-simd, wasm-relaxed, both also with --quantize int8, wasm-simd with --quantize q4, and webgpu where
// Node has an adapter through the webgpu package) against ONNX Runtime Web (wasm, 1 thread) and
// ONNX Runtime Node (native CPU, 1 thread), all running the same graph: seec's IR written out with export-onnx. Prefill of 1, 32
// and 128 tokens; decode of 128 tokens with the KV cache. One process, engines interleaved in
// every round, median and min of the rounds; speedups are the rival's time ÷ seec's. On
// SwiftShader's software adapter the webgpu figures are a CPU emulating a GPU, not a GPU's speed.
// Usage: node bench/run.mjs bench/stories-vs-ort.ts [--rounds n]   (writes bench/results/stories-vs-ort.json)
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import v8 from "node:v8";
import { build } from "../compiler/build.js";
import { loadModel } from "../compiler/frontends/load.js";
import { exportOnnx } from "../targets/onnx/export.js";
import { load } from "../runtime/index.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const shared = resolve(process.env.SEEC_SHARED ?? "../shared");
const model = join(shared, "models/llama2c/stories260K.bin"),
  tokenizer = join(shared, "models/llama2c/tok512.bin");
const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 7;
const work = await mkdtemp(join(tmpdir(), "seec-bench-"));

// One chunk takes the longest prompt, so prefill is one call on every engine.
const maxChunk = 128;
await build({ model, tokenizer, target: "wasm-simd", maxChunk, out: join(work, "simd") });
await build({ model, tokenizer, target: "wasm-relaxed", maxChunk, out: join(work, "relaxed") });
await build({ model, tokenizer, target: "webgpu", maxChunk, out: join(work, "webgpu") });
await build({ model, tokenizer, target: "wasm-simd", maxChunk, quantize: "int8", out: join(work, "simd-int8") });
await build({ model, tokenizer, target: "wasm-relaxed", maxChunk, quantize: "int8", out: join(work, "relaxed-int8") });
await build({ model, tokenizer, target: "wasm-simd", maxChunk, quantize: "q4", out: join(work, "simd-q4") });
const seecSimd = await load(join(work, "simd"));
const seecRelaxed = await load(join(work, "relaxed"));
const seecSimdInt8 = await load(join(work, "simd-int8"));
const seecRelaxedInt8 = await load(join(work, "relaxed-int8"));
const seecSimdQ4 = await load(join(work, "simd-q4"));
// WebGPU in Node: Dawn on the machine's Vulkan driver, else SwiftShader's (Debian's chromium package).
const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) process.env.VK_ICD_FILENAMES = swiftshader;
const seecGpu = await load(join(work, "webgpu"));
const adapter = seecGpu.adapter;
if (!adapter) console.log(`no webgpu row: ${seecGpu.fallback ?? "no adapter"}`);
const onnxFile = join(work, "stories260K.onnx");
writeFileSync(onnxFile, exportOnnx((await loadModel({ model, tokenizer, maxChunk })).graph, "bench"));

const ortNode = await import("onnxruntime-node");
const ortWeb = await import("onnxruntime-web");
ortWeb.env.wasm.numThreads = 1;
const nodeSession = await ortNode.InferenceSession.create(onnxFile, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
});
// The wasm backend named: onnxruntime-web and -node share onnxruntime-common's backend registry, and a
// web session created without an execution provider may run on the native one.
const webSession = await ortWeb.InferenceSession.create(onnxFile, { executionMode: "sequential", executionProviders: ["wasm"] });

const tokens = (n: number, from = 0) => Int32Array.from({ length: n }, (_, i) => (((from + i) * 37) % 500) + 3);

interface Engine {
  name: string;
  /** Runs `ids` at positions pos.., continuing the engine's cache (reset when pos = 0). */
  run(ids: Int32Array, pos: number): Promise<void>;
}

function seecEngine(name: string, m: Awaited<ReturnType<typeof load>>): Engine {
  if (m.backend !== name.replace(/ (int8|q4)$/, "")) throw new Error(`expected backend ${name}, got ${m.backend}`);
  return { name, run: async (ids, pos) => void (await m.run({ tokens: ids, pos: Int32Array.of(pos) })) };
}

type Ort = typeof ortNode | typeof ortWeb;
type Session = Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;
function ortEngine(name: string, ort: Ort, session: Session): Engine {
  const cacheNames = session.inputNames.filter((n) => n !== "tokens" && n !== "pos");
  const shape = (session.inputMetadata.find((m) => m.name === cacheNames[0]) as unknown as { shape: number[] }).shape;
  let caches: Record<string, unknown> = {};
  return {
    name,
    async run(ids, pos) {
      if (pos === 0)
        caches = Object.fromEntries(cacheNames.map((n) => [n, new ort.Tensor("float32", new Float32Array(shape[0] * shape[1]), shape)]));
      const r = await session.run({
        tokens: new ort.Tensor("int32", ids, [ids.length]),
        pos: new ort.Tensor("int32", Int32Array.of(pos), [1]),
        ...caches,
      } as never);
      caches = Object.fromEntries(cacheNames.map((n) => [n, r[`${n}.next`]]));
    },
  };
}

const seecEngines = [
  seecEngine("wasm-simd", seecSimd),
  seecEngine("wasm-relaxed", seecRelaxed),
  seecEngine("wasm-simd int8", seecSimdInt8),
  seecEngine("wasm-relaxed int8", seecRelaxedInt8),
  seecEngine("wasm-simd q4", seecSimdQ4),
  ...(adapter ? [seecEngine("webgpu", seecGpu)] : []),
];
const rivals = [ortEngine("ort-web", ortWeb, webSession), ortEngine("ort-node", ortNode, nodeSession)];
const engines = [...seecEngines, ...rivals];

const phases: { name: string; measure(e: Engine): Promise<number> }[] = [
  ...[1, 32, 128].map((P) => ({
    name: `prefill ${P}`,
    async measure(e: Engine) {
      const t0 = performance.now();
      await e.run(tokens(P), 0);
      return performance.now() - t0;
    },
  })),
  {
    name: "decode 128 (ms/token)",
    async measure(e: Engine) {
      await e.run(tokens(1), 0);
      const t0 = performance.now();
      for (let pos = 1; pos <= 128; pos++) await e.run(tokens(1, pos), pos);
      return (performance.now() - t0) / 128;
    },
  },
];

const samples = new Map<string, number[]>();
for (let round = 0; round <= rounds; round++)
  for (const phase of phases)
    for (const e of engines) {
      const ms = await phase.measure(e);
      if (round > 0) samples.set(`${phase.name}|${e.name}`, [...(samples.get(`${phase.name}|${e.name}`) ?? []), ms]); // round 0 warms up
    }

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0] };
};
const rows = phases.map((p) => {
  const t = Object.fromEntries(engines.map((e) => [e.name, stat(samples.get(`${p.name}|${e.name}`)!)]));
  // speedup[seec engine][rival] = rival's median ÷ seec's
  const speedup = Object.fromEntries(
    seecEngines.map((s) => [s.name, Object.fromEntries(rivals.map((r) => [r.name, t[r.name].median / t[s.name].median]))]),
  );
  return { phase: p.name, ms: t, speedup };
});

const f = (x: number) => (x < 1 ? x.toFixed(3) : x.toFixed(2));
const pairs = seecEngines.flatMap((s) => rivals.map((r) => [s.name, r.name]));
console.log(
  `stories260K, ${rounds} rounds, median ms (min); speedup = rival ÷ seec${adapter ? `; webgpu on ${adapter}${/swiftshader/i.test(adapter) ? " (a software adapter: a CPU emulating a GPU, not a GPU speed)" : ""}` : ""}`,
);
console.log(`| phase | ${engines.map((e) => e.name).join(" | ")} | ${pairs.map(([s, r]) => `${s} vs ${r}`).join(" | ")} |`);
console.log(`|---|${engines.map(() => "---").join("|")}|${pairs.map(() => "---").join("|")}|`);
for (const r of rows)
  console.log(
    `| ${r.phase} | ${engines.map((e) => `${f(r.ms[e.name].median)} (${f(r.ms[e.name].min)})`).join(" | ")} | ${pairs.map(([s, v]) => `${r.speedup[s][v].toFixed(2)}x`).join(" | ")} |`,
  );
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/stories-vs-ort.json",
  `${JSON.stringify({ model: "stories260K", rounds, maxChunk, node: process.version, webgpuAdapter: adapter ?? null, rows }, null, 2)}\n`,
);
