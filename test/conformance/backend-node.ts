/**
 * ONNX's backend node test suite (../shared/onnx/backend-node) through seec: each case's model is
 * loaded by the ONNX frontend at its first data set's input shapes (what `seec build --shape`
 * does), compiled for wasm-simd by the build's own compileArtifact, run through the runtime with
 * ONNX Runtime's typed arrays, and compared with the stored outputs.
 *
 * Compiling one artifact per case costs about half a second of AssemblyScript and Binaryen each;
 * the cases are tiny, so the graphs of up to BATCH cases are placed side by side in one IR graph
 * (every tensor and node renamed under the case's prefix) and compiled as one artifact. Each
 * case's nodes read only its own tensors, so the artifact computes every case exactly as its own
 * artifact would (same generated functions, same kernels); a batch that fails to compile or run is
 * redone case by case, so a failure is pinned on its case.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeArtifact } from "../../compiler/artifact.js";
import { build, compileArtifact } from "../../compiler/build.js";
import { lowerOnnx } from "../../compiler/frontends/onnx/index.js";
import { readOnnx, type OnnxModel } from "../../compiler/frontends/onnx/read.js";
import type { OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import type { Graph, Node, Value } from "../../compiler/ir/graph.js";
import { load } from "../../runtime/index.js";
import type { Feeds, Model, Outputs } from "../../runtime/model.js";
import { SeecError } from "../../runtime/errors.js";
import { readCaseData } from "../helpers/backend-node-data.js";
import { arrayFor, feed, halfStep } from "../helpers/onnx.js";

/**
 * - pass: built, and every output within 1e-4 absolute or 1e-3 relative of the stored one;
 * - refused: the frontend refused the model with a SeecError that is not internal (before compiling);
 * - wrong: built and ran, but an output differs (or has the wrong type or length);
 * - error: an internal SeecError, any other exception, or a failure after the frontend accepted it.
 */
export type Status = "pass" | "refused" | "wrong" | "error";

export interface CaseResult {
  name: string;
  family: string;
  status: Status;
  /** The SeecError code (refused, error) or the first mismatch (wrong). */
  detail?: string;
  /**
   * A case refused because it feeds values that decide shapes at run time, run again with those
   * inputs as constants (as an exporter writes them): how that went, and its detail. The case
   * still counts as refused.
   */
  frozen?: Status;
  frozenDetail?: string;
}

interface Prepared {
  name: string;
  family: string;
  graph: Graph;
  inputs: { name: string; tensor: OnnxTensor }[];
  outputs: { name: string; want: OnnxTensor }[];
  halfGraph: boolean;
  /** Set when the graph is the case's with its shape-deciding inputs made constants: the refusal. */
  refusal?: string;
}

/** Cases compiled into one artifact. */
const BATCH = 48;

export async function listCases(root: string): Promise<string[]> {
  return (await readdir(root, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && existsSync(join(root, e.name, "model.onnx")))
    .map((e) => e.name)
    .sort();
}

/** test_reduce_sum_keepdims_expanded → reduce_sum_keepdims. */
const stem = (name: string) => name.replace(/^test_/, "").replace(/_expanded$/, "");
/** Ops the suite names by an abbreviation, or only in expanded form. */
const ALIASES: Readonly<Record<string, string>> = {
  nllloss: "NegativeLogLikelihoodLoss",
  sce: "SoftmaxCrossEntropyLoss",
  mvn: "MeanVarianceNormalization",
  celu: "Celu",
  triu: "Trilu",
  tril: "Trilu",
  training: "Dropout",
  strnormalizer: "StringNormalizer",
  instancenorm: "InstanceNormalization",
};
const flat = (s: string) => s.toLowerCase().replace(/_/g, "");

/**
 * Each case's op family: the op its name starts with, among the op types of the suite's one-op
 * models (test_reduce_sum_* → ReduceSum, test_softmax_axis_0_expanded → Softmax), or an alias
 * (test_sce_* → SoftmaxCrossEntropyLoss).
 */
export function families(models: ReadonlyMap<string, OnnxModel>): Map<string, string> {
  const known = new Set<string>();
  for (const m of models.values()) if (new Set(m.nodes.map((n) => n.op)).size === 1) known.add(m.nodes[0].op);
  const ops = [...known].sort((a, b) => b.length - a.length);
  const out = new Map<string, string>();
  for (const name of models.keys()) {
    const key = flat(stem(name));
    const first = stem(name).split("_")[0];
    out.set(name, ALIASES[first] ?? ops.find((op) => key.startsWith(flat(op))) ?? first);
  }
  return out;
}

const isCode = (e: unknown): e is SeecError => e instanceof SeecError;
const describe = (e: unknown) => (isCode(e) ? `${e.code}: ${e.message}` : `${(e as Error)?.name}: ${(e as Error)?.message ?? e}`);

/** Reads a case and runs seec's frontend on it: a Prepared case, or its result when the frontend refuses or breaks. */
async function prepare(root: string, name: string, model: OnnxModel, family: string): Promise<Prepared | CaseResult> {
  // Sequences, optionals and maps are not tensors: seec refuses such models (checked below).
  const { inputs, wants } = (await readCaseData(join(root, name), model)) ?? {};
  /** The case lowered from m, which reads `fed` as inputs (the rest of the case's inputs are constants in m). */
  const lowered = (m: OnnxModel, fed: Prepared["inputs"], refusal?: string): Prepared => ({
    name,
    family,
    graph: lowerOnnx(m, name, Object.fromEntries(fed.map((i) => [i.name, i.tensor.shape]))).graph,
    halfGraph: [...m.initializers.values(), ...fed.map((i) => i.tensor)].some((t) => t.dtype === "float16"),
    inputs: fed,
    outputs: model.outputs.map((o, k) => ({ name: o.name, want: wants![k] })),
    ...(refusal ? { refusal } : {}),
  });
  const fed = inputs && model.inputs.map((input, k) => ({ name: input.name, tensor: inputs![k] }));
  try {
    if (!fed || !wants) {
      lowerOnnx(model, name, {});
      return { name, family, status: "error", detail: "seec built a model whose test data is not tensors" };
    }
    return lowered(model, fed);
  } catch (e) {
    if (!isCode(e) || e.code.startsWith("internal.")) return { name, family, status: "error", detail: `frontend: ${describe(e)}` };
    const refused: CaseResult = { name, family, status: "refused", detail: describe(e) };
    const runTime = RUN_TIME_VALUES.exec(e.message);
    if (!runTime || !fed || !wants) return refused;
    // Those inputs as constants with the case's values, as an exporter writes them.
    const fixed = [...runTime[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    if (!fixed.every((f) => fed.some((i) => i.name === f))) return refused;
    const frozenModel: OnnxModel = {
      ...model,
      inputs: model.inputs.filter((i) => !fixed.includes(i.name)),
      initializers: new Map([...model.initializers, ...fed.filter((i) => fixed.includes(i.name)).map((i) => [i.name, i.tensor] as const)]),
    };
    try {
      return lowered(
        frozenModel,
        fed.filter((i) => !fixed.includes(i.name)),
        refused.detail,
      );
    } catch (e2) {
      const status: Status = isCode(e2) && !e2.code.startsWith("internal.") ? "refused" : "error";
      return { ...refused, frozen: status, frozenDetail: describe(e2) };
    }
  }
}

/** A refusal for inputs whose values decide shapes: `Op reads "a", "b" at run time`. */
const RUN_TIME_VALUES = /reads ((?:"[^"]+"(?:, )?)+) at run time/;

/** A prepared case's result: its own, or (a case run with its shape-deciding inputs fixed) a refusal with how that run went. */
function resultOf(c: Prepared, status: Status, detail?: string): CaseResult {
  if (c.refusal)
    return {
      name: c.name,
      family: c.family,
      status: "refused",
      detail: c.refusal,
      frozen: status,
      ...(detail ? { frozenDetail: detail } : {}),
    };
  return { name: c.name, family: c.family, status, ...(detail ? { detail } : {}) };
}

/** The graphs side by side, case k's tensors and nodes renamed `c<k>/<name>`. */
function merge(cases: readonly Prepared[]): Graph {
  const values = new Map<string, Value>();
  const nodes: Node[] = [];
  const inputs: string[] = [],
    outputs: string[] = [];
  cases.forEach((c, k) => {
    const p = (n: string) => `c${k}/${n}`;
    for (const [n, v] of c.graph.values) values.set(p(n), { ...v, name: p(n) });
    for (const n of c.graph.nodes) nodes.push({ ...n, name: p(n.name), inputs: n.inputs.map(p), outputs: n.outputs.map(p) });
    inputs.push(...c.graph.inputs.map(p));
    outputs.push(...c.graph.outputs.map(p));
  });
  return { name: "backend-node", values, nodes, inputs, outputs, dims: {}, model: { family: "graph", config: {} } };
}

async function compileAndLoad(graph: Graph, root: string): Promise<Model> {
  const artifact = await compileArtifact({ graph, format: "graph" }, { target: "wasm-simd" });
  const dir = join(root, `artifact-${Math.random().toString(36).slice(2)}`);
  await writeArtifact(dir, artifact.files);
  try {
    return (await load(dir, { webgpu: false })) as Model;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first way case k's outputs differ from the stored ones, or undefined when they agree. */
function mismatch(c: Prepared, model: Model, results: Outputs, prefix: string): string | undefined {
  for (const { name, want } of c.outputs) {
    const got = results[prefix + name];
    if (!got) return `${name}: no output`;
    const shape = model.manifest.outputs.find((o) => o.name === prefix + name)?.shape ?? [];
    if (shape.join() !== want.shape.join()) return `${name}: shape [${shape.join(", ")}], want [${want.shape.join(", ")}]`;
    const type = arrayFor(want.dtype);
    if (!(got instanceof type)) return `${name}: ${got.constructor.name} where ONNX Runtime gives a ${type.name}`;
    if (got.length !== want.data.length) return `${name}: ${got.length} elements, want ${want.data.length}`;
    const step = c.halfGraph ? halfStep(Array.from(want.data).reduce((m, x) => Math.max(m, Math.abs(x)), 0)) : 0;
    for (let i = 0; i < want.data.length; i++) {
      const g = Number(got[i]),
        w = want.data[i];
      if (Number.isNaN(w) ? Number.isNaN(g) : g === w) continue;
      const d = Math.abs(g - w);
      if (!(d <= 1e-4 || d <= 1e-3 * Math.abs(w) || d <= step)) return `${name}[${i}]: ${g}, want ${w}`;
    }
  }
  return undefined;
}

function feedsOf(c: Prepared, prefix: string): Feeds {
  return Object.fromEntries(c.inputs.map(({ name, tensor }) => [prefix + name, feed(tensor)]));
}

/** Compiles and runs the cases as one artifact; undefined when that fails (the caller redoes them one by one). */
async function runBatch(cases: readonly Prepared[], root: string): Promise<CaseResult[] | undefined> {
  try {
    const model = await compileAndLoad(merge(cases), root);
    const feeds = Object.assign({}, ...cases.map((c, k) => feedsOf(c, `c${k}/`))) as Feeds;
    const results = await model.run(feeds);
    const done = cases.map((c, k): CaseResult => {
      const wrong = mismatch(c, model, results, `c${k}/`);
      return resultOf(c, wrong ? "wrong" : "pass", wrong);
    });
    model.dispose();
    return done;
  } catch {
    return undefined;
  }
}

async function runOne(c: Prepared, root: string): Promise<CaseResult> {
  const batch = await runBatch([c], root);
  if (batch) return batch[0];
  try {
    const model = await compileAndLoad(merge([c]), root);
    await model.run(feedsOf(c, "c0/"));
    return resultOf(c, "error", "failed only when batched");
  } catch (e) {
    return resultOf(c, "error", `build or run: ${describe(e)}`);
  }
}

/** Every case of the suite under `root`, run through seec. */
export async function runSuite(root: string, only?: (name: string) => boolean): Promise<CaseResult[]> {
  const names = (await listCases(root)).filter((n) => !only || only(n));
  const models = new Map<string, OnnxModel>();
  const results: CaseResult[] = [];
  for (const name of names) {
    try {
      models.set(name, await readOnnx(join(root, name, "model.onnx")));
    } catch (e) {
      results.push({
        name,
        family: "?",
        status: isCode(e) && !e.code.startsWith("internal.") ? "refused" : "error",
        detail: `read: ${describe(e)}`,
      });
    }
  }
  const family = families(models);
  const built: Prepared[] = [];
  for (const [name, model] of models) {
    const p = await prepare(root, name, model, family.get(name)!);
    if ("graph" in p) built.push(p);
    else results.push(p);
  }
  const work = await mkdtemp(join(tmpdir(), "seec-conformance-"));
  try {
    for (let i = 0; i < built.length; i += BATCH) {
      const batch = built.slice(i, i + BATCH);
      const done = await runBatch(batch, work);
      if (done) results.push(...done);
      else for (const c of batch) results.push(await runOne(c, work));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return results.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * One case as `seec build` builds it: its own artifact, through build() (read, load, compile,
 * write), run and compared like the batched ones. A check that batching changes nothing.
 */
export async function runAlone(root: string, name: string): Promise<CaseResult> {
  const model = await readOnnx(join(root, name, "model.onnx"));
  const c = await prepare(root, name, model, "?");
  if (!("graph" in c)) return c;
  const work = await mkdtemp(join(tmpdir(), "seec-conformance-"));
  try {
    const out = join(work, "artifact");
    const shapes = Object.fromEntries(c.inputs.map(({ name, tensor }) => [name, tensor.shape]));
    await build({ model: join(root, name, "model.onnx"), target: "wasm-simd", out, shapes });
    const artifact = await load(out, { webgpu: false });
    const wrong = mismatch(c, artifact, await artifact.run(feedsOf(c, "")), "");
    return { name, family: c.family, status: wrong ? "wrong" : "pass", ...(wrong ? { detail: wrong } : {}) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface Summary {
  total: number;
  counts: Record<Status, number>;
  /** Cases refused for values fed at run time that decide shapes, run with those values fixed: how each went. */
  frozen: Record<Status, number>;
  families: Record<string, { cases: number; pass: number; refused: number; wrong: number; error: number }>;
}

export function summarize(results: readonly CaseResult[]): Summary {
  const counts: Record<Status, number> = { pass: 0, refused: 0, wrong: 0, error: 0 };
  const frozen: Record<Status, number> = { pass: 0, refused: 0, wrong: 0, error: 0 };
  const families: Summary["families"] = {};
  for (const r of results) {
    counts[r.status]++;
    if (r.frozen) frozen[r.frozen]++;
    const f = (families[r.family] ??= { cases: 0, pass: 0, refused: 0, wrong: 0, error: 0 });
    f.cases++;
    f[r.status]++;
  }
  return { total: results.length, counts, frozen, families };
}
