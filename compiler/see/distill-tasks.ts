/**
 * What SEE stage 2 computes on a share of a batch — all of it, or one worker thread's part
 * (distill-threads.ts): the student and teacher run forward, the losses, and the student's backward
 * pass to the embedding rows it read and the model weights that train.
 */
import { SeecError } from "../../runtime/errors.js";
import { backward, forward, type Tape } from "../ir/autodiff.js";
import type { Attrs, Graph, Node } from "../ir/graph.js";
import { Interpreter } from "../ir/interpreter.js";
import type { OpDef, Tensor } from "../ir/ops/index.js";
import { attentionOnKernels } from "../ir/ops/attention.js";
import { Linear, linearOperands } from "../ir/ops/linear.js";
import type { TrainingKernels } from "../../targets/wasm/train-kernels.js";
import { joinRows, Packing, unpackable } from "./packing.js";

/** One training example: a sequence's (decoder) or a sentence's (encoder) token ids. */
export type Example = Int32Array;

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
  /**
   * Both: an anchor on the rows a step reads, |e(t) − E[t]|² / |E[t]|² averaged over them: keeps the
   * rebuilt rows near the teacher's so that rows the data trains rarely do not drift with the factors
   * they share. Off (0) when absent.
   */
  anchor?: number;
}

export const DEFAULT_LOSS: LossWeights = { kl: 1, ce: 0.1, hidden: 0, cosine: 1, mse: 1, similarity: 1 };

/** What the tasks read of distill's options. */
export interface TaskOptions {
  loss: LossWeights;
  /** Decoder: temperature of the KL's distributions. */
  temperature: number;
  /** Faster Linear and attention (the wasm SIMD kernels); the interpreter's own where absent. */
  kernels?: TrainingKernels;
}

/** A step's gradient by embedding row, and by trained model weight. */
export interface Gradients {
  dTable: Map<number, Float32Array>;
  dWeights: Map<string, Float32Array>;
}

/**
 * What one kind of model computes on a share of a batch (all of it, or one thread's part), in two
 * halves: an encoder's loss couples the batch's sentences, so its backward half waits for the
 * gradients of that loss with respect to every sentence's output.
 */
export interface Task {
  /**
   * Runs the share forward (its loss's terms divided by B, the whole batch's size): a decoder's
   * whole loss; an encoder's hidden-state term, with each sentence's embedding and the teacher's.
   */
  begin(share: Example[], B: number, train: boolean): ShareForward;
  /** The share's gradients (after begin with train), an encoder's given the gradients of its outputs. */
  finish(outputGrads?: Float32Array[]): Gradients;
}

export interface ShareForward {
  loss: number;
  /** An encoder's sentence embeddings, the student's and the teacher's, for the batch's loss. */
  outputs?: { student: Float32Array[]; teacher: Float32Array[] };
}

/** Runs a batch of examples (by index) and gives its loss and gradients: on this thread, or on workers. */
export interface Runner {
  loss(batch: number[]): Promise<number>;
  step(batch: number[]): Promise<{ loss: number } & Gradients>;
  /** The weights that train changed in place (an update): the kernels' copies of them are stale. */
  changed(): void;
  close(): Promise<void>;
}

/** The runner on this thread: one share, the whole batch; `stale` refreshes the kernels' copies of the trained weights. */
export function localRunner(examples: Example[], task: Task, refresh: (batch: Example[]) => void, weights: LossWeights, stale: () => void) {
  const run = (ids: number[], train: boolean) => {
    const batch = ids.map((i) => examples[i]);
    refresh(batch);
    const ahead = task.begin(batch, batch.length, train);
    const whole = ahead.outputs && encoderLoss(ahead.outputs.student, ahead.outputs.teacher, weights);
    const loss = ahead.loss + (whole?.loss ?? 0);
    return train ? { loss, ...task.finish(whole?.grads) } : { loss };
  };
  return {
    run,
    loss: async (ids: number[]) => run(ids, false).loss,
    step: async (ids: number[]) => run(ids, true) as { loss: number } & Gradients,
    changed: stale,
    close: async () => {},
  };
}

/**
 * A decoder: each example is a sequence from position 0; the student and teacher see it whole, and
 * every position but the last is scored against the next token.
 */
export class DecoderTask implements Task {
  private readonly teacher: TeacherCache;
  private readonly student: Interpreter;
  private readonly output: string;
  private readonly hidden: string[];
  private readonly dim: number;
  private pending?: Gradients;

  constructor(
    teacherGraph: Graph,
    studentGraph: Graph,
    private readonly embedding: string,
    private readonly trained: string[],
    private readonly opts: TaskOptions,
  ) {
    this.output = teacherGraph.outputs[0];
    this.hidden = opts.loss.hidden > 0 ? hiddenStates(teacherGraph) : [];
    this.teacher = new TeacherCache(new Interpreter(teacherGraph, fastOps(opts.kernels)), [this.output, ...this.hidden]);
    this.student = new Interpreter(studentGraph, fastOps(opts.kernels));
    this.dim = teacherGraph.values.get(embedding)!.shape[1] as number;
  }

  begin(share: Example[], B: number, train: boolean): ShareForward {
    const dTable = new Map<number, Float32Array>(),
      dWeights = new Map<string, Float32Array>();
    let loss = 0;
    for (const e of share) {
      const r = this.run(e, train, 1 / B);
      loss += r.loss / B;
      if (!r.grads) continue;
      addRows(dTable, r.grads.get(this.embedding)!, this.dim);
      for (const n of this.trained) addRow(dWeights, n, r.grads.get(n)!);
    }
    this.pending = train ? { dTable, dWeights } : undefined;
    return { loss };
  }

  finish(): Gradients {
    const g = this.pending!;
    this.pending = undefined;
    return g;
  }

  private run(tokens: Example, train: boolean, scale: number) {
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
 * embeddings of the batch (encoderLoss), so the share's backward pass waits for the whole batch's
 * forward. A share's sentences run packed, in one pass (packing.ts).
 */
export class EncoderTask implements Task {
  private readonly teacher: TeacherCache;
  private readonly student: Interpreter;
  private readonly input: string;
  private readonly output: string;
  private readonly gather: Node;
  private readonly hidden: string[];
  private readonly packing = new Packing();
  private pending?: { ids: Int32Array; tape: Tape; seeds: Record<string, Float32Array> };

  constructor(
    teacherGraph: Graph,
    studentGraph: Graph,
    embedding: string,
    private readonly trained: string[],
    private readonly opts: TaskOptions,
  ) {
    // A batch's forward passes all run before its backward ones: only sound without state (a KV cache).
    if ([...teacherGraph.values.values()].some((v) => v.kind === "state"))
      throw new SeecError(
        "unsupported.distill",
        `${teacherGraph.name} keeps state between calls; an encoder is distilled one call per sentence`,
      );
    const mixing = unpackable(teacherGraph);
    if (mixing)
      throw new SeecError(
        "unsupported.distill",
        `${teacherGraph.name} has a ${mixing} op, which a pass over several sentences end to end (packing.ts) would let mix them`,
      );
    this.input = teacherGraph.inputs[0];
    this.output = teacherGraph.outputs[0];
    this.gather = teacherGraph.nodes.find((n) => n.op === "Gather" && n.inputs[0] === embedding)!;
    this.hidden = opts.loss.hidden > 0 ? hiddenStates(teacherGraph) : [];
    const teacherPacking = new Packing();
    this.teacher = new TeacherCache(
      new Interpreter(teacherGraph, teacherPacking.ops(fastOps(opts.kernels))),
      [this.output, ...this.hidden],
      {
        input: this.input,
        packing: teacherPacking,
      },
    );
    this.student = new Interpreter(studentGraph, this.packing.ops(fastOps(opts.kernels)));
  }

  begin(share: Example[], B: number, train: boolean): ShareForward {
    const teachers = this.teacher.getAll(share);
    const ids = this.packing.pack(share);
    const tape = forward(this.student, { [this.input]: ids });
    const seeds: Record<string, Float32Array> = {};
    let loss = 0;
    const { hidden } = this.opts.loss;
    if (hidden > 0) {
      // Each sentence's term on its rows of the packed states, as when it ran alone.
      const states = this.hidden.map((n) => this.packing.splitTensor(tape.env.get(n)!));
      const grads = this.hidden.map((n) => {
        const t = tape.env.get(n)!;
        return this.packing.splitTensor({ shape: t.shape, data: (seeds[n] = new Float32Array(t.data.length)) });
      });
      share.forEach((_, i) => {
        const student = new Map(this.hidden.map((n, k) => [n, { data: states[k][i] }]));
        const into = Object.fromEntries(this.hidden.map((n, k) => [n, grads[k][i]]));
        loss += hiddenLoss(this.hidden, teachers[i], student, hidden, 1 / B, into) / B;
      });
    }
    this.pending = train ? { ids, tape, seeds } : undefined;
    return {
      loss,
      outputs: {
        student: this.packing.splitTensor(tape.env.get(this.output)!),
        teacher: teachers.map((t) => t.get(this.output)!),
      },
    };
  }

  /** Backwards to the looked-up rows (not the whole table), then onto the ids they came from. */
  finish(outputGrads: Float32Array[]): Gradients {
    const { ids, tape, seeds } = this.pending!;
    this.pending = undefined;
    const rowsOut = this.gather.outputs[0];
    const dTable = new Map<number, Float32Array>(),
      dWeights = new Map<string, Float32Array>();
    const dOutput = joinRows(outputGrads),
      out = seeds[this.output];
    if (out) for (let d = 0; d < out.length; d++) out[d] += dOutput[d];
    else seeds[this.output] = dOutput;
    const grads = backward(tape, seeds, [rowsOut, ...this.trained]);
    const dRows = grads.get(rowsOut)!,
      dim = dRows.length / ids.length;
    ids.forEach((id, r) => addRow(dTable, id, dRows.subarray(r * dim, (r + 1) * dim)));
    for (const n of this.trained) addRow(dWeights, n, grads.get(n)!);
    return { dTable, dWeights };
  }
}

/**
 * An encoder batch's loss on its sentence embeddings (student s_i, teacher t_i), and its gradient
 * with respect to each s_i: mean over the batch of cosine·(1 − cos) + mse·|s − t|², plus
 * similarity · Σ_ij (s_i·s_j − t_i·t_j)² / B².
 */
export function encoderLoss(sv: Float32Array[], tv: Float32Array[], w: LossWeights): { loss: number; grads: Float32Array[] } {
  const B = sv.length,
    D = tv[0].length;
  const { cosine, mse, similarity } = w;
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
  return { loss, grads };
}

/** The teacher's tensors that the losses read, computed once per example: the teacher never changes. */
class TeacherCache {
  private readonly kept = new Map<Example, Map<string, Float32Array>>();

  constructor(
    private readonly interpreter: Interpreter,
    private readonly names: string[],
    /** An encoder's: the graph's input, and the packing its interpreter's ops run with. */
    private readonly packed?: { input: string; packing: Packing },
  ) {}

  /** An encoder's examples, those not yet seen run packed in one pass. */
  getAll(examples: Example[]): Map<string, Float32Array>[] {
    const { input, packing } = this.packed!;
    const missing = [...new Set(examples.filter((e) => !this.kept.has(e)))];
    if (missing.length) {
      const { env } = forward(this.interpreter, { [input]: packing.pack(missing) });
      const parts = this.names.map((n) => packing.splitTensor(env.get(n)!));
      missing.forEach((e, i) => this.kept.set(e, new Map(this.names.map((n, k) => [n, parts[k][i]]))));
    }
    return examples.map((e) => this.kept.get(e)!);
  }

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

/**
 * Attention on the given kernels, and Linear where it is a plain matmul with weights as written
 * (what the frontends emit); any other Linear as the registry defines it.
 */
export function fastOps(kernels: TrainingKernels | undefined): Partial<Record<string, OpDef>> {
  if (!kernels) return {};
  const plain = (inputs: readonly Tensor[], attrs: Attrs) => {
    const o = linearOperands("Linear", inputs, attrs);
    return o.layout === "nk" && !o.activation && !o.residual && o.w.data instanceof Float32Array ? o : undefined;
  };
  return {
    ...attentionOnKernels(kernels),
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

export function softmax(x: Float32Array, at: number, n: number, tau: number, out: Float64Array): Float64Array {
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

export function addRow<K>(rows: Map<K, Float32Array>, id: K, g: Float32Array): void {
  const had = rows.get(id);
  if (!had) rows.set(id, g.slice());
  else for (let i = 0; i < g.length; i++) had[i] += g[i];
}

/** A dense [vocab, dim] gradient's nonzero rows into the per-row map. */
export function addRows(rows: Map<number, Float32Array>, dense: Float32Array, dim: number): void {
  for (let t = 0; t < dense.length / dim; t++) {
    const row = dense.subarray(t * dim, (t + 1) * dim);
    if (row.some((x) => x !== 0)) addRow(rows, t, row);
  }
}
