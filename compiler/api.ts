/**
 * seec's programmatic API (`import { build } from "seec"`): the functions the seec commands run,
 * with their options and reports, re-exported unchanged. Each command's file in compiler/cli/
 * shows how it calls them; what a command adds is flag parsing, output checks and printing.
 *
 *   seec build     -> build(opts)                        (BuildOptions, BuildResult)
 *   seec inspect   -> loadModel(src), planMemory(graph), inspectGraph(graph, plan)
 *   seec factorize -> loadModel(src), factorize(model, opts), writeSee(factors)
 *   seec distill   -> loadModel(src), readSee(bytes, file), compileTrainingKernels(), distill(model, factors, opts)
 *   seec eval      -> loadArtifact(dir), readQualityTask(flags), measureQuality(model, task)
 *   seec run       -> loadArtifact(dir) (or load() from the artifact's own index.mjs)
 *   seec serve     -> serveDirectory(dir, port, host)
 *   seec firmware  -> buildFirmware(artifact, out), runFirmware(elf)
 *   seec export-onnx -> loadModel(src), applySee(graph, factors, "materialize"), exportOnnx(graph, producer)
 *   seec export-gguf -> readLlama2cCheckpoint(bytes, file), readLlama2cTokenizer(...), llamaToGguf(...)
 *
 * Errors are SeecError (code, exit code, file, hint), as the command prints them.
 */
export { build, buildInputs, type BuildOptions, type BuildQuality, type BuildResult } from "./build.js";
export { TARGET_NAMES, TARGETS, type TargetName, type TargetSpec, type TargetPolicy } from "../targets/registry.js";
export { loadModel, readInput, type LoadedModel, type ModelSource } from "./frontends/load.js";
export { inspectGraph, type Inspection } from "./inspect.js";
export { planMemory, type MemoryPlan, type PlannedGraph } from "./passes/plan-memory.js";

export { factorize, findEmbedding, type FactorizeOptions, type FactorizeReport } from "./see/factorize.js";
export { METHODS, type Method } from "./see/decompose.js";
export { readSee, writeSee } from "./factors/format.js";
export { parameterCount, shippedBytes, type SeeFactors, type SeeSpec } from "./factors/factors.js";

export {
  distill,
  DEFAULT_DISTILL,
  DEFAULT_LOSS,
  defaultLearningRate,
  type DistillOptions,
  type DistillProgress,
  type DistillReport,
  type LossWeights,
  type Trainable,
} from "./see/distill.js";
export { readCheckpoint, writeCheckpoint, type Checkpoint } from "./see/checkpoint.js";
export { textsOf } from "./see/corpus.js";
export { compileTrainingKernels, trainingKernelsOn } from "../targets/wasm/train-kernels.js";

export { loadArtifact } from "./artifact.js";
export { formatQuality, measureQuality, readQualityTask, type Quality, type QualityFlags, type QualityTask } from "./eval/quality.js";

export { serveDirectory } from "./serve.js";
export { buildFirmware, runFirmware, type Firmware, type FirmwareRun } from "../targets/mcu/firmware.js";
export { applySee, type HeadStrategy } from "./passes/see.js";
export { exportOnnx } from "../targets/onnx/export.js";
export { readLlama2cCheckpoint } from "./frontends/llama2c.js";
export { readLlama2cTokenizer } from "./frontends/llama2c-tokenizer.js";
export { llamaToGguf, type GgufWeightType, type LlamaGguf, type LlamaGgufOptions } from "./frontends/gguf/export-llama.js";

export { SeecError, ERROR_CLASSES, type ErrorClass, type ErrorCode } from "../runtime/errors.js";
export type { Model } from "../runtime/model.js";
export type { Manifest } from "../runtime/manifest.js";
export { SEEC_VERSION } from "./version.js";
