/** The shared ONNX graphs (../shared/onnx), and how tests feed them and compare with ONNX Runtime. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { build } from "../../compiler/build.js";
import { readOnnx, readTensorFile } from "../../compiler/frontends/onnx/read.js";
import type { OnnxDType, OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import type { Feeds, Outputs } from "../../runtime/model.js";
import { ELEMENT_ARRAYS, type TensorData } from "../../runtime/tensor.js";
import type { TargetName } from "../../targets/registry.js";
import { tmpDir } from "./compile.js";

/**
 * Every folder under root holding a model.onnx, relative to root: the graphs of real exporters and
 * the node tests they use. Not backend-node/, ONNX's whole conformance suite (every operator of
 * ONNX 1.12, most of which no transformer uses): which of its cases seec claims is issue 24's.
 */
export function graphDirs(root: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (existsSync(join(d, "model.onnx"))) found.push(d.slice(root.length + 1));
    for (const e of readdirSync(d)) if (statSync(join(d, e)).isDirectory() && !(d === root && e === "backend-node")) walk(join(d, e));
  };
  walk(root);
  return found.sort();
}

/** float16's spacing at x's magnitude. */
export const halfStep = (x: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x) || 2 ** -14)), -14) - 10);

/** The typed array a caller exchanges for an ONNX tensor of this element type, as ONNX Runtime's API takes it (the runtime's table). */
export function arrayFor(dtype: OnnxDType): new (n: number) => TensorData {
  return dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : ELEMENT_ARRAYS[dtype];
}

/** What a caller feeds for an ONNX tensor: BigInt64Array for int64, Uint8Array for bool, Float32Array for float16 ... */
export function feed(t: OnnxTensor): Feeds[string] {
  const out = new (arrayFor(t.dtype))(t.data.length);
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  t.data.forEach((x, i) => (out[i] = big ? BigInt(x) : x));
  return out;
}

/**
 * Largest |got − want|, failing where it exceeds 1e-4 and 1e-3 |want|. In a graph that computes in
 * float16 (ONNX Runtime rounds those steps to half; seec computes them in float32) an output may
 * also be off by one float16 step at its largest magnitude.
 */
export function deviation(got: ArrayLike<number | bigint>, want: readonly number[], halfGraph: boolean, what: string): number {
  expect(got.length, what).toBe(want.length);
  const step = halfGraph ? halfStep(want.reduce((m, x) => Math.max(m, Math.abs(x)), 0)) : 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(Number(got[i]) - want[i]);
    if (!(d <= 1e-4 || d <= 1e-3 * Math.abs(want[i]) || d <= step)) expect.fail(`${what}[${i}]: ${got[i]} vs ONNX Runtime's ${want[i]}`);
    worst = Math.max(worst, d);
  }
  return worst;
}

/**
 * Builds the graph in `dir` (under root) for `target` with its stored inputs' shapes, runs those
 * inputs through the artifact (`run` loads it), and compares every output with the stored one:
 * the largest deviation.
 */
export async function deviationFromStored(
  root: string,
  dir: string,
  target: TargetName,
  run: (artifact: string, feeds: Feeds) => Promise<Outputs>,
): Promise<number> {
  const file = join(root, dir, "model.onnx");
  const model = await readOnnx(file);
  const data = join(root, dir, "test_data_set_0");
  const inputs = await Promise.all(model.inputs.map((_, k) => readTensorFile(join(data, `input_${k}.pb`))));
  const out = join(await tmpDir(), "artifact");
  await build({ model: file, target, out, shapes: Object.fromEntries(model.inputs.map((input, k) => [input.name, inputs[k].shape])) });
  const results = await run(out, Object.fromEntries(model.inputs.map((input, k) => [input.name, feed(inputs[k])])));
  const halfGraph = [...model.initializers.values(), ...inputs].some((t) => t.dtype === "float16");
  let worst = 0;
  for (const [k, o] of model.outputs.entries()) {
    const want = await readTensorFile(join(data, `output_${k}.pb`));
    worst = Math.max(worst, deviation(results[o.name] as ArrayLike<number | bigint>, Array.from(want.data), halfGraph, o.name));
    if (want.dtype === "int64") expect(results[o.name]).toBeInstanceOf(BigInt64Array);
  }
  return worst;
}

/**
 * ONNX Runtime's outputs for a model's bytes and float32 feeds, its own graph optimizations off
 * (they fuse decomposed patterns too, and get some near misses wrong): the graph as written, node by node.
 */
export async function ortAsWritten(model: Uint8Array, feeds: ReadonlyMap<string, OnnxTensor>) {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
    graphOptimizationLevel: "disabled",
  });
  return session.run(Object.fromEntries([...feeds].map(([k, t]) => [k, new ort.Tensor("float32", Float32Array.from(t.data), t.shape)])));
}
