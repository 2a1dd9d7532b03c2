/**
 * SEE stage 2 (SEE.md §5): train the factors through the network, the original model as teacher.
 *
 * The student is the teacher with its token embedding rebuilt from the factors. Each step runs
 * both on a batch, takes the loss on what the model outputs, runs the student backwards
 * (ir/autodiff.ts) to the embedding rows it read, and from there into the factor tables
 * (see/backprop.ts); Adam updates the tables. Losses, weights as options:
 *
 * - decoder: KL(teacher ‖ student) over next-token distributions at temperature τ (× τ²), plus
 *   cross-entropy on the data, plus MSE between the two models' hidden states (each norm's input);
 * - encoder: 1 − cos and MSE between the pooled sentence embeddings, plus MSE between the
 *   teacher's and the student's in-batch similarity matrices, plus the hidden-state MSE.
 *
 * A held-out slice of the data is scored as training goes; the factors that scored best are kept.
 */
import { SeecError } from "../../runtime/errors.js";
import { createTokenizer, plainIds, type Tokenizer } from "../../runtime/tokenizers/index.js";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import type { LoadedModel } from "../frontends/load.js";
import type { Graph } from "../ir/graph.js";
import { Interpreter } from "../ir/interpreter.js";
import { linearOperands } from "../ir/ops/linear.js";
import type { TrainingKernels } from "../../targets/wasm/train-kernels.js";
import { normal, rng, shuffle } from "../util/random.js";
import { Adam } from "./adam.js";
import { RowBackprop, zeroGradients } from "./backprop.js";
import { wordnetSentences } from "./corpus.js";
import { embeddingRow, withAdapter, type SeeFactors } from "../factors/factors.js";
import { writeSee } from "../factors/format.js";
import { checkSeeFits } from "../passes/see.js";
import { findEmbedding } from "./factorize.js";
import { startWorkers } from "./distill-threads.js";
import { workerScript } from "../util/worker-script.js";
import { fingerprintDifference, type Checkpoint } from "./checkpoint.js";
import {
  DEFAULT_LOSS,
  DecoderTask,
  EncoderTask,
  fastOps,
  localRunner,
  softmax,
  type Example,
  type Gradients,
  type LossWeights,
  type Task,
} from "./distill-tasks.js";

export { DEFAULT_LOSS, nextTokenLoss, type LossWeights } from "./distill-tasks.js";

export interface DistillOptions {
  steps: number;
  learningRate: number;
  /** The peak learning rate of the model weights that train (--train); by default defaultWeightRate's. */
  weightLearningRate?: number;
  /** Sequences (decoder) or sentences (encoder) per step. */
  batch: number;
  seed: number;
  loss: LossWeights;
  temperature: number;
  /** Decoder: tokens per training sequence. */
  sequence: number;
  /** Training texts (--data); by default a decoder's own samples, an encoder's WordNet sentences. */
  texts?: string[];
  /** Decoder without texts: how many sequences to sample from the teacher. */
  samples: number;
  /** Encoder without texts: how many WordNet sentences to draw. */
  sentences: number;
  /** Encoder: put every token of the vocabulary into the data (coverVocabulary); on unless false. */
  cover?: boolean;
  /** Share of the data held out to choose the best factors (at least one example). */
  heldOut: number;
  /**
   * Score the held-out data every this many steps (and at the end); by default a twentieth of the
   * steps, at least 25 (defaultEvalEvery): scoring costs forwards over the whole held-out slice.
   */
  evalEvery?: number;
  /**
   * What trains besides the factors, shipped in the file (see/2): "norms" adds every norm's weight
   * (and bias); "all" every weight of the network (the matmuls' weights and biases too).
   */
  train?: Trainable;
  onProgress?: (p: DistillProgress) => void;
  /** Called with the factors each time the held-out score improves (a checkpoint to save). */
  onBest?: (best: SeeFactors, step: number) => void | Promise<void>;
  /** --train lora: the adapters' rank, and the layers (by index) whose matmuls get one; all when absent. */
  lora?: { rank: number; layers?: number[] };
  /** Called with the loop's whole state after each held-out score: a checkpoint to save. */
  onCheckpoint?: (c: Checkpoint) => void | Promise<void>;
  /** A checkpoint of this run (same options) to continue from. */
  resume?: Checkpoint;
  /** Faster Linear and attention (the wasm SIMD kernels); the interpreter's own where absent. */
  kernels?: TrainingKernels;
  /**
   * Threads that share each batch (worker threads over shared memory), each on its own instance of
   * this compiled kernels module. One thread (the default) runs on the caller's.
   */
  threads?: { count: number; kernels?: WebAssembly.Module };
}

export type Trainable = "factors" | "norms" | "all" | "lora";

/**
 * The peak learning rate for factors unless one is given: DEFAULT_DISTILL's, but for pq factors 2%
 * of their codewords' RMS. Those are entries of the embedding itself, not factors of a product, and
 * 0.03 moves them by a quarter of their size a step (USE-Lite pq 29x, codewords' RMS 0.1: held-out
 * loss 0.26 -> 1.3 at 0.03, -> 0.18 at 0.002).
 */
export function defaultLearningRate(f: SeeFactors): number {
  const code = f.spec.method === "pq" ? f.tables.code : undefined;
  const rms = code ? Math.sqrt(code.reduce((s, x) => s + x * x, 0) / code.length) : 0;
  return rms > 0 ? 0.02 * rms : DEFAULT_DISTILL.learningRate;
}

export const DEFAULT_DISTILL: Omit<DistillOptions, "seed"> = {
  steps: 200,
  learningRate: 0.03,
  batch: 8,
  loss: DEFAULT_LOSS,
  temperature: 1,
  sequence: 128,
  samples: 96,
  sentences: 4000,
  heldOut: 0.1,
};

/** How often a run of `steps` scores its held-out data unless told: twenty scores, at most every 25 steps. */
export function defaultEvalEvery(steps: number): number {
  return Math.max(25, Math.round(steps / 20));
}

export interface DistillProgress {
  phase: "data" | "train";
  step: number;
  steps: number;
  loss?: number;
  heldOut?: number;
  tokensPerSecond?: number;
}

export interface DistillReport {
  family: "decoder" | "encoder";
  steps: number;
  examples: { train: number; heldOut: number; source: string };
  /** The held-out loss before training, at its best (the factors kept) and the step it was reached. */
  heldOut: { before: number; best: number; bestStep: number; curve: { step: number; loss: number }[] };
  /** Mean training loss per step. */
  loss: number[];
  tokens: number;
  tokensPerSecond: number;
  seconds: number;
}

/** Trains f.tables in place against the model as teacher; returns what happened. */
export async function distill(model: LoadedModel, f: SeeFactors, options: DistillOptions): Promise<DistillReport> {
  const opts = { ...options, evalEvery: options.evalEvery ?? defaultEvalEvery(options.steps) };
  const t0 = performance.now();
  const startedFrom = factorsHash(f);
  const threads = opts.threads && opts.threads.count > 1 ? opts.threads : undefined;
  // Worker threads read the parameters Adam updates where they lie: in shared memory.
  if (threads) f.tables = Object.fromEntries(Object.entries(f.tables).map(([k, t]) => [k, shared(t)]));
  const { family, teacher, makeTask, refresh, params, own, withParams, weightGrads, sync, stale } = pair(
    model.graph,
    f,
    opts,
    threads ? shared : undefined,
  );
  const tok = tokenizerOf(model);
  const emb = findEmbedding(model.graph);
  const random = rng(opts.seed ^ 0xd157);

  opts.onProgress?.({ phase: "data", step: 0, steps: opts.steps });
  const { examples, source } = trainingData(teacher, tok, opts, random);
  shuffle(examples, random);
  const nHeld = Math.max(1, Math.round(examples.length * opts.heldOut));
  const held = range(nHeld),
    train = range(examples.length).slice(nHeld);
  if (train.length === 0)
    throw new SeecError("input.data", `${examples.length} examples: none left to train on after holding out ${nHeld}`, { at: "--data" });

  const init: WorkerInit = { graph: model.graph, factors: f, own, opts: plainOptions(opts), examples, kernels: threads?.kernels };
  const runner = threads
    ? await startWorkers(await workerScript("compiler/see/distill-worker.ts"), init, threads.count, opts.loss)
    : localRunner(examples, makeTask(), refresh, opts.loss, stale);
  try {
    const rows = new RowBackprop(f);
    const score = async (set: number[]) => {
      let sum = 0;
      for (let i = 0; i < set.length; i += opts.batch) {
        const batch = set.slice(i, i + opts.batch);
        sum += (await runner.loss(batch)) * batch.length;
      }
      return sum / set.length;
    };

    const fingerprint = fingerprintOf(opts, startedFrom);
    const resume = opts.resume && resumeFrom(opts.resume, fingerprint, params, train);
    if (resume) {
      sync();
      runner.changed();
    }
    const before = resume ? resume.curve[0].loss : await score(held);
    const curve = resume?.curve ?? [{ step: 0, loss: before }];
    let best = resume?.best ?? { loss: before, step: 0, params: snapshot(params) };
    const grads: Record<string, Float32Array> = zeroGradients(f);
    const adam = new Adam();
    if (resume) adam.restore(resume.adam);
    const losses: number[] = resume?.losses ?? [];
    let tokens = resume?.tokens ?? 0,
      trainSeconds = resume?.trainSeconds ?? 0,
      cursor = resume?.cursor ?? train.length,
      epoch = resume?.epoch ?? 0;
    for (let step = (resume?.step ?? 0) + 1; step <= opts.steps; step++) {
      const s0 = performance.now();
      if (cursor + opts.batch > train.length) {
        // Each epoch's order from its own generator: a resumed run needs only the epoch's number.
        shuffle(train, rng((opts.seed ^ 0x5e9) + 0x9e3779b1 * ++epoch));
        cursor = 0;
      }
      const batch = train.slice(cursor, (cursor += Math.min(opts.batch, train.length)));
      const { loss, ...gradients } = await runner.step(batch);
      const anchored = anchor(gradients.dTable, f, emb, opts.loss.anchor ?? 0);
      intoParams(gradients, rows, grads, weightGrads);
      // Warm up over the first 5% of steps, then a cosine down to a tenth.
      const warm = Math.max(1, Math.round(opts.steps / 20));
      const lr =
        opts.learningRate *
        (step <= warm ? step / warm : 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * (step - warm)) / Math.max(1, opts.steps - warm))));
      const weightLr = (lr * (opts.weightLearningRate ?? defaultWeightRate(opts))) / opts.learningRate;
      adam.update(params, grads, (name) => (name.startsWith("model.") || name.startsWith("lora.") ? weightLr : lr));
      sync();
      runner.changed();
      losses.push(loss + anchored);
      tokens += batch.reduce((n, i) => n + examples[i].length, 0);
      trainSeconds += (performance.now() - s0) / 1000;
      let heldLoss: number | undefined;
      if (step % opts.evalEvery === 0 || step === opts.steps) {
        heldLoss = await score(held);
        curve.push({ step, loss: heldLoss });
        if (heldLoss < best.loss) {
          best = { loss: heldLoss, step, params: snapshot(params) };
          await opts.onBest?.(withParams(best.params), step);
        }
        await opts.onCheckpoint?.({
          fingerprint,
          step,
          epoch,
          cursor,
          order: Int32Array.from(train),
          params: snapshot(params),
          adam: adam.state(),
          best,
          curve,
          losses,
          tokens,
          trainSeconds,
        });
      }
      opts.onProgress?.({ phase: "train", step, steps: opts.steps, loss, heldOut: heldLoss, tokensPerSecond: tokens / trainSeconds });
    }
    Object.assign(f, withParams(best.params));
    return {
      family,
      steps: opts.steps,
      examples: { train: train.length, heldOut: held.length, source },
      heldOut: { before, best: best.loss, bestStep: best.step, curve },
      loss: losses,
      tokens,
      tokensPerSecond: tokens / Math.max(trainSeconds, 1e-9),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await runner.close();
  }
}

/**
 * The anchor term (LossWeights.anchor) of a step: w · mean over the rows it read of
 * |e(t) − E[t]|² / |E[t]|², its gradient added into those rows' gradients; returns the term.
 */
export function anchor(dTable: Map<number, Float32Array>, f: SeeFactors, emb: { data: Float32Array; dim: number }, w: number): number {
  if (!(w > 0) || dTable.size === 0) return 0;
  const k = w / dTable.size;
  let loss = 0;
  for (const [t, d] of dTable) {
    const e = embeddingRow(f, t),
      E = emb.data.subarray(t * emb.dim, (t + 1) * emb.dim);
    let ee = 0,
      sq = 0;
    for (let i = 0; i < emb.dim; i++) {
      ee += E[i] * E[i];
      sq += (e[i] - E[i]) ** 2;
    }
    const n = ee || 1e-12;
    loss += (k * sq) / n;
    for (let i = 0; i < emb.dim; i++) d[i] += (2 * k * (e[i] - E[i])) / n;
  }
  return loss;
}

/** What shapes a run (its options less callbacks, the data and the starting factors by a hash): a resume must match it. */
function fingerprintOf(opts: DistillOptions, factors: string): Record<string, unknown> {
  const rest = plainOptions(opts);
  let h = FNV_BASIS;
  for (const text of opts.texts ?? []) for (let i = 0; i < text.length; i++) h = fnv1a(h, text.charCodeAt(i));
  return { ...rest, data: opts.texts ? `${opts.texts.length} texts, FNV-1a ${(h >>> 0).toString(16)}` : "default", factors };
}

/** The factors a run starts from, as their .see file's bytes and a hash of them (a resume must start from the same). */
function factorsHash(f: SeeFactors): string {
  const bytes = writeSee(f);
  const h = bytes.reduce(fnv1a, FNV_BASIS);
  return `${bytes.length} bytes, FNV-1a ${(h >>> 0).toString(16)}`;
}

/** 32-bit FNV-1a: the hash so far with one more value (a byte or a UTF-16 unit) folded in. */
const FNV_BASIS = 0x811c9dc5;
function fnv1a(h: number, value: number): number {
  return Math.imul(h ^ value, 0x01000193);
}

/** Checks a checkpoint against this run and puts its parameters and example order in place. */
function resumeFrom(
  c: Checkpoint,
  fingerprint: Record<string, unknown>,
  params: Record<string, Float32Array>,
  train: number[],
): Checkpoint {
  const differs = fingerprintDifference(c.fingerprint, fingerprint);
  if (differs)
    throw new SeecError("usage.resume", `the checkpoint was made with other options: ${differs}`, {
      at: "--resume",
      hint: "resume with the options of the run that wrote the checkpoint",
    });
  for (const [name, p] of Object.entries(params)) {
    const saved = c.params[name];
    if (saved?.length !== p.length)
      throw new SeecError("usage.resume", `the checkpoint's ${name} has ${saved?.length ?? 0} values; these factors have ${p.length}`, {
        at: "--resume",
        hint: "resume with the --see file the run started from",
      });
    p.set(saved);
  }
  if (c.order.length !== train.length)
    throw new SeecError("usage.resume", "the checkpoint's data differ from this run's", { at: "--resume" });
  const training = new Set(train);
  const outside = c.order.findIndex((i) => !training.has(i));
  if (outside >= 0 || c.cursor > train.length)
    throw new SeecError(
      "input.checkpoint",
      outside >= 0
        ? `its example order names example ${c.order[outside]}, which this run does not train on`
        : `its place ${c.cursor} is past its ${train.length} examples`,
      { at: "--resume", hint: "the checkpoint is damaged: start the run again without --resume" },
    );
  train.splice(0, train.length, ...c.order);
  return c;
}

function tokenizerOf(model: LoadedModel): Tokenizer {
  if (!model.tokenizer)
    throw new SeecError("usage.tokenizer", "distillation needs the model's tokenizer to read and make its data", { at: "--tokenizer" });
  return createTokenizer(model.tokenizer);
}

/**
 * What a distillation thread starts from (distill-worker.ts): the model, the factors and the weights
 * that train (their arrays in shared memory), and every example, which steps then name by index.
 */
export interface WorkerInit {
  graph: Graph;
  factors: SeeFactors;
  own: Record<string, Float32Array>;
  opts: DistillOptions;
  examples: Example[];
  kernels?: WebAssembly.Module;
}

/** A copy in shared memory, which worker threads read as it changes. */
function shared(t: Float32Array): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer(t.byteLength));
  s.set(t);
  return s;
}

/** The options a worker thread needs: no callbacks, no kernels (it makes its own). */
function plainOptions(opts: DistillOptions): DistillOptions {
  const { onProgress: _p, onBest: _b, onCheckpoint: _c, resume: _r, kernels: _k, threads: _t, texts: _x, ...plain } = opts;
  return plain;
}

/**
 * Teacher and student over one model: the student is the teacher reading the table rebuilt from f
 * (`refresh` rebuilds the rows a batch reads) and its own copies of the model weights the file
 * replaces (see/2) or that train here (made by `copy`, or given as `own` by a worker thread that
 * shares them); `params` are what Adam updates, by name.
 */
export function pair(
  graph: Graph,
  f: SeeFactors,
  opts: DistillOptions,
  copy: (t: Float32Array) => Float32Array = (t) => t.slice(),
  given?: Record<string, Float32Array>,
) {
  const family = graph.model.family;
  if (family !== "decoder" && family !== "encoder")
    throw new SeecError(
      "unsupported.distill",
      `${graph.name} is an imported graph; distillation needs a decoder or an encoder (llama2.c, TF.js)`,
      { file: graph.name },
    );
  const context = graph.model.config.contextLength;
  if (family === "decoder" && context !== undefined && opts.sequence > context)
    throw new SeecError("usage.sequence", `${opts.sequence} tokens per sequence do not fit ${graph.name}'s context of ${context}`, {
      at: "--sequence",
    });
  const emb = findEmbedding(graph);
  if (f.spec.replaces !== emb.name || f.spec.vocab !== emb.vocab || f.spec.dim !== emb.dim)
    throw new SeecError(
      "mismatch.see",
      `the factors are for ${f.spec.replaces} [${f.spec.vocab}, ${f.spec.dim}]; ${graph.name}'s embedding is ${emb.name} [${emb.vocab}, ${emb.dim}]`,
      { at: "--see" },
    );
  // The model weights and adapters a see/2 file carries, as seec build checks them.
  checkSeeFits(graph, f);
  const terms = family === "decoder" ? (["kl", "ce", "hidden"] as const) : (["cosine", "mse", "similarity", "hidden"] as const);
  if (terms.every((t) => !(opts.loss[t] > 0)))
    throw new SeecError(
      "usage.loss",
      `every loss term of a${family === "encoder" ? "n" : ""} ${family} is weighted 0: nothing would train`,
      {
        at: terms.map((t) => `--${t}`).join("/"),
        hint: `give one of ${terms.map((t) => `--${t}`).join(", ")} a weight above 0`,
      },
    );

  const teacher = family === "decoder" ? allPositions(graph) : graph;
  const table = new Float32Array(emb.data.length);
  const what = opts.train ?? "factors";
  if (f.adapters && what !== "lora")
    throw new SeecError("usage.train", `these factors carry low-rank adapters; --train ${what} would train the weights beneath them`, {
      at: "--train",
      hint: "continue with --train lora",
    });
  const trained = what === "lora" ? adaptedWeights(teacher, emb.name, opts.lora?.layers) : trainedWeights(teacher, what, emb.name);
  const base = (n: string) => f.weights?.[n] ?? (teacher.values.get(n)!.data as Float32Array);
  const own = given ?? Object.fromEntries([...new Set([...Object.keys(f.weights ?? {}), ...trained])].map((n) => [n, copy(base(n))]));
  const adapters = what === "lora" ? newAdapters(teacher, trained, f, opts) : {};
  /** The weights the student reads under adapters: W + A·B, in place (the threads share them). */
  const sync = () => {
    for (const [n, a] of Object.entries(adapters)) withAdapter(base(n), a.a, a.b, a.N, a.rank, a.K, own[n]);
  };
  if (!given) sync();
  const student = withTensors(teacher, { [emb.name]: table, ...own });
  const params = {
    ...f.tables,
    ...(what === "lora"
      ? Object.fromEntries(
          Object.entries(adapters).flatMap(([n, a]) => [
            [`lora.${n}.a`, a.a],
            [`lora.${n}.b`, a.b],
          ]),
        )
      : Object.fromEntries(trained.map((n) => [`model.${n}`, own[n]]))),
  };
  /** A step's weight gradients onto the parameters: each weight's own, or through its adapter (dA = dW·Bᵀ, dB = Aᵀ·dW). */
  const weightGrads = (dWeights: Map<string, Float32Array>, grads: Record<string, Float32Array>) => {
    for (const [n, d] of dWeights) {
      const a = adapters[n];
      if (!a) grads[`model.${n}`] = d;
      else [grads[`lora.${n}.a`], grads[`lora.${n}.b`]] = adapterGradients(d, a);
    }
  };
  /** The factors (and model weights, or adapters) as they stand in a snapshot of params. */
  const withParams = (p: Record<string, Float32Array>): SeeFactors => {
    const tables = Object.fromEntries(Object.keys(f.tables).map((k) => [k, p[k]]));
    if (what === "lora") {
      const spec = Object.fromEntries(Object.entries(adapters).map(([n, a]) => [n, { rank: a.rank, shape: [a.N, a.K] }]));
      const data = Object.fromEntries(Object.keys(adapters).map((n) => [n, { a: p[`lora.${n}.a`], b: p[`lora.${n}.b`] }]));
      return { ...f, tables, adapters: data, spec: { ...f.spec, format: "see/2", adapters: spec } };
    }
    if (!Object.keys(own).length) return { ...f, tables };
    const weights = Object.fromEntries(Object.keys(own).map((n) => [n, p[`model.${n}`] ?? own[n]]));
    const shapes = Object.fromEntries(Object.keys(own).map((n) => [n, (teacher.values.get(n)!.shape as number[]).slice()]));
    return { ...f, tables, weights, spec: { ...f.spec, format: "see/2", weights: shapes } };
  };
  /** The task, made where it runs (a thread's main only hands shares to workers). */
  const makeTask = (): Task =>
    family === "decoder"
      ? new DecoderTask(teacher, student, emb.name, trained, opts)
      : new EncoderTask(teacher, student, emb.name, trained, opts);
  /** The weights that train changed in place: the kernels' copies of them are stale. */
  const stale = () => {
    for (const n of trained) opts.kernels?.changed(own[n]);
  };
  // Rows a step reads: a tied head reads every row, otherwise the batch's tokens.
  const tiedHead = teacher.nodes.some((n) => n.op !== "Gather" && n.inputs.includes(emb.name));
  const refresh = (batch: Example[]) => {
    const ids = tiedHead ? range(emb.vocab) : new Set(batch.flatMap((e) => Array.from(e)));
    for (const t of ids) table.set(embeddingRow(f, t), t * emb.dim);
    // A tied head reads the table as a matmul's weight: the kernels' copy of it, once per batch.
    if (tiedHead) opts.kernels?.changed(table);
  };
  return { family, teacher, makeTask, refresh, params, own, withParams, weightGrads, sync, stale };
}

/**
 * One step's loss and gradients on a batch, without updating anything: of every factor table by
 * source, and (as `model.<name>`) of the model weights that train. What the PyTorch companion's
 * step is checked against.
 */
export function stepGradients(
  model: LoadedModel,
  f: SeeFactors,
  batch: Int32Array[],
  opts: DistillOptions,
): { loss: number; grads: Record<string, Float32Array> } {
  const { makeTask, refresh, weightGrads, stale } = pair(model.graph, f, opts);
  tokenizerOf(model);
  const { loss, ...step } = localRunner(batch, makeTask(), refresh, opts.loss, stale).run(range(batch.length), true);
  const anchored = anchor((step as Gradients).dTable, f, findEmbedding(model.graph), opts.loss.anchor ?? 0);
  const grads = zeroGradients(f);
  intoParams(step as Gradients, new RowBackprop(f), grads, weightGrads);
  return { loss: loss + anchored, grads };
}

/**
 * A step's gradients onto the parameters' names, replacing what grads held: by embedding row into the
 * factor tables (through the row builder), by model weight as `model.<name>`.
 */
function intoParams(
  step: Gradients,
  rows: RowBackprop,
  grads: Record<string, Float32Array>,
  weightGrads: (dWeights: Map<string, Float32Array>, grads: Record<string, Float32Array>) => void,
): void {
  for (const g of Object.values(grads)) g.fill(0);
  for (const [t, d] of step.dTable) rows.accumulate(t, d, grads);
  weightGrads(step.dWeights, grads);
}

/** The examples: the user's texts tokenized, or data made from the teacher and WordNet. */
function trainingData(teacher: Graph, tok: Tokenizer, opts: DistillOptions, random: () => number): { examples: Example[]; source: string } {
  const family = teacher.model.family;
  if (family === "decoder") {
    if (opts.texts) {
      const stream = opts.texts.flatMap((text) =>
        tok instanceof Llama2cTokenizer ? tok.encode(text, { bos: true }) : plainIds(tok, text),
      );
      const examples: Example[] = [];
      for (let i = 0; i + 2 <= stream.length; i += opts.sequence) examples.push(Int32Array.from(stream.slice(i, i + opts.sequence)));
      const sequences = examples.filter((e) => e.length >= 2);
      return {
        examples: sequences,
        source: `${opts.texts.length} texts, ${stream.length} tokens cut into ${sequences.length} sequences of up to ${opts.sequence}`,
      };
    }
    return { examples: sampleTeacher(teacher, opts, random), source: `${opts.samples} sequences sampled from the teacher` };
  }
  const max = teacher.model.config.maxLength ?? Infinity;
  let texts = opts.texts;
  let source = `${texts?.length} texts`;
  if (!texts) {
    const all = wordnetSentences();
    const pick = Int32Array.from({ length: all.length }, (_, i) => i);
    shuffle(pick, random);
    texts = Array.from(pick.subarray(0, opts.sentences), (i) => all[i]);
    source = `${texts.length} WordNet glosses and examples`;
  }
  const examples = texts.map((t) => Int32Array.from(plainIds(tok, t).slice(0, max))).filter((e) => e.length > 0);
  if (opts.cover === false) return { examples, source };
  const { copies, tokens } = coverVocabulary(examples, findEmbedding(teacher).vocab, Math.min(max, 64), random);
  return { examples, source: copies ? `${source}, and ${copies} copies of them carrying the ${tokens} tokens they lacked` : source };
}

/**
 * Puts every token of the vocabulary into the data: a row that no example reads never learns from the
 * network, and its factors' shared rows drift as others train. Each token no example holds goes,
 * four at a time, into a copy of a random example at random places (kept within `max` tokens); the
 * copies join the examples.
 */
export function coverVocabulary(examples: Example[], vocab: number, max: number, random: () => number): { copies: number; tokens: number } {
  const seen = new Uint8Array(vocab);
  for (const e of examples) for (const t of e) seen[t] = 1;
  const missing = range(vocab).filter((t) => !seen[t]);
  const n = examples.length;
  for (let i = 0; i < missing.length; i += 4) {
    const ids = Array.from(examples[Math.floor(random() * n)]).slice(0, max - 4);
    for (const t of missing.slice(i, i + 4)) ids.splice(Math.floor(random() * (ids.length + 1)), 0, t);
    examples.push(Int32Array.from(ids));
  }
  return { copies: examples.length - n, tokens: missing.length };
}

/** Text the teacher writes itself: sequences from BOS, sampled at temperature 1 (seeded). */
function sampleTeacher(graph: Graph, opts: DistillOptions, random: () => number): Example[] {
  const run = new Interpreter(graph, fastOps(opts.kernels));
  const bos = graph.model.bosId ?? 1,
    output = graph.outputs[0];
  const out: Example[] = [];
  let p = new Float64Array(0);
  for (let s = 0; s < opts.samples; s++) {
    const seq = [bos];
    while (seq.length < opts.sequence) {
      const logits = run.run({ tokens: Int32Array.of(seq[seq.length - 1]), pos: Int32Array.of(seq.length - 1) })[output]
        .data as Float32Array;
      if (p.length !== logits.length) p = new Float64Array(logits.length);
      const probs = softmax(logits, 0, logits.length, 1, p);
      let u = random(),
        next = probs.length - 1;
      for (let v = 0; v < probs.length; v++)
        if ((u -= probs[v]) <= 0) {
          next = v;
          break;
        }
      seq.push(next);
    }
    out.push(Int32Array.from(seq));
    opts.onProgress?.({ phase: "data", step: s + 1, steps: opts.samples });
  }
  return out;
}

/** The decoder graph with every position's logits (llama2.c's graph keeps only the last row's). */
export function allPositions(graph: Graph): Graph {
  const rename = new Map<string, string>();
  const nodes = graph.nodes.filter((n) => {
    if (n.op !== "LastRow") return true;
    rename.set(n.outputs[0], n.inputs[0]);
    return false;
  });
  const renamed = (i: string) => rename.get(i) ?? i;
  return { ...graph, nodes: nodes.map((n) => ({ ...n, inputs: n.inputs.map(renamed) })), outputs: graph.outputs.map(renamed) };
}

/** The graph reading these constants' data instead (other tensors shared). */
function withTensors(graph: Graph, data: Record<string, Float32Array>): Graph {
  const values = new Map(graph.values);
  for (const [name, d] of Object.entries(data)) values.set(name, { ...graph.values.get(name)!, data: d });
  return { ...graph, values };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function snapshot(params: Record<string, Float32Array>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.slice()]));
}

/**
 * The model weights' peak learning rate when none is given: the factors' for the norms (weights near
 * 1, like the tables' scale), 0.002 with every matmul training (the best of those measured on
 * stories260K: 0.002 gave NLL 2.13 where 0.005 gave 2.18 at 2x; the factors' 0.05 wrecks the network).
 */
function defaultWeightRate(opts: DistillOptions): number {
  return opts.train === "all" || opts.train === "lora" ? Math.min(0.002, opts.learningRate) : opts.learningRate;
}

/** --train lora's weights: every matmul's (not the biases, not a tied head), in the chosen layers. */
function adaptedWeights(graph: Graph, embedding: string, layers?: number[]): string[] {
  const names = graph.nodes.filter((n) => n.op === "Linear").map((n) => linearOperands(n.op, n.inputs, n.attrs).w);
  const inLayer = (n: string) => !layers || layers.some((l) => n.startsWith(`layers.${l}.`));
  const chosen = [...new Set(names)].filter(
    (n) => n !== embedding && inLayer(n) && graph.values.get(n)?.kind === "const" && graph.values.get(n)?.shape.length === 2,
  );
  if (!chosen.length)
    throw new SeecError("usage.lora_layers", `no matmul weight of ${graph.name} is in layers ${layers?.join(", ")}`, {
      at: "--lora-layers",
    });
  return chosen;
}

interface Adapter {
  a: Float32Array;
  b: Float32Array;
  N: number;
  K: number;
  rank: number;
}

/**
 * Each adapted weight's A [N, r] and B [r, K]: the file's own where it has them (a run continued),
 * otherwise A = 0 and B ~ N(0, 1/K) (seeded), so that the student starts as the model (LoRA's start).
 */
function newAdapters(graph: Graph, names: string[], f: SeeFactors, opts: DistillOptions): Record<string, Adapter> {
  const draw = normal(rng(opts.seed ^ 0x10ea));
  return Object.fromEntries(
    names.map((n) => {
      const [N, K] = graph.values.get(n)!.shape as number[];
      const had = f.adapters?.[n],
        rank = had ? f.spec.adapters![n].rank : (opts.lora?.rank ?? 4);
      const a = had ? had.a.slice() : new Float32Array(N * rank);
      const b = had ? had.b.slice() : Float32Array.from({ length: rank * K }, () => draw() / Math.sqrt(K));
      return [n, { a, b, N, K, rank }];
    }),
  );
}

/** dA = dW·Bᵀ [N, r] and dB = Aᵀ·dW [r, K] for W + A·B. */
function adapterGradients(dW: Float32Array, { a, b, N, K, rank: r }: Adapter): [Float32Array, Float32Array] {
  const dA = new Float32Array(N * r),
    dB = new Float32Array(r * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = dW[n * K + k];
      if (g === 0) continue;
      for (let j = 0; j < r; j++) {
        dA[n * r + j] += g * b[j * K + k];
        dB[j * K + k] += a[n * r + j] * g;
      }
    }
  return [dA, dB];
}

/** The model weights that train with the factors: every norm's weight and bias, and with "all" the matmuls' too. */
function trainedWeights(graph: Graph, what: Trainable, embedding: string): string[] {
  if (what === "factors") return [];
  const norms = new Set(["RMSNorm", "LayerNorm"]);
  const names = graph.nodes.flatMap((n) => {
    if (norms.has(n.op)) return n.inputs.slice(1);
    if (what !== "all" || n.op !== "Linear") return [];
    const { w, bias } = linearOperands(n.op, n.inputs, n.attrs);
    return bias ? [w, bias] : [w];
  });
  return [...new Set(names)].filter(
    (n) => n !== embedding && graph.values.get(n)?.kind === "const" && graph.values.get(n)?.data instanceof Float32Array,
  );
}
