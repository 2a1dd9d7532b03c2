/**
 * The wasm backend: a planned graph in, the files of an artifact's modules out (model.wasm and
 * its siblings, weights.bin or weights embedded, the WGSL program for the webgpu target, the
 * AssemblyScript source). What the target asks for (flavours, embedded weights, fixed memory,
 * entry points) is data in targets.ts; this file holds the steps, the driver (compiler/build.ts)
 * only calls them.
 */
import type { Graph } from "../../compiler/ir/graph.js";
import { layoutWeights } from "../../compiler/passes/weight-layout.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import type { TokenizerSpec } from "../../runtime/tokenizers/index.js";
import { webgpuProgram } from "../webgpu/program.js";
import { kernelScratchBytes } from "./bindings.js";
import { addressableHint, checkBudget, memoryReport, type MemoryReport } from "./budget.js";
import { compileWasm, FLAVOURS } from "./compile.js";
import { emitAssemblyScript } from "./emit.js";
import { workingMemoryBytes } from "./entry.js";
import { layoutMemory, type WasmLayout } from "./layout.js";
import { TARGETS, type TargetName } from "./targets.js";
import { tokenizerTable } from "./tokenizer-table.js";

type Stage = <T>(name: string, f: () => Promise<T> | T) => Promise<T>;

export interface CompiledModules {
  /** File name -> bytes or text, for the artifact. */
  files: Map<string, Uint8Array | string>;
  /** Where every region and tensor sits in the module's memory (the manifest records it). */
  layout: WasmLayout;
  memory: MemoryReport;
}

/** Whether a target's modules run the SIMD kernels (which read weights in their own order). */
function usesSimd(target: TargetName): boolean {
  return TARGETS[target].modules.some((m) => FLAVOURS[m.flavour].enable.includes("simd"));
}

/** The graph as this target's kernels read it: the SIMD kernels' weight order; the scalar kernels and WGSL read weights as written. */
export function prepareGraph(graph: Graph, target: TargetName): Graph {
  return usesSimd(target) && !TARGETS[target].webgpu ? layoutWeights(graph).graph : graph;
}

/** The modules of one target for a planned graph; refuses (budget.memory) a plan over `memoryBudget` bytes. */
export async function compileModules(
  planned: PlannedGraph,
  opts: { target: TargetName; tokenizer?: TokenizerSpec; vocabSize: number; seecVersion: string; memoryBudget?: number; stage: Stage },
): Promise<CompiledModules> {
  const { stage } = opts;
  const target = TARGETS[opts.target];
  const table = target.entry === "wasi" && opts.tokenizer ? tokenizerTable(opts.tokenizer) : undefined;
  const workingBytes = target.entry === "wasi" ? workingMemoryBytes(opts.vocabSize) : 0;
  const layout = layoutMemory(planned.plan, {
    scratchBytes: usesSimd(opts.target) ? kernelScratchBytes(planned) : 0,
    appendixBytes: table?.byteLength,
    workingBytes,
    shrink: (over) => addressableHint(planned, over),
  });
  const memory = memoryReport(planned, layout, table?.byteLength);
  if (opts.memoryBudget !== undefined) checkBudget(memory, opts.memoryBudget);
  const program = emitAssemblyScript(planned, layout, { target: opts.target, seecVersion: opts.seecVersion, entry: target.entry });
  const weights = packWeights(planned);
  const data = target.embedWeights ? [{ address: layout.weights, bytes: weights }] : [];
  if (table && layout.appendix) data.push({ address: layout.appendix.address, bytes: table });
  const wasm = await stage("compile wasm", () =>
    Promise.all(
      target.modules.map((m) =>
        compileWasm({
          program: program.source,
          flavour: m.flavour,
          pages: layout.pages,
          fixedMemory: target.fixedMemory,
          data,
          libraries: program.libraries,
          abort: program.abort,
          exports: program.exports,
          staticData: layout.staticData,
        }),
      ),
    ),
  );
  const files = new Map<string, Uint8Array | string>(target.modules.map((m, i): [string, Uint8Array] => [m.file, wasm[i]]));
  if (!target.embedWeights) files.set("weights.bin", weights);
  if (target.webgpu) files.set("model.webgpu.json", JSON.stringify(await stage("emit WGSL", () => webgpuProgram(planned))));
  files.set("src/model.ts", program.source);
  return { files, layout, memory };
}

/** Constants laid out as the plan's weights region says, zero-padded between tensors. */
function packWeights({ graph, plan }: PlannedGraph): Uint8Array {
  const bytes = new Uint8Array(plan.weights.bytes);
  for (const e of plan.weights.entries) {
    const data = graph.values.get(e.name)!.data!;
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), e.offset);
  }
  return bytes;
}
