/**
 * The pipeline: frontend -> passes -> backend -> artifact.
 *
 *   loadModel -> [applySee] -> [quantizeInt8 | quantizeQ4] -> the target's passes (targets/registry.ts) -> planMemory
 *     -> the target's backend.compile (targets/common/backend.ts) -> runtime, manifest -> writeArtifact
 *     -> [measureQuality: the artifact, and with int8 or q4 the same model's f32 build beside it]
 *
 * What a target sets, requires or refuses is data in the registry; this file names no target.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeecError } from "../runtime/errors.js";
import type { Manifest } from "../runtime/manifest.js";
import { loadArtifact, writeArtifact } from "./artifact.js";
import { STREAM_ABOVE_BYTES } from "./frontends/input-file.js";
import { contentBytes, type FileContent, type Later } from "./util/file-content.js";
import { checkQualityTask, measureQuality, type Quality, type QualityTask } from "./eval/quality.js";
import type { TokenizerSpec } from "../runtime/tokenizers/index.js";
import { loadModel, readInput, type LoadedModel, type ModelSource } from "./frontends/load.js";
import { checkArtifactOutput } from "./output.js";
import { applySee, type HeadStrategy } from "./passes/see.js";
import { quantizeInt8, type QuantizeReport } from "./passes/quantize.js";
import { quantizeQ4 } from "./passes/quantize-q4.js";
import { runPasses } from "./passes/index.js";
import { readSee } from "./factors/format.js";
import { findEmbedding } from "./see/factorize.js";
import { checkTokenizerVocabulary } from "./frontends/hf-tokenizer.js";
import type { HfTokenizerSpec } from "../runtime/tokenizers/hf/index.js";
import type { Graph } from "./ir/graph.js";
import { planMemory, type MemoryPlan } from "./passes/plan-memory.js";
import { bundleRuntime } from "./runtime-bundle.js";
import { withPooling, type Pooling } from "./embedding.js";
import { artifactPackage, demoPage } from "./demo-page.js";
import { SEEC_VERSION } from "./version.js";
import type { Backend, ManifestParts, MemoryReport, Stage } from "../targets/common/backend.js";
import { refusal, TARGET_NAMES, TARGETS, targetSpec, type TargetName } from "../targets/registry.js";

export interface BuildOptions extends ModelSource {
  target: TargetName;
  /** Fail, printing the memory plan, when the module needs more bytes than this. */
  memoryBudget?: number;
  /** SEE factors (.see) that replace the model's token embedding. */
  see?: string;
  /** How a tied output head uses the factors (default materialize; stream on mcu). */
  embedHead?: HeadStrategy;
  /**
   * Weights of Linear layers and token embedding tables (a tied head's too) as int8 with per-row scales, or
   * Linear weights 4-bit in Q4_0 blocks (groups of 32, an f16 scale each) and the embedding tables int8.
   */
  quantize?: "int8" | "q4";
  /** Add demo.html. */
  demo?: boolean;
  /** Add a package.json with this package name. */
  packageName?: string;
  /** Score the built model on this task (with int8 weights, the f32 model too, to show the cost). */
  measure?: QualityTask;
  out: string;
  /** The command line, recorded in the manifest. */
  command?: string;
  /** Build a llama2.c checkpoint without its tokenizer: the artifact then takes token ids only (run, step). */
  noTokenizer?: boolean;
  /** An ONNX encoder with its tokenizer.json: how embed() pools its last hidden state (compiler/embedding.ts). */
  pooling?: Pooling;
  /** With pooling: embed()'s vectors scaled to unit length. */
  normalize?: boolean;
  /** An encoder on the SIMD wasm targets (wasm-simd, wasm-relaxed, wasi): the most texts a forward call takes (default 32; 1: one a call). */
  batch?: number;
  /** A decoder: the token ids generate()/stream() stop at, in place of the tokenizer's end tokens (manifest model.eosIds). */
  eos?: number[];
  /** Also compile modules that split the matmuls across up to this many threads (targets whose policy allows it). */
  threads?: number;
  /** Called as each stage starts. */
  progress?: (stage: string) => void;
}

export interface BuildResult {
  out: string;
  /** What the person building should know (e.g. ONNX dimensions left at 1). */
  notes?: string[];
  manifest: Manifest;
  plan: MemoryPlan;
  /** Seconds spent, by stage. */
  seconds: Record<string, number>;
  quantization?: QuantizeReport;
  quality?: BuildQuality;
  memory: MemoryReport;
}

/** The built model's score on the task `measure` named. */
export interface BuildQuality extends Omit<Quality, "details"> {
  /** With quantized (int8 or q4) weights: the same model's score with f32 weights, built and scored beside it. */
  f32?: number;
  /** Seconds spent scoring (both models). */
  seconds: number;
}

/** The files a build reads: an output must neither be one of them nor a directory above one. */
export function buildInputs(opts: Pick<BuildOptions, "model" | "tokenizer" | "see" | "measure">): (string | undefined)[] {
  return [opts.model, opts.tokenizer, opts.see, opts.measure?.file];
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const target = targetSpec(opts.target);
  const { refuses, requires, defaults } = target;
  if (refuses?.embedHead && opts.embedHead === refuses.embedHead.value) throw refusal(refuses.embedHead, { target: opts.target });
  if (refuses?.quantize && opts.quantize === refuses.quantize.value) throw refusal(refuses.quantize, { target: opts.target });
  if (defaults)
    opts = {
      ...opts,
      ...(defaults.embedHead ? { embedHead: opts.embedHead ?? defaults.embedHead } : {}),
      ...(defaults.maxChunk !== undefined ? { maxChunk: opts.maxChunk ?? defaults.maxChunk } : {}),
    };
  if (opts.measure && refuses?.measure) throw refusal(refuses.measure, { target: opts.target });
  if (opts.threads !== undefined && opts.threads > 1 && !target.threads)
    throw new SeecError("unsupported.target", `the ${opts.target} target has no modules for threads`, {
      at: "--threads",
      hint: `build --threads for ${TARGET_NAMES.filter((t) => TARGETS[t].threads).join(" or ")}`,
    });
  await checkArtifactOutput(opts.out, buildInputs(opts));
  const seconds: Record<string, number> = {};
  const stage = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    opts.progress?.(name);
    const t0 = performance.now();
    const r = await f();
    seconds[name] = (performance.now() - t0) / 1000;
    return r;
  };
  // A checkpoint too large to hold stays in its file while it builds (each weight is read once or twice).
  const model = await stage("read model", () => loadModel({ streamAbove: STREAM_ABOVE_BYTES, ...opts }));
  if (model.tokenizer?.type === "hf-tokenizer-json") model.graph = withHfTokenizer(model.graph, model.tokenizer, opts);
  if (opts.pooling !== undefined || opts.normalize) model.graph = withPooling(model, opts);
  if (requires?.tokenizer && !model.tokenizer) throw refusal(requires.tokenizer, { target: opts.target, model: model.graph.name });
  if (model.format === "llama2c" && !model.tokenizer && !opts.noTokenizer)
    // Refused here: an artifact built without it fails only when someone first asks it for text.
    throw new SeecError("usage.tokenizer", "a llama2.c checkpoint keeps its tokenizer in another file: give it with --tokenizer", {
      file: opts.model,
      at: "--tokenizer",
      hint: "seec build model.bin --tokenizer tokenizer.bin, or --no-tokenizer for an artifact that takes token ids only",
    });
  const family = model.graph.model.family;
  if (opts.batch !== undefined && family !== "encoder")
    throw idleOption("--batch", `packs an encoder's texts; ${model.graph.name} is not one`);
  if (opts.context !== undefined && family !== "decoder")
    throw idleOption("--context", `sets a decoder's KV cache rows; ${model.graph.name} is not one`);
  if (opts.eos) checkEos(opts.eos, model.graph);
  else if (model.eosIds) {
    // The exporter's end tokens (generation_config.json), checked as --eos is, but naming the file.
    const ids = model.eosIds;
    const vocab = model.graph.model.config.vocabSize;
    const bad = ids.find((id) => vocab !== undefined && id >= vocab);
    if (bad !== undefined)
      throw new SeecError("mismatch.eos", `the end token ${bad} of the model's generation config is past its ${vocab} tokens`, {
        file: model.eosFile,
        hint: "give the end tokens with --eos",
      });
    opts = { ...opts, eos: ids };
  }
  if (opts.measure)
    checkQualityTask(opts.measure, { name: model.graph.name, family: model.graph.model.family, tokenizer: model.tokenizer !== undefined });
  if (opts.see) {
    const file = opts.see;
    const factors = await stage("read factors", async () => readSee(await readInput(file, "SEE factors"), file));
    model.graph = applySee(model.graph, factors, opts.embedHead ?? "materialize", file);
  }
  const unquantized = model.graph;
  let quantization: QuantizeReport | undefined;
  if (opts.quantize) {
    const quantize = opts.quantize === "q4" ? quantizeQ4 : quantizeInt8;
    const q = await stage("quantize", () => quantize(model.graph));
    model.graph = q.graph;
    quantization = q.report;
  }
  const artifact = await compileArtifact(model, { ...opts, stage });
  // Extras that describe the artifact rather than belong to it: not listed in the manifest.
  if (opts.demo) artifact.files.set("demo.html", demoPage(artifact.manifest));
  if (opts.packageName) artifact.files.set("package.json", artifactPackage(opts.packageName, artifact.manifest));
  await stage("write artifact", () => writeArtifact(opts.out, artifact.files));
  const quality = opts.measure && (await measureBuild(opts.measure, opts, quantization && { ...model, graph: unquantized }));
  return {
    out: opts.out,
    manifest: artifact.manifest,
    plan: artifact.plan,
    seconds,
    quantization,
    quality,
    memory: artifact.memory,
    notes: [...(model.notes ?? []), ...artifact.notes],
  };
}

/** --eos: token ids of a decoder's vocabulary. */
function checkEos(eos: number[], graph: Graph): void {
  if (graph.model.family !== "decoder")
    throw new SeecError(
      "usage.eos",
      `--eos is for decoders; ${graph.name} is ${graph.model.family === "encoder" ? "an encoder" : "a graph"}`,
      {
        at: "--eos",
        hint: "drop --eos",
      },
    );
  const vocab = graph.model.config.vocabSize;
  const bad = eos.find((id) => !Number.isSafeInteger(id) || id < 0 || (vocab !== undefined && id >= vocab));
  if (eos.length === 0 || bad !== undefined)
    throw new SeecError(
      "usage.eos",
      `--eos takes token ids from 0 to ${vocab === undefined ? "the vocabulary's size" : vocab - 1}, got ${bad ?? "none"}`,
      {
        at: "--eos",
        hint: "--eos 2, or several: --eos 128001,128009",
      },
    );
}

/**
 * A graph paired with a Hugging Face tokenizer.json: refused on targets whose modules tokenize
 * (their tables know llama2.c and SentencePiece only) and when the tokenizer's ids do not fit the
 * embedding; the embedding's rows become config.vocabSize, which the runtime checks ids against.
 */
function withHfTokenizer(graph: Graph, tokenizer: HfTokenizerSpec, opts: BuildOptions): Graph {
  const file = opts.tokenizer!;
  const refused = targetSpec(opts.target).refuses?.hfTokenizer;
  if (refused) throw refusal(refused, { target: opts.target }, file);
  let embedding: ReturnType<typeof findEmbedding>;
  try {
    embedding = findEmbedding(graph);
  } catch {
    throw new SeecError(
      "usage.tokenizer",
      `${graph.name} reads no token ids (no Gather from an input into a constant table): a tokenizer has nothing to feed`,
      {
        file,
        at: "--tokenizer",
        hint: "drop --tokenizer",
      },
    );
  }
  checkTokenizerVocabulary(tokenizer, embedding.vocab, embedding.name, file);
  return { ...graph, model: { ...graph.model, config: { ...graph.model.config, vocabSize: embedding.vocab } } };
}

/**
 * Scores the artifact at opts.out; given the model before quantization, also compiles it for the
 * same target into a temporary directory and scores that, so the int8 or q4 cost is measured, not guessed.
 */
async function measureBuild(task: QualityTask, opts: BuildOptions, beforeQuantize?: LoadedModel): Promise<BuildQuality> {
  const t0 = performance.now();
  const score = async (dir: string) => measureQuality(await loadArtifact(dir), task);
  let f32: number | undefined;
  if (beforeQuantize) {
    opts.progress?.("score the f32 model");
    const dir = await mkdtemp(join(tmpdir(), "seec-f32-"));
    try {
      await writeArtifact(join(dir, "f32"), (await compileArtifact(beforeQuantize, { target: opts.target, batch: opts.batch })).files);
      f32 = (await score(join(dir, "f32"))).value;
    } catch (e) {
      // A model whose f32 weights wasm32 cannot hold (quantized only to fit) has no f32 score to compare: its own stands.
      if (!(e instanceof SeecError && e.code.startsWith("budget."))) throw e;
      opts.progress?.("the f32 model does not fit wasm32's memory: scored quantized only");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  opts.progress?.(beforeQuantize ? `score the ${opts.quantize} model` : "score the model");
  const { details: _, ...quality } = await score(opts.out);
  return { ...quality, ...(f32 !== undefined ? { f32 } : {}), seconds: (performance.now() - t0) / 1000 };
}

export interface Artifact {
  /** manifest.json among them, made when the others are written (writeArtifact), with their sha256s. */
  files: Map<string, FileContent | Later>;
  /** Its files' sha256s are filled in as writeArtifact writes them (empty until then). */
  manifest: Manifest;
  plan: MemoryPlan;
  memory: MemoryReport;
  /** What the target's backend says about the build (e.g. --threads with nothing to split). */
  notes: string[];
}

/** Everything after the frontend: the target's passes, its backend, runtime, manifest. Writes nothing. */
export async function compileArtifact(
  model: LoadedModel,
  opts: { target: TargetName; command?: string; stage?: Stage; memoryBudget?: number; batch?: number; eos?: number[]; threads?: number },
): Promise<Artifact> {
  const stage: Stage = opts.stage ?? (async (_name, f) => f());
  const target = targetSpec(opts.target);
  const graph = runPasses(model.graph, target.passes, { batch: opts.batch });
  refuseUnsupported(graph, target.backend);
  const planned = await stage("plan memory", () => planMemory(graph));
  const compiled = await target.backend.compile(
    planned,
    { name: opts.target, options: target.options },
    {
      tokenizer: model.tokenizer,
      vocabSize: model.graph.model.config.vocabSize ?? 0,
      seecVersion: SEEC_VERSION,
      memoryBudget: opts.memoryBudget,
      threads: opts.threads,
      stage,
    },
  );
  const files = new Map([...compiled.files].filter(([name]) => !name.startsWith("src/")));
  if (target.runtime) {
    const runtime = await stage("bundle runtime", () =>
      bundleRuntime({
        hfTokenizer: model.tokenizer?.type === "hf-tokenizer-json",
        chat:
          (model.tokenizer?.type === "hf-tokenizer-json" || model.tokenizer?.type === "llama2c-bpe") && model.tokenizer.chat !== undefined,
      }),
    );
    files.set("index.mjs", runtime.js);
    // Where TypeScript looks for index.mjs's types (TS7016 without them).
    files.set("index.d.mts", runtime.dts);
  }
  for (const [name, source] of compiled.files) if (name.startsWith("src/")) files.set(name, source);
  if (model.tokenizer) files.set("tokenizer.json", JSON.stringify(model.tokenizer));
  const manifest = makeManifest(planned.graph, compiled.manifest, { ...opts, tokenizer: model.tokenizer?.type }, files);
  // Written last, with each file's sha256 as writeArtifact hashed it while writing it.
  const made = (sha256s: ReadonlyMap<string, string>) => {
    for (const [name, file] of Object.entries(manifest.files)) file.sha256 = sha256s.get(name)!;
    return `${JSON.stringify(manifest, null, 2)}\n`;
  };
  return {
    files: new Map<string, FileContent | Later>(files).set("manifest.json", { made }),
    manifest,
    plan: planned.plan,
    memory: compiled.memory,
    notes: compiled.notes ?? [],
  };
}

/** The first node the backend has no kernel for, refused by name before any work (the op tables are typed: none today). */
function refuseUnsupported(graph: Graph, backend: Backend): void {
  const node = graph.nodes.find((n) => !backend.supports(n));
  if (node)
    throw new SeecError("unsupported.op", `the ${backend.name} backend has no kernel for op ${node.op}`, { at: `node ${node.name}` });
}

function makeManifest(
  graph: Graph,
  parts: ManifestParts,
  opts: { target: TargetName; command?: string; tokenizer?: TokenizerSpec["type"]; eos?: number[] },
  files: Map<string, FileContent>,
): Manifest {
  return {
    format: "seec/1",
    seec: SEEC_VERSION,
    command: opts.command ?? "",
    name: graph.name,
    target: opts.target,
    modules: parts.modules,
    model: { ...modelInfo(graph), ...(opts.eos ? { eosIds: [...opts.eos] } : {}) },
    dims: graph.dims,
    inputs: parts.inputs,
    outputs: parts.outputs,
    memory: parts.memory,
    ...(opts.tokenizer ? { tokenizer: { file: "tokenizer.json", type: opts.tokenizer } } : {}),
    ...(parts.webgpu ? { webgpu: parts.webgpu } : {}),
    files: Object.fromEntries(
      [...files].sort(([a], [b]) => a.localeCompare(b)).map(([name, data]) => [name, { bytes: contentBytes(data), sha256: "" }]),
    ),
  };
}

function modelInfo(graph: Graph): Manifest["model"] {
  const { family, config, bosId, eosId, embedding, batch, rows } = graph.model;
  return {
    family,
    config: { ...config },
    bosId,
    eosId,
    ...(embedding ? { embedding: { ...embedding } } : {}),
    ...(batch ? { batch: { ...batch } } : {}),
    ...(rows ? { rows: { ...rows, inputs: [...rows.inputs] } } : {}),
  };
}

/** usage.option: an option the model gives nothing to do (seec's CLI refuses those it can tell before reading the model). */
function idleOption(flag: string, why: string): SeecError {
  return new SeecError("usage.option", `${flag} ${why}: given here it would do nothing`, {
    at: flag,
    hint: `leave ${flag} out; seec build --help says what each option is for`,
  });
}
