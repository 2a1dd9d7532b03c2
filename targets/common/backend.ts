/**
 * What every backend is to the driver: a planned graph and a target in, the artifact's compiled
 * files and its manifest's backend-specific parts out. One implementation per target family
 * (targets/wasm/backend.ts: wasm-simd, wasm-relaxed, wasm, wasi, mcu; targets/webgpu/backend.ts);
 * which target uses which, with what options, is data in targets/registry.ts.
 */
import type { FileContent } from "../../compiler/util/file-content.js";
import type { Node } from "../../compiler/ir/graph.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import { formatBytes } from "../../compiler/util/units.js";
import type { Manifest } from "../../runtime/manifest.js";
import type { TokenizerSpec } from "../../runtime/tokenizers/index.js";

/** Runs one named stage of a build (timed, reported as progress). */
export type Stage = <T>(name: string, f: () => Promise<T> | T) => Promise<T>;

/** One target as its backend sees it: the name (`seec build --target`) and the backend's options for it. */
export interface BackendTarget<Options> {
  name: string;
  options: Options;
}

export interface CompileContext {
  /** The model's tokenizer, for backends whose modules tokenize inside (wasi). */
  tokenizer?: TokenizerSpec;
  vocabSize: number;
  seecVersion: string;
  /** Refuse (budget.memory), printing the plan, a module that needs more bytes than this. */
  memoryBudget?: number;
  /** Also compile modules that split the matmuls across up to this many threads (seec build --threads; the targets whose policy allows it). */
  threads?: number;
  stage: Stage;
}

/** The manifest fields a backend decides; the driver writes the rest (name, model, tokenizer, files). */
export type ManifestParts = Pick<Manifest, "modules" | "inputs" | "outputs" | "memory"> & Partial<Pick<Manifest, "webgpu">>;

export interface CompiledTarget {
  /**
   * File name -> bytes, text or pieces (weights.bin), for the artifact. `src/model.ts` (the emitted
   * source, for reading) is listed among the artifact's files last but one, before the manifest.
   */
  files: Map<string, FileContent>;
  manifest: ManifestParts;
  /** The memory plan, line by line (printed by `seec build` where the target asks, or with --memory-budget). */
  memory: MemoryReport;
  /** What the person building should know about how the target compiled it (printed as the build's notes). */
  notes?: string[];
}

export interface Backend<Options = unknown> {
  /** As error messages name it: "the wasm backend has no kernel for op ...". */
  readonly name: string;
  /** Whether this backend has a kernel for the node (the driver refuses the first it has not, by name, before any work). */
  supports(node: Node): boolean;
  compile(planned: PlannedGraph, target: BackendTarget<Options>, context: CompileContext): Promise<CompiledTarget>;
}

export interface MemoryLine {
  what: string;
  bytes: number;
}

export interface MemoryReport {
  lines: MemoryLine[];
  /** Linear memory (whole pages) plus the stack reserve. */
  totalBytes: number;
}

export function formatMemoryReport(report: MemoryReport, budget?: number): string[] {
  const format = formatBytes;
  const width = Math.max(...report.lines.map((l) => l.what.length));
  return [
    ...report.lines.map((l) => `  ${l.what.padEnd(width)} ${format(l.bytes).padStart(10)}`),
    `  ${"total".padEnd(width)} ${format(report.totalBytes).padStart(10)}${budget === undefined ? "" : ` of a ${format(budget)} budget`}`,
  ];
}
