// ONNX's backend node test suite (../shared/onnx/backend-node, 744 one-op models with ONNX's own
// reference outputs) lowered to IR by the ONNX frontend and run by the IR's reference interpreter,
// in-process: every lowering (lower-ops.ts, layout-ops.ts, lower-indexing.ts, lower-einsum.ts,
// lower-resize.ts, lower-spatial.ts, lower-fused.ts, fuse.ts) against ONNX's numbers in about two
// seconds, without compiling wasm. test/conformance/backend-node.test.ts builds the same cases to
// wasm (minutes); this one is what mutation testing of the lowerings runs (docs/MUTATION.md).
//
// Every case either matches the stored outputs, or is listed in REFUSED and refused with the
// SeecError listed there (a listed case that comes to pass is fine: seec learnt an op). A case
// refused because it feeds values that decide shapes (Reshape's shape, Slice's starts …) is run
// again with those inputs made constants, as exporters write them, and must then match.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateOnnx } from "../../compiler/frontends/onnx/evaluate.js";
import { lowerOnnx } from "../../compiler/frontends/onnx/index.js";
import { readOnnx, type OnnxModel } from "../../compiler/frontends/onnx/read.js";
import type { OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";
import { SeecError } from "../../runtime/errors.js";
import { readCaseData } from "../helpers/backend-node-data.js";
import { sharedPath } from "../helpers/shared.js";

const ROOT = sharedPath("onnx/backend-node");

/**
 * Cases seec refuses, by name without `test_`: "op <domain>:<Op>" for an op checkOps refuses (any
 * unsupported.* refusal will do: support.ts has tests of its own, and other work may change which
 * op a case stops at), else the start of `<code>: <message>`, which the lowerings write. The 30 cases whose data are sequences,
 * optionals or strings (not tensors) are refused too, and are not listed: their models must be
 * refused with an unsupported.* code.
 */
const REFUSED: Readonly<Record<string, string>> = {
  adagrad: "op ai.onnx.preview.training:Adagrad",
  adam: "op ai.onnx.preview.training:Adam",
  bernoulli: "op ai.onnx:Bernoulli",
  bernoulli_double: "op ai.onnx:Bernoulli",
  bernoulli_double_expanded: "op ai.onnx:RandomUniformLike",
  bernoulli_expanded: "op ai.onnx:RandomUniformLike",
  bernoulli_seed: "op ai.onnx:Bernoulli",
  bernoulli_seed_expanded: "op ai.onnx:RandomUniformLike",
  blackmanwindow_expanded: 'unsupported.onnx_op: Range reads "BlackmanWindow_test_blackmanwindow_expanded_function_Periodic_Size_FP" at ru',
  blackmanwindow_symmetric_expanded:
    'unsupported.onnx_op: Range reads "BlackmanWindow_test_blackmanwindow_symmetric_expanded_function_Periodic_Size',
  compress_0: "op ai.onnx:Compress",
  compress_1: "op ai.onnx:Compress",
  compress_default_axis: "op ai.onnx:Compress",
  compress_negative_axis: "op ai.onnx:Compress",
  gathernd_example_int32: "unsupported.onnx_op: gathering from an integer tensor at indices computed at run time is not supported",
  gathernd_example_int32_batch_dim1:
    "unsupported.onnx_op: gathering from an integer tensor at indices computed at run time is not supported",
  hammingwindow_symmetric_expanded:
    'unsupported.onnx_op: Range reads "HammingWindow_test_hammingwindow_symmetric_expanded_function_Periodic_Size_F',
  hannwindow_expanded: 'unsupported.onnx_op: Range reads "HannWindow_test_hannwindow_expanded_function_Periodic_Size_FP" at run time',
  hannwindow_symmetric_expanded:
    'unsupported.onnx_op: Range reads "HannWindow_test_hannwindow_symmetric_expanded_function_Periodic_Size_FP" at ',
  if: "op ai.onnx:If",
  loop11: "op ai.onnx:Loop",
  momentum: "op ai.onnx.preview.training:Momentum",
  momentum_multiple: "op ai.onnx.preview.training:Momentum",
  nesterov_momentum: "op ai.onnx.preview.training:Momentum",
  nonmaxsuppression_center_point_box_format: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_flipped_coordinates: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_identical_boxes: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_limit_output_size: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_single_box: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_suppress_by_IOU: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_two_batches: "op ai.onnx:NonMaxSuppression",
  nonmaxsuppression_two_classes: "op ai.onnx:NonMaxSuppression",
  nonzero_example: "op ai.onnx:NonZero",
  range_float_type_positive_delta_expanded: "op ai.onnx:Loop",
  range_int32_type_negative_delta_expanded: "op ai.onnx:Loop",
  roialign_aligned_true: "op ai.onnx:RoiAlign",
  scan9_sum: "op ai.onnx:Scan",
  scan_sum: "op ai.onnx:Scan",
  tfidfvectorizer_tf_batch_onlybigrams_skip0: "op ai.onnx:TfIdfVectorizer",
  tfidfvectorizer_tf_batch_onlybigrams_skip5: "op ai.onnx:TfIdfVectorizer",
  tfidfvectorizer_tf_batch_uniandbigrams_skip5: "op ai.onnx:TfIdfVectorizer",
  tfidfvectorizer_tf_only_bigrams_skip0: "op ai.onnx:TfIdfVectorizer",
  tfidfvectorizer_tf_onlybigrams_levelempty: "op ai.onnx:TfIdfVectorizer",
  tfidfvectorizer_tf_onlybigrams_skip5: "op ai.onnx:TfIdfVectorizer",
  training_dropout: "unsupported.onnx_op: Dropout in training mode (or with training_mode fed at run time) is not supported",
  training_dropout_default: "unsupported.onnx_op: Dropout in training mode (or with training_mode fed at run time) is not supported",
  training_dropout_default_mask: "unsupported.onnx_op: Dropout in training mode (or with training_mode fed at run time) is not supported",
  training_dropout_mask: "unsupported.onnx_op: Dropout in training mode (or with training_mode fed at run time) is not supported",
  training_dropout_zero_ratio: "unsupported.onnx_op: Dropout in training mode (or with training_mode fed at run time) is not supported",
  unique_not_sorted_without_axis: "op ai.onnx:Unique",
  unique_sorted_with_axis: "op ai.onnx:Unique",
  unique_sorted_with_axis_3d: "op ai.onnx:Unique",
  unique_sorted_with_negative_axis: "op ai.onnx:Unique",
  unique_sorted_without_axis: "op ai.onnx:Unique",
};

/** A refusal naming inputs whose values decide shapes: `Op reads "a", "b" at run time`. */
const RUN_TIME_VALUES = /reads ((?:"[^"]+"(?:, )?)+) at run time/;

/**
 * Tolerance, measured: the interpreter computes in float32 and ONNX's references in numpy. Every
 * case's outputs are within 3.1e-7 (1 + |want|) of them except the losses that sum over many
 * elements (SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss over N×C×d1…d5: 1.03e-5) and
 * the windows, whose expected values ONNX 1.12 computed with π written as 3.1415 (up to 6.2e-5
 * off the true windows at 10 points, which seec and ONNX Runtime compute), and GridSample's, which
 * its test writes to four decimals (bicubic's −0.140625 stored as −0.1406).
 */
const tolerance = (name: string) => (/^test_(sce|nllloss)_/.test(name) ? 4e-5 : /^test_(\w+window|gridsample)/.test(name) ? 1e-4 : 1e-6);

const cases = ROOT
  ? readdirSync(ROOT)
      .filter((n) => existsSync(join(ROOT, n, "model.onnx")))
      .sort()
  : [];

/** A case's model and its first data set, when the data are tensors. */
async function read(name: string): Promise<{ model: OnnxModel; inputs?: OnnxTensor[]; wants?: OnnxTensor[] }> {
  const dir = join(ROOT!, name);
  const model = await readOnnx(join(dir, "model.onnx"));
  return { model, ...(await readCaseData(dir, model)) };
}

/** The outputs seec computes for the case: directly, or with the inputs a refusal names made constants. */
function evaluate(model: OnnxModel, feeds: Map<string, OnnxTensor>): { outputs: Map<string, OnnxTensor>; frozen: string[] } {
  try {
    return { outputs: evaluateOnnx(model, feeds), frozen: [] };
  } catch (e) {
    const runTime = e instanceof SeecError ? RUN_TIME_VALUES.exec(e.message) : null;
    const fixed = runTime ? [...runTime[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [];
    if (!runTime || !fixed.every((f) => feeds.has(f))) throw e;
    const frozen: OnnxModel = {
      ...model,
      inputs: model.inputs.filter((i) => !fixed.includes(i.name)),
      initializers: new Map([...model.initializers, ...fixed.map((f) => [f, feeds.get(f)!] as const)]),
    };
    const rest = new Map([...feeds].filter(([n]) => !fixed.includes(n)));
    return { outputs: evaluateOnnx(frozen, rest), frozen: fixed };
  }
}

/** The first element where got differs from want by more than tol (1 + |want|), or undefined. */
function mismatch(got: OnnxTensor, want: OnnxTensor, tol: number): string | undefined {
  if (got.shape.join() !== want.shape.join()) return `shape [${got.shape.join(", ")}], want [${want.shape.join(", ")}]`;
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i],
      w = want.data[i];
    if (Number.isNaN(w) ? Number.isNaN(g) : g === w || Math.abs(g - w) <= tol * (1 + Math.abs(w))) continue;
    return `[${i}]: ${g}, want ${w}`;
  }
  return undefined;
}

const describeError = (e: unknown) => (e instanceof SeecError ? `${e.code}: ${e.message}` : String(e));

/** The cases of two inputs or more that seec runs (none listed in REFUSED), whose data are tensors. */
const withConstants = (
  await Promise.all(
    cases.map(async (name) => {
      const { inputs } = await read(name);
      return inputs && inputs.length > 1 && REFUSED[name.slice("test_".length)] === undefined ? [name] : [];
    }),
  )
).flat();

describe.skipIf(!ROOT)("ONNX backend node tests lowered to IR and run by the interpreter (../shared/onnx/backend-node)", () => {
  it("finds the suite's 744 cases", () => expect(cases).toHaveLength(744));
  it("finds 393 of them with two inputs or more, run again with all but the first as constants", () =>
    expect(withConstants).toHaveLength(393));

  it.each(cases)("%s", async (name) => {
    const { model, inputs, wants } = await read(name);
    const refusal = REFUSED[name.slice("test_".length)];
    if (!inputs || !wants)
      // Sequences, optionals and strings: seec refuses the model whatever the shapes.
      expect(() => lowerOnnx(model, name, {})).toThrow(expect.objectContaining({ code: expect.stringMatching(/^unsupported\./) }));
    else {
      const feeds = new Map(model.inputs.map((input, k) => [input.name, inputs[k]]));
      let outputs: Map<string, OnnxTensor> | undefined;
      let said: string | undefined;
      try {
        outputs = evaluate(model, feeds).outputs;
      } catch (e) {
        if (refusal === undefined) throw e;
        said = describeError(e);
      }
      if (outputs) {
        const bad = model.outputs.flatMap((o, k) => {
          const m = mismatch(outputs.get(o.name)!, wants[k], tolerance(name));
          return m ? [`${o.name}${m}`] : [];
        });
        expect(bad).toEqual([]);
      } else if (refusal!.startsWith("op ")) expect(said).toMatch(/^unsupported\./);
      else expect(said!.startsWith(refusal!), said).toBe(true);
    }
  });

  // Exporters write weights, biases, pads and the like as initializers, not inputs: every case of
  // two inputs or more that passes with them fed passes again with all but the first held as
  // constants (the lowerings' constant paths: Gemm and MatMul by a weight become a Linear, Conv's
  // weight is multiplied in at build time, ...).
  it.each(withConstants)("%s, its inputs after the first as constants", async (name) => {
    const { model, inputs, wants } = await read(name);
    const constant: OnnxModel = {
      ...model,
      inputs: model.inputs.slice(0, 1),
      initializers: new Map([...model.initializers, ...model.inputs.slice(1).map((input, k) => [input.name, inputs![k + 1]] as const)]),
    };
    const { outputs } = evaluate(constant, new Map([[model.inputs[0].name, inputs![0]]]));
    const bad = model.outputs.flatMap((o, k) => {
      const m = mismatch(outputs.get(o.name)!, wants![k], tolerance(name));
      return m ? [`${o.name}${m}`] : [];
    });
    expect(bad).toEqual([]);
  });
});
