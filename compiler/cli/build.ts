import { statSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { build, type BuildQuality } from "../build.js";
import { POOLINGS, type Pooling } from "../embedding.js";
import type { QuantizeReport } from "../passes/quantize.js";
import { formatMemoryReport } from "../../targets/common/backend.js";
import { DEFAULT_TARGET, TARGET_NAMES, TARGETS, type TargetName, type TargetSpec } from "../../targets/registry.js";
import { formatQuality, readQualityTask, type QualityFlags } from "../eval/quality.js";
import { checkArtifactOutput } from "../output.js";
import { formatBytes } from "../util/units.js";
import { byteSize, integer, modelOptions, printJson, progress, refuseIdleOptions } from "./options.js";
import { SeecError } from "../../runtime/errors.js";
import { MAX_THREADS } from "../../runtime/validate-manifest.js";

interface BuildFlags extends QualityFlags {
  /** false: --no-tokenizer. */
  tokenizer?: string | false;
  see?: string;
  embedHead?: "materialize" | "stream";
  memoryBudget?: number;
  demo?: boolean;
  package?: string;
  quantize?: "int8" | "q4";
  target: TargetName;
  out: string;
  maxChunk?: number;
  context?: number;
  shape: Record<string, number[]>;
  json?: boolean;
  pooling?: Pooling;
  normalize?: boolean;
  batch?: number;
  decoder?: boolean;
  eos?: number[];
  threads?: number;
}

export function buildCommand(): Command {
  return modelOptions(new Command("build"))
    .summary("compile a model into a deployable artifact")
    .description(
      "Compile a model into an artifact directory: model.wasm (the specialized kernels and forward pass), weights.bin, manifest.json (shapes, memory plan, sizes, sha256), index.mjs + index.d.mts (the runtime and its typings), tokenizer.json, and src/model.ts (the emitted AssemblyScript, for reading).\n\n" +
        "Targets:\n" +
        TARGET_NAMES.map((t) => `  ${t.padEnd(13)} ${TARGETS[t].summary}`).join("\n") +
        "\n\nExamples:\n  seec build stories260K.bin --tokenizer tok512.bin -o out/stories\n" +
        "  seec build stories260K.bin --tokenizer tok512.bin --target wasi -o out/stories-wasi\n" +
        "  seec build stories260K.bin --tokenizer tok512.bin --target mcu --see f.see --quantize int8 --context 256 --memory-budget 1MiB -o out/mcu\n" +
        "  seec build model.onnx --shape input_ids=1x128 --shape attention_mask=1x128 -o out/onnx\n" +
        "  seec build model.onnx --tokenizer tokenizer.json --shape input_ids=1x?128 --pooling mean --normalize -o out/bert\n" +
        "  seec build decoder.onnx --decoder --context 256 -o out/decoder   (an ONNX decoder with past/present pairs, driven by step())\n" +
        "  seec build model.json --quantize int8 --stsb dev.tsv -o out/use-int8   (prints what int8 costs)\n" +
        "  seec build stories15M.bin --tokenizer tok.bin --quantize q4 --nll text.txt -o out/q4   (4-bit weights; prints what they cost)",
    )
    .addOption(new Option("-t, --target <target>", "where the artifact runs (see Targets)").choices(TARGET_NAMES).default(DEFAULT_TARGET))
    .option(
      "--memory-budget <bytes>",
      "fail, printing the memory plan, if the model needs more (e.g. 1048576 or 1MiB): linear memory in 64 KiB pages plus a native-stack reserve",
      byteSize,
    )
    .option("--see <factors>", "SEE factors (.see, from seec factorize) that replace the token embedding")
    .addOption(
      new Option(
        "--embed-head <how>",
        "a tied output head over SEE factors: rebuild the table once at load, or rows on the fly each step (no vocab×dim memory)",
      ).choices(["materialize", "stream"]),
    )
    .addOption(
      new Option(
        "--quantize <how>",
        "store Linear weights and the token embedding (tied head included) as int8 with one scale per row (about 4x smaller), or q4: Linear weights in 4 bits in llama.cpp's Q4_0 blocks, an f16 scale per 32 inputs (about 7x smaller), the embedding int8",
      ).choices(["int8", "q4"]),
    )
    .option("-o, --out <dir>", "the artifact directory (replaced atomically)", "out")
    .option("--demo", "add demo.html, a page that runs the model (serve it with seec serve)")
    .option("--package <name>", "add a package.json so the directory can be published or installed", packageName)
    .option(
      "--stsb <tsv>",
      "then score the artifact's embeddings on STS-B sentence pairs (an encoder); with --quantize, the f32 model's too",
    )
    .option("--nll <textfile>", "then score the artifact's NLL per token over a text (a decoder); with --quantize, the f32 model's too")
    .option("--limit <n>", "with --stsb or --nll: only the first n pairs or paragraphs", integer(1))
    .option("--no-tokenizer", "llama2.c: build without a tokenizer (the artifact takes token ids only)")
    .addOption(
      new Option(
        "--pooling <how>",
        "ONNX encoder with its tokenizer.json: embed() pools the last hidden state by the mean of the text's tokens (padding masked), its first token ([CLS]), or none (a pooled output as it is)",
      ).choices(POOLINGS),
    )
    .option("--normalize", "with --pooling: embed() scales each vector to unit length")
    .option(
      "--batch <texts>",
      "an encoder on wasm-simd, wasm-relaxed or wasi: the most texts embed() packs into one forward call, memory planned for 32 tokens a text (default 32; 1: one text a call)",
      integer(1, 1024),
    )
    .option(
      "--decoder",
      "ONNX decoder with past/present KV pairs (MultiHeadAttention, GroupQueryAttention or MatMul/Softmax over Concat(past, new)): keep the caches in the module (--context rows, default the model's position tables or 512) so it takes tokens and pos and step() drives it as a llama2.c artifact; a prompt runs in chunks of --max-chunk tokens where the attention hides later new tokens (a causal mask, GroupQueryAttention, is_causal), one token a call otherwise; no --shape",
    )
    .option(
      "--eos <ids>",
      "a decoder: the token ids (comma-separated) generate() and run stop at, in place of the tokenizer's end tokens (a tokenizer.json's </s>, <|endoftext|>, <|eot_id|>...; llama2.c's BOS and EOS)",
      tokenIds,
    )
    .option(
      "--threads <n>",
      "wasm-simd or wasm-relaxed: also build model.threads.wasm, whose large matmuls split across up to n threads over shared memory; load() runs it on the machine's cores (in a browser all but one; at most n) where memory can be shared (Node; cross-origin isolated pages), model.wasm elsewhere (a model with no matmul large enough to split gets no module for threads, and a note says so)",
      integer(1, MAX_THREADS),
    )
    .option("--json", "print the build report as JSON")
    .action(async (model: string, flags: BuildFlags, cmd: Command) => {
      const given = process.argv.slice(2);
      if (given.includes("--no-tokenizer") && given.some((a) => a === "--tokenizer" || a.startsWith("--tokenizer=")))
        throw new SeecError("usage.tokenizer", "--tokenizer gives a tokenizer and --no-tokenizer builds without one: give one of them", {
          at: "--tokenizer/--no-tokenizer",
        });
      refuseIdleOptions(cmd, (key) =>
        key === "limit" && !flags.stsb && !flags.nll
          ? "is for --stsb or --nll (the pairs or paragraphs scored)"
          : key === "embedHead" && !flags.see
            ? "is for a tied head over SEE factors; no --see is given"
            : undefined,
      );
      // Where the artifact goes is checked before anything is read or built.
      const tokenizer = flags.tokenizer || undefined;
      await checkArtifactOutput(flags.out, [model, tokenizer, flags.see, flags.stsb, flags.nll]);
      // Read before building: a missing or malformed file fails now, not after the build.
      const measure = await readQualityTask(flags);
      const result = await build({
        model,
        tokenizer,
        noTokenizer: flags.tokenizer === false,
        see: flags.see,
        embedHead: flags.embedHead,
        demo: flags.demo,
        quantize: flags.quantize,
        measure,
        packageName: flags.package,
        target: flags.target,
        memoryBudget: flags.memoryBudget,
        out: flags.out,
        maxChunk: flags.maxChunk,
        context: flags.context,
        shapes: flags.shape,
        pooling: flags.pooling,
        normalize: flags.normalize,
        batch: flags.batch,
        decoder: flags.decoder,
        eos: flags.eos,
        threads: flags.threads,
        command: recordedCommand(process.argv.slice(2)),
        progress: progress(!flags.json),
      });
      if (flags.json)
        return printJson({
          out: result.out,
          seconds: result.seconds,
          quantization: result.quantization,
          quality: result.quality,
          memory: result.memory,
          notes: result.notes,
          manifest: result.manifest,
        });
      // The manifest's files, then what --demo and --package add beside them.
      const extras = [flags.demo && "demo.html", flags.package && "package.json"].filter((name) => typeof name === "string");
      const listed: [string, number][] = [
        ...Object.entries(result.manifest.files).map(([name, f]): [string, number] => [name, f.bytes]),
        ...extras.map((name): [string, number] => [name, statSync(join(result.out, name)).size]),
      ];
      const width = Math.max(...listed.map(([n]) => n.length));
      const files = listed.map(([name, bytes]) => `  ${name.padEnd(width)} ${formatBytes(bytes).padStart(10)}`);
      const total = Object.values(result.seconds).reduce((a, b) => a + b, 0);
      process.stdout.write(
        `built ${result.manifest.name} for ${result.manifest.target} in ${total.toFixed(2)} s -> ${result.out}\n${files.join("\n")}\n` +
          (result.notes ?? []).map((n) => `  note: ${n}\n`).join("") +
          (result.quantization
            ? `  ${flags.quantize}: ${result.quantization.tensors} weights, ${formatBytes(result.quantization.bytesBefore)} -> ${formatBytes(result.quantization.bytesAfter)}, relative error ${result.quantization.relativeError.toFixed(4)}${embeddingPart(result.quantization)}${result.quality ? "" : " (--stsb or --nll measures what it costs)"}\n`
            : "") +
          (result.quality ? `  ${qualityLine(result.quality, flags.quantize)}\n` : "") +
          ((TARGETS[flags.target] as TargetSpec | undefined)?.printsMemoryPlan || flags.memoryBudget !== undefined
            ? `memory plan:\n${formatMemoryReport(result.memory, flags.memoryBudget).join("\n")}\n`
            : `  memory: ${formatBytes(result.manifest.memory.totalBytes)} (weights ${formatBytes(result.plan.weights.bytes)}, activations ${formatBytes(result.plan.arena.bytes)}, state ${formatBytes(result.plan.state.bytes)}${result.manifest.memory.scratch ? `, kernel scratch ${formatBytes(result.manifest.memory.scratch.bytes)}` : ""})\n`),
      );
    });
}

/** An npm package name ("seec-stories", "@me/stories"): lowercase, URL-safe, at most 214 characters. */
function packageName(value: string): string {
  if (value.length > 214 || !/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(value))
    throw new InvalidArgumentError(
      "expected an npm package name: lowercase letters, digits, '-', '.', '_' or '~', optionally @scope/ before it (e.g. seec-stories)",
    );
  return value;
}

/** "2" or "128001,128009": token ids. */
function tokenIds(value: string): number[] {
  const ids = value.split(",").map((x) => x.trim());
  if (ids.some((x) => !/^\d+$/.test(x) || !Number.isSafeInteger(Number(x))))
    throw new InvalidArgumentError("expected token ids separated by commas, e.g. 2 or 128001,128009");
  return ids.map(Number);
}

/**
 * The command line as the manifest records it: absolute paths (also in --flag=path) become their
 * base names, so that an artifact carries nothing of the machine that built it.
 */
export function recordedCommand(args: readonly string[]): string {
  const portable = (arg: string) => (isAbsolute(arg) ? basename(arg) : arg);
  const recorded = args.map((arg) => {
    const flag = /^(--[^=]+=)(.*)$/.exec(arg);
    return flag ? flag[1] + portable(flag[2]) : portable(arg);
  });
  return ["seec", ...recorded].join(" ");
}

/** "; of which the embedding (int8, tied to the classifier): 128.0 KiB -> 34.0 KiB, relative error 0.0070", or nothing. */
function embeddingPart(q: QuantizeReport): string {
  const e = q.embeddings;
  if (!e) return "";
  const what = `${e.tensors === 1 ? "the embedding" : `${e.tensors} embedding tables`} (int8${e.tied ? ", tied to the classifier" : ""})`;
  return `; of which ${what}: ${formatBytes(e.bytesBefore)} -> ${formatBytes(e.bytesAfter)}, relative error ${e.relativeError.toFixed(4)}`;
}

/** "int8 cost: STS-B Spearman 0.6668 (f32) -> 0.6671 (int8), +0.0003 over 1500 pairs" (or q4's), or the one score. */
function qualityLine(q: BuildQuality, quantize = "int8"): string {
  const over = `over ${q.count} ${q.unit}`;
  if (q.f32 === undefined) return `quality: ${formatQuality(q.metric, q.value)} ${over}`;
  const change =
    q.metric === "nll"
      ? `${q.value >= q.f32 ? "+" : ""}${((100 * (q.value - q.f32)) / q.f32).toFixed(2)}%`
      : `${q.value >= q.f32 ? "+" : ""}${(q.value - q.f32).toFixed(4)}`;
  return `${quantize} cost: ${formatQuality(q.metric, q.f32)} (f32) -> ${q.value.toFixed(4)} (${quantize}), ${change} ${over}`;
}
