// StrykerJS: mutation testing of the TypeScript compiler and runtime (issue 27, docs/MUTATION.md).
// One area at a time, each with only its own test files (vitest's related mode narrows them further
// to those importing the mutated file):
//   SEEC_MUTATION_AREA=sampler npx stryker run [--mutate runtime/sampler.ts] [--incremental]
// `npm run mutation` runs every area, `npm run mutation:sample` the fast sample (scripts/mutation.mjs).
// Not part of `npm test`: a full run takes far longer than CI allows.
import { fileURLToPath } from "node:url";

// Stryker runs the tests in a sandbox copy (.stryker-tmp/sandbox-*), so test/helpers/shared.ts's
// default (../shared beside the checkout) would point inside it: name the real folder.
process.env.SEEC_SHARED ??= fileURLToPath(new URL("../shared", import.meta.url));

/** Each area: the sources mutated and the test files that may kill their mutants. */
export const AREAS = {
  sampler: { mutate: ["runtime/sampler.ts"], tests: ["test/runtime/options.test.ts", "test/runtime/sampler.test.ts"] },
  tokenizers: {
    mutate: ["runtime/tokenizers/*.ts"],
    tests: [
      "test/runtime/sentencepiece.test.ts",
      "test/runtime/tokenizers.test.ts",
      "test/frontends/llama2c-tokenizer.test.ts",
      "test/runtime/options.test.ts",
    ],
  },
  // Four pass/IR files whose tests run without compiling to wasm (seconds, not minutes).
  "passes-ir-sample": {
    mutate: ["compiler/passes/quantize.ts", "compiler/passes/quantize-q4.ts", "compiler/ir/interpreter.ts", "compiler/ir/graph.ts"],
    tests: ["test/passes/quantize.test.ts", "test/passes/quantize-q4.test.ts", "test/passes/plan-memory.test.ts", "test/ir/*.test.ts"],
  },
  // The rest of the areas the issue names: their tests compile and run wasm, so these take hours.
  passes: { mutate: ["compiler/passes/*.ts"], tests: ["test/passes/*.test.ts"] },
  ir: {
    mutate: ["compiler/ir/**/*.ts"],
    tests: ["test/ir/*.test.ts", "test/passes/quantize.test.ts", "test/passes/plan-memory.test.ts"],
  },
  frontends: { mutate: ["compiler/frontends/**/*.ts"], tests: ["test/frontends/*.test.ts"] },
  // Five passes, measured one file at a time (--mutate, docs/MUTATION.md). fuse-attention, see and index
  // take about a minute each (IR-level tests); the fuse-epilogues and pack-texts test files also compile
  // a few small graphs to wasm, which reach those two passes: minutes each.
  "passes-rest": {
    mutate: [
      "compiler/passes/fuse-epilogues.ts",
      "compiler/passes/pack-texts.ts",
      "compiler/passes/fuse-attention.ts",
      "compiler/passes/see.ts",
      "compiler/passes/index.ts",
    ],
    tests: [
      "test/passes/fuse-epilogues.test.ts",
      "test/passes/pack-texts.test.ts",
      "test/passes/fuse-attention.test.ts",
      "test/passes/see.test.ts",
      "test/passes/run-passes.test.ts",
    ],
  },
  // The Hugging Face tokenizer.json reader (docs/MUTATION.md): its unit tests, small files against the
  // Rust library's recorded output, and real files' pipelines over cut-down vocabularies against
  // @huggingface/tokenizers. hf-tokenizer-parity.test.ts (whole files, 4000 texts) is left out: seconds
  // per mutant. About 25 minutes on this two-core machine beside another job.
  "tokenizers-hf": {
    mutate: ["runtime/tokenizers/hf/*.ts"],
    tests: ["test/runtime/hf-tokenizer.test.ts", "test/runtime/hf-tokenizer-rust.test.ts", "test/runtime/hf-tokenizer-oracle.test.ts"],
  },
  // SEE fitting (stage 1): the knowledge-based decomposition, the fit, SVD and the metrics, against
  // the test files that call them in-process (the CLI tests run seec as a subprocess, where Stryker's
  // mutants are not active). factorize.ts, the driver, with its own tests: they factorize stories260K
  // (a second a run), which every mutant of the others would otherwise run too.
  "see-fitting": {
    mutate: [
      "compiler/see/fit.ts",
      "compiler/see/svd.ts",
      "compiler/see/decompose.ts",
      "compiler/see/morphemes.ts",
      "compiler/see/sememes.ts",
      "compiler/see/metrics.ts",
    ],
    tests: ["test/see/fit.test.ts", "test/see/decompose.test.ts", "test/see/packing.test.ts", "test/see/fitting.test.ts"],
  },
  "see-factorize": { mutate: ["compiler/see/factorize.ts"], tests: ["test/see/factorize.test.ts"] },
  // The IR's symbolic attributes, reverse mode and graph builder (written after the ir area was
  // measured): the IR tests, the packed-pass gradients and the ONNX graphs merged into one symbolic one.
  "ir-rest": {
    mutate: ["compiler/ir/affine.ts", "compiler/ir/autodiff.ts", "compiler/ir/builder.ts"],
    tests: ["test/ir/*.test.ts", "test/see/packing.test.ts", "test/frontends/onnx-dynamic-merge.test.ts"],
  },
};

export const GROUPS = {
  sample: ["sampler", "tokenizers", "passes-ir-sample"],
  full: ["sampler", "tokenizers", "tokenizers-hf", "passes", "ir", "frontends", "see-fitting", "see-factorize"],
};

const name = process.env.SEEC_MUTATION_AREA ?? "sampler";
const area = AREAS[name];
if (!area) throw new Error(`SEEC_MUTATION_AREA=${name} is not one of ${Object.keys(AREAS).join(", ")}`);
// vitest.stryker.config.mjs includes these (Stryker's test runner processes inherit the environment).
process.env.SEEC_MUTATION_TESTS = JSON.stringify(area.tests);

export default {
  $schema: "./node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  testRunner: "vitest",
  vitest: { configFile: "vitest.stryker.config.mjs", related: true },
  plugins: ["@stryker-mutator/vitest-runner"],
  mutate: area.mutate,
  // Per-test coverage: each mutant runs only the tests that reach it.
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: `out/mutation/${name}.html` },
  jsonReporter: { fileName: `out/mutation/${name}.json` },
  incrementalFile: `out/mutation/${name}-incremental.json`,
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  ignorePatterns: ["out", ".cache", ".seec-cache", "test-output", ".stryker-tmp", "bench", "docs", ".ci"],
  thresholds: { high: 80, low: 60, break: null },
};
