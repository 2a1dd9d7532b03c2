/** `seec distill`: SEE stage 2, the factors trained through the network with the original model as teacher. */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { SeecError } from "../../runtime/errors.js";
import { loadModel, readInput, readTextInput } from "../frontends/load.js";
import { checkFileOutput, writeFileAtomic } from "../output.js";
import { readCheckpoint, writeCheckpoint } from "../see/checkpoint.js";
import { textsOf } from "../see/corpus.js";
import {
  DEFAULT_DISTILL,
  DEFAULT_LOSS,
  distill,
  defaultLearningRate,
  type DistillProgress,
  type DistillReport,
  type Trainable,
} from "../see/distill.js";
import { parameterCount, shippedBytes } from "../factors/factors.js";
import { readSee, writeSee } from "../factors/format.js";
import { formatBytes } from "../util/units.js";
import { availableParallelism } from "node:os";
import { compileTrainingKernels, trainingKernelsOn } from "../../targets/wasm/train-kernels.js";
import { integer, modelOptions, printJson, real, refuseIdleOptions, withArticle } from "./options.js";

interface DistillFlags {
  tokenizer?: string;
  see: string;
  out: string;
  data?: string;
  train: Trainable;
  steps: number;
  lr?: number;
  weightLr?: number;
  batch: number;
  seed: number;
  sequence: number;
  samples: number;
  sentences: number;
  cover: boolean;
  kl: number;
  ce: number;
  hidden: number;
  cosine: number;
  mse: number;
  similarity: number;
  anchor: number;
  temperature: number;
  heldOut: number;
  evalEvery?: number;
  threads: number;
  loraRank: number;
  loraLayers?: number[];
  resume?: boolean;
  json?: boolean;
}

export function distillCommand(): Command {
  const d = DEFAULT_DISTILL,
    l = DEFAULT_LOSS;
  return modelOptions(new Command("distill"))
    .summary("train SEE factors through the network, the original model as teacher (stage 2)")
    .description(
      "Stage 2 of SEE: factors from seec factorize (stage 1, fitted to the embedding table alone) are\n" +
        "trained so that the model built with them behaves like the original. The student is the model\n" +
        "with its embedding rebuilt from the factors; gradients of the loss run back through the network\n" +
        "into the factor tables. The factors that score best on a held-out slice of the data are written\n" +
        "(after each improvement), and beside them at each score a checkpoint of the whole run, <out>.ckpt:\n" +
        "an interrupted run continues where it stopped with --resume (a run that ends removes it; a new run\n" +
        "to the same -o refuses to start while it is there).\n\n" +
        "Losses (weights as flags):\n" +
        "  decoder  --kl: KL(teacher ‖ student) of next-token distributions; --ce: cross-entropy on the data\n" +
        "  encoder  --cosine and --mse between sentence embeddings; --similarity: MSE between in-batch\n" +
        "           similarity matrices\n" +
        "  both     --hidden: MSE between the two models' hidden states (the input of every norm)\n\n" +
        "Data: --data FILE (one text a line, or paragraphs between blank lines); without it a decoder trains\n" +
        "on text it samples from itself, an encoder on WordNet's glosses and example sentences.\n\n" +
        "Examples:\n" +
        "  seec factorize stories260K.bin --tokenizer tok512.bin --ratio 2 -o s1.see\n" +
        "  seec distill stories260K.bin --tokenizer tok512.bin --see s1.see -o s2.see\n" +
        "  seec distill stories260K.bin --tokenizer tok512.bin --see s1.see --train norms -o s2.see\n" +
        "  seec distill model.json --see use20.see --steps 2000 --batch 16 --sentences 20000 -o d.see",
    )
    .requiredOption("--see <factors>", "the stage-1 factors to start from (.see, from seec factorize); required")
    .requiredOption("-o, --out <file>", "write the distilled factors here (.see); required")
    .option("--data <file>", "training text instead of the defaults (never an evaluation set)")
    .addOption(
      new Option(
        "--train <what>",
        "what trains: the factors; norms: also every norm's weight and bias; all: every weight of the network; " +
          "lora: a low-rank adapter on each matmul's weight (what else trains ships in the file as see/2, counted in its size)",
      )
        .choices(["factors", "norms", "all", "lora"])
        .default("factors"),
    )
    .option("--lora-rank <r>", "--train lora: the adapters' rank", integer(1, 4096), 4)
    .option("--lora-layers <list>", "--train lora: the layers (indices, e.g. 0,1) whose matmuls get adapters (default: all)", layerList)
    .option("--steps <n>", "optimizer steps", integer(1, 10_000_000), d.steps)
    .option(
      "--lr <rate>",
      `Adam's peak learning rate (warm-up, then cosine decay; default ${d.learningRate}, and for pq factors, whose codewords are the embedding's own entries, 2% of their RMS)`,
      real(1e-7, 10),
    )
    .option(
      "--weight-lr <rate>",
      "peak learning rate of the model weights --train adds (default: --lr with norms, 0.002 with all)",
      real(1e-9, 10),
    )
    .option("--batch <n>", "sequences or sentences per step", integer(1, 4096), d.batch)
    .option("--seed <n>", "random seed: data order, samples, held-out slice (same seed, same factors)", integer(0), 0)
    .option("--sequence <n>", "decoder: tokens per training sequence", integer(2, 1 << 20), d.sequence)
    .option("--samples <n>", "decoder without --data: sequences sampled from the teacher", integer(2, 1 << 20), d.samples)
    .option("--sentences <n>", "encoder without --data: WordNet sentences drawn", integer(2, 1 << 20), d.sentences)
    .option("--no-cover", "encoder: train on the data as it is, without copies that put in the vocabulary's tokens it lacks")
    .option("--kl <w>", "decoder: weight of the KL to the teacher", real(0, 1e6), l.kl)
    .option("--ce <w>", "decoder: weight of the cross-entropy on the data", real(0, 1e6), l.ce)
    .option("--temperature <t>", "decoder: temperature of the KL's distributions", real(0.05, 100), d.temperature)
    .option("--cosine <w>", "encoder: weight of 1 − cosine to the teacher's embedding", real(0, 1e6), l.cosine)
    .option("--mse <w>", "encoder: weight of the MSE to the teacher's embedding", real(0, 1e6), l.mse)
    .option("--similarity <w>", "encoder: weight of the in-batch similarity-matrix MSE", real(0, 1e6), l.similarity)
    .option("--hidden <w>", "weight of the hidden-state MSE", real(0, 1e6), l.hidden)
    .option(
      "--anchor <w>",
      "weight of the anchor: relative squared distance of the rows a step reads from the original table's",
      real(0, 1e6),
      0,
    )
    .option("--held-out <share>", "share of the data held out to pick the best factors", real(0.001, 0.5), d.heldOut)
    .addOption(
      new Option("--eval-every <n>", "score the held-out data every n steps")
        .argParser(integer(1))
        .default(undefined, "a twentieth of --steps, at least 25"),
    )
    .addOption(
      new Option("--threads <n>", "threads that share each batch (the same seed and threads give the same factors)")
        .argParser(integer(1, 256))
        .default(Math.min(8, availableParallelism()), "the cores, at most 8"),
    )
    .option("--resume", "continue an interrupted run from its checkpoint (<out>.ckpt, written at each held-out score)")
    .option("--json", "print the report as JSON")
    .action(
      async (
        modelPath: string,
        flags: DistillFlags & { maxChunk?: number; context?: number; shape?: Record<string, number[]> },
        cmd: Command,
      ) => {
        const out = await checkFileOutput(flags.out, [modelPath, flags.tokenizer, flags.see, flags.data]);
        const checkpoint = await checkFileOutput(`${flags.out}.ckpt`, [modelPath, flags.tokenizer, flags.see, flags.data]);
        if (!flags.resume && existsSync(checkpoint))
          // A run started over would write its own checkpoint there: an interrupted run's would be lost.
          throw new SeecError("usage.resume", `${checkpoint} holds the checkpoint of an earlier run`, {
            at: "-o",
            hint: "--resume continues that run; to start over, delete the checkpoint (or write elsewhere with -o)",
          });
        const resume = flags.resume ? readCheckpoint(await readInput(checkpoint, "checkpoint"), checkpoint) : undefined;
        const model = await loadModel({
          model: modelPath,
          tokenizer: flags.tokenizer,
          shapes: flags.shape,
          context: flags.context,
          maxChunk: Math.max(flags.maxChunk ?? 0, flags.sequence),
        });
        refuseIdleOptions(cmd, (key) => idleDistillOption(key, flags, model.graph.model.family));
        const factors = readSee(await readInput(flags.see, "SEE factors"), flags.see);
        const kernels = await compileTrainingKernels();
        const texts = flags.data ? textsOf(await readTextInput(flags.data, "training text"), flags.data) : undefined;
        // A bar on a terminal; a line per held-out score in a log; nothing with --json.
        const onProgress = flags.json
          ? undefined
          : process.stderr.isTTY
            ? (p: DistillProgress) => process.stderr.write(progressLine(p))
            : (p: DistillProgress) =>
                p.heldOut !== undefined &&
                process.stderr.write(
                  `seec: step ${p.step}/${p.steps} loss ${p.loss?.toFixed(4)} held-out ${p.heldOut.toFixed(4)} ${Math.round(p.tokensPerSecond ?? 0)} tokens/s\n`,
                );
        const report = await distill(model, factors, {
          steps: flags.steps,
          learningRate: flags.lr ?? defaultLearningRate(factors),
          weightLearningRate: flags.weightLr,
          batch: flags.batch,
          seed: flags.seed,
          sequence: flags.sequence,
          samples: flags.samples,
          sentences: flags.sentences,
          cover: flags.cover,
          texts,
          temperature: flags.temperature,
          loss: {
            kl: flags.kl,
            ce: flags.ce,
            hidden: flags.hidden,
            cosine: flags.cosine,
            mse: flags.mse,
            similarity: flags.similarity,
            anchor: flags.anchor,
          },
          heldOut: flags.heldOut,
          train: flags.train,
          lora: { rank: flags.loraRank, layers: flags.loraLayers },
          evalEvery: flags.evalEvery,
          onProgress,
          // The best factors so far are on disk: an interrupted run keeps them.
          onBest: (best) => writeFileAtomic(out, writeSee(best)),
          // The whole loop, so that --resume continues exactly where a run stopped.
          onCheckpoint: (c) => writeFileAtomic(checkpoint, writeCheckpoint(c)),
          resume,
          kernels: trainingKernelsOn(kernels),
          threads: { count: flags.threads, kernels },
        });
        await writeFileAtomic(out, writeSee(factors));
        // The run ended: its checkpoint has nothing left to continue (and would stop the next run to -o here).
        await rm(checkpoint, { force: true });
        const dense = factors.spec.vocab * factors.spec.dim;
        const summary = {
          out: flags.out,
          parameters: parameterCount(factors.spec),
          ratioByParameters: dense / parameterCount(factors.spec),
          shippedBytes: shippedBytes(factors),
          ratioByBytes: (4 * dense) / shippedBytes(factors),
          ...report,
        };
        if (flags.json) return printJson(summary);
        process.stdout.write(formatReport(report, flags.out, summary));
      },
    );
}

/**
 * Options that mean something for one family of model, one kind of data or one `--train` only: the
 * reason each does nothing otherwise, or undefined where it applies.
 */
const ONLY_WHEN: { keys: (keyof DistillFlags)[]; idle: (family: string, flags: DistillFlags) => string | undefined }[] = [
  {
    keys: ["kl", "ce", "temperature", "sequence"],
    idle: (family) => (family === "decoder" ? undefined : `is for decoders; the model is ${withArticle(family)}`),
  },
  {
    keys: ["cosine", "mse", "similarity", "cover"],
    idle: (family) => (family === "encoder" ? undefined : `is for encoders; the model is ${withArticle(family)}`),
  },
  { keys: ["samples", "sentences"], idle: (_, f) => (f.data ? "sizes the default data; --data gives the text" : undefined) },
  { keys: ["samples"], idle: (family) => (family === "decoder" ? undefined : "is for decoders (text they sample themselves)") },
  { keys: ["sentences"], idle: (family) => (family === "encoder" ? undefined : "is for encoders (WordNet's sentences)") },
  { keys: ["loraRank", "loraLayers"], idle: (_, f) => (f.train === "lora" ? undefined : `is for --train lora; --train is ${f.train}`) },
  {
    keys: ["weightLr"],
    idle: (_, f) => (f.train === "factors" ? "is for the weights --train norms, all or lora adds; only the factors train" : undefined),
  },
];

/** The first reason ONLY_WHEN gives for the option `key` to do nothing, if any. */
function idleDistillOption(key: string, flags: DistillFlags, family: string): string | undefined {
  for (const rule of ONLY_WHEN) {
    const why = rule.keys.includes(key as keyof DistillFlags) ? rule.idle(family, flags) : undefined;
    if (why) return why;
  }
  return undefined;
}

/** "0,1" -> [0, 1]. */
function layerList(value: string): number[] {
  const parts = value.split(",").map((x) => x.trim());
  const layers = parts.map(Number);
  if (parts.some((x) => !/^\d+$/.test(x)))
    throw new InvalidArgumentError(`expected layer indices separated by commas (e.g. 0,1), got ${JSON.stringify(value)}`);
  return layers;
}

let lastLine = 0;
function progressLine(p: DistillProgress): string {
  const w = 24,
    n = Math.round((w * p.step) / p.steps);
  const bar = `[${"#".repeat(n)}${".".repeat(w - n)}]`;
  const end = p.step === p.steps ? "\n" : "";
  if (p.phase === "data") return `\rseec: making data ${bar} ${p.step}/${p.steps}${end}`;
  // At most a few redraws a second.
  if (!end && Date.now() - lastLine < 200) return "";
  lastLine = Date.now();
  const held = p.heldOut !== undefined ? ` held-out ${p.heldOut.toFixed(4)}` : "";
  return `\rseec: distilling ${bar} step ${p.step}/${p.steps} loss ${p.loss?.toFixed(4)}${held} ${Math.round(p.tokensPerSecond ?? 0)} tokens/s ${end}`;
}

function formatReport(
  r: DistillReport,
  out: string,
  s: { parameters: number; ratioByParameters: number; shippedBytes: number; ratioByBytes: number },
): string {
  return [
    `wrote ${out}: ${r.steps} steps of distillation (${r.family}) on ${r.examples.source}; ${r.examples.heldOut} of the ${r.examples.train + r.examples.heldOut} ${r.family === "decoder" ? "sequences" : "sentences"} held out`,
    `  held-out loss  ${r.heldOut.before.toFixed(4)} -> ${r.heldOut.best.toFixed(4)} (best at step ${r.heldOut.bestStep}; those factors are written)`,
    ...(r.heldOut.bestStep === 0 && r.steps > 0
      ? [
          "  note           no step lowered the held-out loss: the factors written are the ones --see gave; a smaller --lr may find steps that do",
        ]
      : []),
    `  size           ${s.parameters} parameters, ${s.ratioByParameters.toFixed(2)}x; ${formatBytes(s.shippedBytes)} shipped, ${s.ratioByBytes.toFixed(2)}x`,
    `  time           ${r.seconds.toFixed(1)} s, ${Math.round(r.tokensPerSecond)} tokens/s training`,
    "",
  ].join("\n");
}
