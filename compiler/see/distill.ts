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
import { backward, forward } from "../ir/autodiff.js";
import type { Attrs, Graph, Node } from "../ir/graph.js";
import { Interpreter } from "../ir/interpreter.js";
import type { OpDef, Tensor } from "../ir/ops/index.js";
import { Linear, linearOperands, type MatmulKernels } from "../ir/ops/linear.js";
import { rng, shuffle } from "../util/random.js";
import { Adam } from "./adam.js";
import { RowBackprop, zeroGradients } from "./backprop.js";
import { wordnetSentences } from "./corpus.js";
import { embeddingRow, type SeeFactors } from "../factors/factors.js";
import { findEmbedding } from "./factorize.js";

export interface LossWeights {
  /** Decoder: KL between the teacher's and the student's next-token distributions. */
  kl: number;
  /** Decoder: cross-entropy of the student on the data's next tokens. */
  ce: number;
  /** Both: MSE between teacher and student hidden states (the input of every norm). */
  hidden: number;
  /** Encoder: 1 − cosine between the sentence embeddings. */
  cosine: number;
  /** Encoder: MSE between the sentence embeddings (× dim, so it weighs like the cosine). */
  mse: number;
  /** Encoder: MSE between the in-batch similarity matrices. */
  similarity: number;
}

export const DEFAULT_LOSS: LossWeights = { kl: 1, ce: 0.1, hidden: 0, cosine: 1, mse: 1, similarity: 1 };

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
  /** Score the held-out data every this many steps (and at the end). */
  evalEvery: number;
  /**
   * What trains besides the factors, shipped in the file (see/2): "norms" adds every norm's weight
   * (and bias); "all" every weight of the network (the matmuls' weights and biases too).
   */
  train?: Trainable;
  onProgress?: (p: DistillProgress) => void;
  /** Called with the factors each time the held-out score improves (a checkpoint to save). */
  onBest?: (best: SeeFactors, step: number) => void | Promise<void>;
  /** Faster matmuls for Linear (the wasm SIMD kernels); the interpreter's own where absent. */
  kernels?: MatmulKernels;
}

export type Trainable = "factors" | "norms" | "all";

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
  evalEvery: 25,
};

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

type Example = Int32Array;

/** Trains f.tables in place against the model as teacher; returns what happened. */
export async function distill(model: LoadedModel, f: SeeFactors, opts: DistillOptions): Promise<DistillReport> {
  const t0 = performance.now();
  const { family, teacher, tok, task, refresh, params, trained, own, withParams } = pair(model, f, opts);
  const random = rng(opts.seed ^ 0xd157);

  opts.onProgress?.({ phase: "data", step: 0, steps: opts.steps });
  const { examples, source } = trainingData(teacher, tok, opts, random);
  shuffle(examples, random);
  const nHeld = Math.max(1, Math.round(examples.length * opts.heldOut));
  const held = examples.slice(0, nHeld),
    train = examples.slice(nHeld);
  if (train.length === 0)
    throw new SeecError("input.data", `${examples.length} examples: none left to train on after holding out ${nHeld}`, { at: "--data" });

  const rows = new RowBackprop(f);
  const score = (set: Example[]) => {
    refresh(set);
    let sum = 0;
    for (let i = 0; i < set.length; i += opts.batch) {
      const batch = set.slice(i, i + opts.batch);
      sum += task.loss(batch) * batch.length;
    }
    return sum / set.length;
  };

  const before = score(held);
  const curve = [{ step: 0, loss: before }];
  let best = { loss: before, step: 0, params: snapshot(params) };
  const grads: Record<string, Float32Array> = zeroGradients(f);
  const adam = new Adam();
  const losses: number[] = [];
  let tokens = 0,
    trainSeconds = 0,
    cursor = train.length;
  for (let step = 1; step <= opts.steps; step++) {
    const s0 = performance.now();
    if (cursor + opts.batch > train.length) {
      shuffle(train, random);
      cursor = 0;
    }
    const batch = train.slice(cursor, (cursor += Math.min(opts.batch, train.length)));
    refresh(batch);
    const { loss, ...gradients } = task.step(batch);
    intoParams(gradients, rows, grads);
    // Warm up over the first 5% of steps, then a cosine down to a tenth.
    const warm = Math.max(1, Math.round(opts.steps / 20));
    const lr =
      opts.learningRate *
      (step <= warm ? step / warm : 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * (step - warm)) / Math.max(1, opts.steps - warm))));
    const weightLr = (lr * (opts.weightLearningRate ?? defaultWeightRate(opts))) / opts.learningRate;
    adam.update(params, grads, (name) => (name.startsWith("model.") ? weightLr : lr));
    for (const n of trained) opts.kernels?.changed(own[n]);
    losses.push(loss);
    tokens += batch.reduce((n, e) => n + e.length, 0);
    trainSeconds += (performance.now() - s0) / 1000;
    let heldLoss: number | undefined;
    if (step % opts.evalEvery === 0 || step === opts.steps) {
      heldLoss = score(held);
      curve.push({ step, loss: heldLoss });
      if (heldLoss < best.loss) {
        best = { loss: heldLoss, step, params: snapshot(params) };
        await opts.onBest?.(withParams(best.params), step);
      }
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
}

/**
 * Teacher and student over one model: the student is the teacher reading the table rebuilt from f
 * (`refresh` rebuilds the rows a batch reads) and its own copies of the model weights the file
 * replaces (see/2) or that train here; `params` are what Adam updates, by name.
 */
function pair(model: LoadedModel, f: SeeFactors, opts: DistillOptions) {
  const family = model.graph.model.family;
  if (family !== "decoder" && family !== "encoder")
    throw new SeecError(
      "unsupported.distill",
      `${model.graph.name} is an imported graph; distillation needs a decoder or an encoder (llama2.c, TF.js)`,
      { file: model.graph.name },
    );
  const context = model.graph.model.config.contextLength;
  if (family === "decoder" && context !== undefined && opts.sequence > context)
    throw new SeecError("usage.sequence", `${opts.sequence} tokens per sequence do not fit ${model.graph.name}'s context of ${context}`, {
      at: "--sequence",
    });
  const emb = findEmbedding(model.graph);
  if (f.spec.replaces !== emb.name || f.spec.vocab !== emb.vocab || f.spec.dim !== emb.dim)
    throw new SeecError(
      "mismatch.see",
      `the factors are for ${f.spec.replaces} [${f.spec.vocab}, ${f.spec.dim}]; ${model.graph.name}'s embedding is ${emb.name} [${emb.vocab}, ${emb.dim}]`,
      { at: "--see" },
    );
  if (!model.tokenizer)
    throw new SeecError("usage.tokenizer", "distillation needs the model's tokenizer to read and make its data", { at: "--tokenizer" });

  const teacher = family === "decoder" ? allPositions(model.graph) : model.graph;
  const table = new Float32Array(emb.data.length);
  const trained = trainedWeights(teacher, opts.train ?? "factors", emb.name);
  const own = Object.fromEntries(
    [...new Set([...Object.keys(f.weights ?? {}), ...trained])].map((n) => [
      n,
      (f.weights?.[n] ?? (teacher.values.get(n)!.data as Float32Array)).slice(),
    ]),
  );
  const student = withTensors(teacher, { [emb.name]: table, ...own });
  const params = { ...f.tables, ...Object.fromEntries(trained.map((n) => [`model.${n}`, own[n]])) };
  /** The factors (and model weights) as they stand in a snapshot of params. */
  const withParams = (p: Record<string, Float32Array>): SeeFactors => {
    const tables = Object.fromEntries(Object.keys(f.tables).map((k) => [k, p[k]]));
    if (!Object.keys(own).length) return { ...f, tables };
    const weights = Object.fromEntries(Object.keys(own).map((n) => [n, p[`model.${n}`] ?? own[n]]));
    const shapes = Object.fromEntries(Object.keys(own).map((n) => [n, (teacher.values.get(n)!.shape as number[]).slice()]));
    return { ...f, tables, weights, spec: { ...f.spec, format: "see/2", weights: shapes } };
  };
  const task: Task =
    family === "decoder"
      ? new DecoderTask(teacher, student, emb.name, trained, opts)
      : new EncoderTask(teacher, student, emb.name, trained, opts);
  // Rows a step reads: a tied head reads every row, otherwise the batch's tokens.
  const tiedHead = teacher.nodes.some((n) => n.op !== "Gather" && n.inputs.includes(emb.name));
  const refresh = (batch: Example[]) => {
    const ids = tiedHead ? range(emb.vocab) : new Set(batch.flatMap((e) => Array.from(e)));
    for (const t of ids) table.set(embeddingRow(f, t), t * emb.dim);
  };
  return { family, teacher, tok: createTokenizer(model.tokenizer), task, refresh, params, trained, own, withParams };
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
  const { task, refresh } = pair(model, f, opts);
  refresh(batch);
  const { loss, ...step } = task.step(batch);
  const grads = zeroGradients(f);
  intoParams(step, new RowBackprop(f), grads);
  return { loss, grads };
}

/**
 * A step's gradients onto the parameters' names, replacing what grads held: by embedding row into the
 * factor tables (through the row builder), by model weight as `model.<name>`.
 */
function intoParams(
  step: { dTable: Map<number, Float32Array>; dWeights: Map<string, Float32Array> },
  rows: RowBackprop,
  grads: Record<string, Float32Array>,
): void {
  for (const g of Object.values(grads)) g.fill(0);
  for (const [t, d] of step.dTable) rows.accumulate(t, d, grads);
  for (const [n, d] of step.dWeights) grads[`model.${n}`] = d;
}

/** What one kind of model's step computes: a batch's loss, and its gradient by embedding row. */
interface Task {
  loss(batch: Example[]): number;
  /** The loss, its gradient by embedding row, and by trained model weight. */
  step(batch: Example[]): { loss: number; dTable: Map<number, Float32Array>; dWeights: Map<string, Float32Array> };
}

/**
 * A decoder: each example is a sequence from position 0; the student and teacher see it whole, and
 * every position but the last is scored against the next token.
 */
class DecoderTask implements Task {
  private readonly teacher: TeacherCache;
  private readonly student: Interpreter;
  private readonly output: string;
  private readonly hidden: string[];
  private readonly dim: number;

  constructor(
    teacherGraph: Graph,
    studentGraph: Graph,
    private readonly embedding: string,
    private readonly trained: string[],
    private readonly opts: DistillOptions,
  ) {
    this.output = teacherGraph.outputs[0];
    this.hidden = opts.loss.hidden > 0 ? hiddenStates(teacherGraph) : [];
    this.teacher = new TeacherCache(new Interpreter(teacherGraph, fastOps(opts.kernels)), [this.output, ...this.hidden]);
    this.student = new Interpreter(studentGraph, fastOps(opts.kernels, studentGraph.values.get(embedding)!.data as Float32Array));
    this.dim = teacherGraph.values.get(embedding)!.shape[1] as number;
  }

  loss(batch: Example[]): number {
    return batch.reduce((s, e) => s + this.run(e, false).loss, 0) / batch.length;
  }

  step(batch: Example[]) {
    const dTable = new Map<number, Float32Array>(),
      dWeights = new Map<string, Float32Array>();
    let loss = 0;
    for (const e of batch) {
      const r = this.run(e, true, 1 / batch.length);
      loss += r.loss / batch.length;
      addRows(dTable, r.grads!.get(this.embedding)!, this.dim);
      for (const n of this.trained) addRow(dWeights, n, r.grads!.get(n)!);
    }
    return { loss, dTable, dWeights };
  }

  private run(tokens: Example, train: boolean, scale = 1) {
    const feeds = { tokens, pos: Int32Array.of(0) };
    const teacher = this.teacher.get(tokens, feeds),
      sTape = forward(this.student, feeds);
    const tLogits = teacher.get(this.output)!,
      sLogits = sTape.env.get(this.output)!.data as Float32Array;
    const { loss: outLoss, dLogits } = nextTokenLoss(sLogits, tLogits, tokens, this.opts.loss, this.opts.temperature, scale);
    let loss = outLoss;
    const { hidden } = this.opts.loss;
    const seeds: Record<string, Float32Array> = { [this.output]: dLogits };
    if (hidden > 0) loss += hiddenLoss(this.hidden, teacher, sTape.env, hidden, scale, seeds);
    if (!train) return { loss };
    return { loss, grads: backward(sTape, seeds, [this.embedding, ...this.trained]) };
  }
}

/**
 * A decoder's loss over one sequence, mean over its positions but the last: kl · τ² · KL(teacher ‖
 * student) at temperature τ + ce · cross-entropy of the next token; and its gradient with respect
 * to the student's logits [T, V], times `scale`.
 */
export function nextTokenLoss(
  student: Float32Array,
  teacher: Float32Array,
  tokens: Int32Array,
  w: Pick<LossWeights, "kl" | "ce">,
  tau: number,
  scale = 1,
): { loss: number; dLogits: Float32Array } {
  const T = tokens.length,
    V = teacher.length / T;
  const dLogits = new Float32Array(student.length);
  const pt = new Float64Array(V),
    ps = new Float64Array(V),
    p1 = tau === 1 ? ps : new Float64Array(V);
  let loss = 0;
  for (let t = 0; t < T - 1; t++) {
    const o = t * V;
    softmax(teacher, o, V, tau, pt);
    softmax(student, o, V, tau, ps);
    if (tau !== 1) softmax(student, o, V, 1, p1);
    let kl = 0;
    for (let v = 0; v < V; v++) if (pt[v] > 0) kl += pt[v] * (Math.log(pt[v]) - Math.log(Math.max(ps[v], 1e-300)));
    const next = tokens[t + 1];
    loss += (w.kl * tau * tau * kl - w.ce * Math.log(Math.max(p1[next], 1e-300))) / (T - 1);
    const k = scale / (T - 1);
    for (let v = 0; v < V; v++) dLogits[o + v] = k * (w.kl * tau * (ps[v] - pt[v]) + w.ce * (p1[v] - (v === next ? 1 : 0)));
  }
  return { loss, dLogits };
}

/**
 * An encoder: each example is one sentence's token ids; the losses compare the pooled sentence
 * embeddings of the batch, so every sentence's backward pass waits for the whole batch's forward.
 */
class EncoderTask implements Task {
  private readonly teacher: TeacherCache;
  private readonly student: Interpreter;
  private readonly input: string;
  private readonly output: string;
  private readonly gather: Node;
  private readonly hidden: string[];

  constructor(
    teacherGraph: Graph,
    studentGraph: Graph,
    embedding: string,
    private readonly trained: string[],
    private readonly opts: DistillOptions,
  ) {
    // A batch's forward passes all run before its backward ones: only sound without state (a KV cache).
    if ([...teacherGraph.values.values()].some((v) => v.kind === "state"))
      throw new SeecError(
        "unsupported.distill",
        `${teacherGraph.name} keeps state between calls; an encoder is distilled one call per sentence`,
      );
    this.input = teacherGraph.inputs[0];
    this.output = teacherGraph.outputs[0];
    this.gather = teacherGraph.nodes.find((n) => n.op === "Gather" && n.inputs[0] === embedding)!;
    this.hidden = opts.loss.hidden > 0 ? hiddenStates(teacherGraph) : [];
    this.teacher = new TeacherCache(new Interpreter(teacherGraph, fastOps(opts.kernels)), [this.output, ...this.hidden]);
    this.student = new Interpreter(studentGraph, fastOps(opts.kernels, studentGraph.values.get(embedding)!.data as Float32Array));
  }

  loss(batch: Example[]): number {
    return this.run(batch, false).loss;
  }

  step(batch: Example[]) {
    const r = this.run(batch, true);
    return { loss: r.loss, dTable: r.dTable!, dWeights: r.dWeights! };
  }

  private run(batch: Example[], train: boolean) {
    const B = batch.length;
    const tapes = batch.map((ids) => ({
      teacher: this.teacher.get(ids, { [this.input]: ids }),
      student: forward(this.student, { [this.input]: ids }),
    }));
    const tv = tapes.map((t) => t.teacher.get(this.output)!);
    const sv = tapes.map((t) => t.student.env.get(this.output)!.data as Float32Array);
    const D = tv[0].length;
    const { cosine, mse, similarity, hidden } = this.opts.loss;
    const grads = sv.map(() => new Float32Array(D));
    let loss = 0;
    for (let i = 0; i < B; i++) {
      const s = sv[i],
        t = tv[i],
        g = grads[i];
      const ss = dot(s, s),
        tt = dot(t, t),
        st = dot(s, t);
      const ns = Math.sqrt(ss) || 1e-12,
        nt = Math.sqrt(tt) || 1e-12,
        cos = st / (ns * nt);
      let sq = 0;
      for (let d = 0; d < D; d++) sq += (s[d] - t[d]) ** 2;
      loss += (cosine * (1 - cos) + mse * sq) / B;
      for (let d = 0; d < D; d++) g[d] += (-cosine * (t[d] / (ns * nt) - (cos * s[d]) / (ns * ns)) + mse * 2 * (s[d] - t[d])) / B;
    }
    if (similarity > 0 && B > 1) {
      // L = Σ_ij (s_i·s_j − t_i·t_j)² / B², so dL/ds_i = 4/B² · Σ_j (s_i·s_j − t_i·t_j) · s_j.
      for (let i = 0; i < B; i++)
        for (let j = 0; j < B; j++) {
          const diff = dot(sv[i], sv[j]) - dot(tv[i], tv[j]);
          loss += (similarity * diff * diff) / (B * B);
          const k = (4 * similarity * diff) / (B * B);
          for (let d = 0; d < D; d++) grads[i][d] += k * sv[j][d];
        }
    }
    const seeds = grads.map((g) => ({ [this.output]: g }) as Record<string, Float32Array>);
    if (hidden > 0) tapes.forEach((t, i) => (loss += hiddenLoss(this.hidden, t.teacher, t.student.env, hidden, 1 / B, seeds[i]) / B));
    if (!train) return { loss };
    // Backwards to the looked-up rows (not the whole table), then onto the ids they came from.
    const rowsOut = this.gather.outputs[0];
    const dTable = new Map<number, Float32Array>(),
      dWeights = new Map<string, Float32Array>();
    tapes.forEach((t, i) => {
      const grads = backward(t.student, seeds[i], [rowsOut, ...this.trained]);
      const dRows = grads.get(rowsOut)!,
        ids = batch[i],
        dim = dRows.length / ids.length;
      ids.forEach((id, r) => addRow(dTable, id, dRows.subarray(r * dim, (r + 1) * dim)));
      for (const n of this.trained) addRow(dWeights, n, grads.get(n)!);
    });
    return { loss, dTable, dWeights };
  }
}

/** The teacher's tensors that the losses read, computed once per example: the teacher never changes. */
class TeacherCache {
  private readonly kept = new Map<Example, Map<string, Float32Array>>();

  constructor(
    private readonly interpreter: Interpreter,
    private readonly names: string[],
  ) {}

  get(example: Example, feeds: Record<string, Int32Array>): Map<string, Float32Array> {
    let got = this.kept.get(example);
    if (!got) {
      const { env } = forward(this.interpreter, feeds);
      got = new Map(this.names.map((n) => [n, env.get(n)!.data as Float32Array]));
      this.kept.set(example, got);
    }
    return got;
  }
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
      return { examples: examples.filter((e) => e.length >= 2), source: `${opts.texts.length} texts, ${stream.length} tokens` };
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

/**
 * Linear on the given kernels where it is a plain matmul with weights as written (what the
 * frontends emit); anything else, and the weight gradient, as the registry defines it.
 */
function fastOps(kernels: MatmulKernels | undefined, trained?: Float32Array): Partial<Record<string, OpDef>> {
  if (!kernels) return {};
  // The kernels keep a copy of each weight: one that training rewrites (a tied head reading the
  // embedding table) stays on the interpreter.
  const plain = (inputs: readonly Tensor[], attrs: Attrs) => {
    const o = linearOperands("Linear", inputs, attrs);
    return o.layout === "nk" && !o.activation && !o.residual && o.w.data instanceof Float32Array && o.w.data !== trained ? o : undefined;
  };
  return {
    Linear: {
      ...Linear,
      run(inputs, attrs) {
        const o = plain(inputs, attrs);
        if (!o) return Linear.run(inputs, attrs);
        const [T, K] = o.x.shape,
          N = o.w.shape[0];
        return [
          {
            shape: [T, N],
            data: kernels.forward(o.x.data as Float32Array, o.w.data as Float32Array, o.bias?.data as Float32Array | undefined, T, K, N),
          },
        ];
      },
      vjp(step) {
        const o = plain(step.inputs, step.attrs);
        if (!o) return Linear.vjp!(step);
        const [T, K] = o.x.shape,
          N = o.w.shape[0];
        const dy = step.dOutputs[0] ?? new Float32Array(T * N);
        const grads: (Float32Array | undefined)[] = [
          step.wants[0] ? kernels.inputGradient(dy, o.w.data as Float32Array, T, N, K) : undefined,
          step.wants[1] ? kernels.weightGradient(dy, o.x.data as Float32Array, T, N, K) : undefined,
        ];
        if (o.bias) {
          const db = step.wants[2] ? new Float32Array(N) : undefined;
          if (db) for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) db[n] += dy[t * N + n];
          grads.push(db);
        }
        return grads;
      },
    },
  };
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

/** The hidden states compared: the input of every norm (the residual stream at each layer's seams). */
function hiddenStates(graph: Graph): string[] {
  return [...new Set(graph.nodes.filter((n) => n.op === "RMSNorm" || n.op === "LayerNorm").map((n) => n.inputs[0]))];
}

/** weight · mean over states of their MSE; adds its gradients (× scale) into seeds. */
function hiddenLoss(
  names: string[],
  teacher: Map<string, Float32Array>,
  student: Map<string, { data: ArrayLike<number> }>,
  weight: number,
  scale: number,
  seeds: Record<string, Float32Array>,
): number {
  let loss = 0;
  for (const name of names) {
    const t = teacher.get(name)!,
      s = student.get(name)!.data;
    const g = (seeds[name] ??= new Float32Array(s.length));
    const k = weight / names.length / s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i] - t[i];
      loss += k * d * d;
      g[i] += scale * 2 * k * d;
    }
  }
  return loss;
}

function softmax(x: Float32Array, at: number, n: number, tau: number, out: Float64Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[at + i] / tau);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(x[at + i] / tau - max);
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function addRow<K>(rows: Map<K, Float32Array>, id: K, g: Float32Array): void {
  const had = rows.get(id);
  if (!had) rows.set(id, g.slice());
  else for (let i = 0; i < g.length; i++) had[i] += g[i];
}

/** A dense [vocab, dim] gradient's nonzero rows into the per-row map. */
function addRows(rows: Map<number, Float32Array>, dense: Float32Array, dim: number): void {
  for (let t = 0; t < dense.length / dim; t++) {
    const row = dense.subarray(t * dim, (t + 1) * dim);
    if (row.some((x) => x !== 0)) addRow(rows, t, row);
  }
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
  return opts.train === "all" ? Math.min(0.002, opts.learningRate) : opts.learningRate;
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
