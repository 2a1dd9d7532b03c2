/**
 * The wasm backend: a planned graph in, the files of an artifact's modules out (model.wasm and
 * its siblings, weights.bin or weights embedded, the AssemblyScript source) with the manifest's
 * module, tensor and memory entries. One backend for wasm-simd, wasm-relaxed, wasm, wasi and mcu
 * (and the webgpu target's fallback module): what a target asks of it (flavours, embedded
 * weights, fixed memory, entry points) is its options, data in targets/registry.ts.
 */
import { joinPieces, type FileContent, type Pieces } from "../../compiler/util/file-content.js";
import type { Node } from "../../compiler/ir/graph.js";
import { isOpName } from "../../compiler/ir/op-names.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import type { Manifest, TensorSpec } from "../../runtime/manifest.js";
import type { Backend, BackendTarget, CompileContext, CompiledTarget, ManifestParts } from "../common/backend.js";
import { kernelScratchBytes } from "./bindings.js";
import { addressableHint, checkBudget, memoryReport } from "./budget.js";
import { compileWasm, FLAVOURS, type FlavourName } from "./compile.js";
import { emitAssemblyScript, splitJobs } from "./emit.js";
import { workingMemoryBytes, type EntryKind } from "./entry.js";
import { layoutMemory, type WasmLayout } from "./layout.js";
import { SPLIT_WORK, THREAD_SCRATCH_BYTES } from "./split.js";
import { tokenizerTable } from "./tokenizer-table.js";

export interface ModuleSpec {
  /** What `model.backend` reports when this module runs. */
  backend: string;
  file: string;
  flavour: FlavourName;
  /** A module for threads (kernels/threads.ts): the most threads its matmuls split across. */
  threads?: number;
}

/** What a target asks of the wasm backend: which modules, and how they are packaged for the host. */
export interface WasmOptions {
  /** In the order the runtime tries them: the first that WebAssembly.validate accepts runs. */
  modules: ModuleSpec[];
  /** Weights live in the module's data segment: one self-contained file, no weights.bin. */
  embedWeights?: boolean;
  /** Memory is declared with initial = maximum pages and the module never grows it. */
  fixedMemory?: boolean;
  /** Exports beyond forward/init: the greedy `step` API (mcu, wasi) and WASI's `_start` (which tokenizes inside the module). */
  entry?: EntryKind;
}

/** Whether a target's modules run the SIMD kernels (which need kernel scratch). */
function usesSimd(options: WasmOptions): boolean {
  return options.modules.some((m) => FLAVOURS[m.flavour].enable.includes("simd"));
}

export const wasmBackend: Backend<WasmOptions> = {
  name: "wasm",
  // The bindings table is declared against OpName: every op has a kernel.
  supports: (node: Node) => isOpName(node.op),
  compile: compileModules,
};

/** The modules of one target for a planned graph; refuses (budget.memory) a plan over `memoryBudget` bytes. */
async function compileModules(planned: PlannedGraph, target: BackendTarget<WasmOptions>, context: CompileContext): Promise<CompiledTarget> {
  const { stage } = context;
  const options = target.options;
  const table = options.entry === "wasi" && context.tokenizer ? tokenizerTable(context.tokenizer) : undefined;
  const workingBytes = options.entry === "wasi" ? workingMemoryBytes(context.vocabSize) : 0;
  const asked = context.threads && context.threads > 1 ? context.threads : undefined;
  // Where no node is large enough to split, workers would only wait: no module for threads.
  const threads = asked && splitJobs(planned) > 0 ? asked : undefined;
  const notes =
    asked && !threads
      ? [
          `--threads ${asked}: no matmul of this model is large enough to split across threads (${SPLIT_WORK.toLocaleString("en")} multiply-adds a token or more), so it runs on one thread and the artifact has no module for threads`,
        ]
      : [];
  // Modules for threads come first, each beside the one it splits: the runtime takes the first it can run.
  const modules = threads
    ? [...options.modules.map((m) => ({ ...m, file: m.file.replace(/\.wasm$/, ".threads.wasm"), threads })), ...options.modules]
    : options.modules;
  const layout = layoutMemory(planned.plan, {
    // Each thread its own part of the scratch (one layout for every module: they share weights.bin and the manifest).
    scratchBytes: !usesSimd(options)
      ? 0
      : threads
        ? Math.max(kernelScratchBytes(planned), THREAD_SCRATCH_BYTES) * threads
        : kernelScratchBytes(planned),
    appendixBytes: table?.byteLength,
    workingBytes,
    shrink: (over) => addressableHint(planned, over),
  });
  const memory = memoryReport(planned, layout, table?.byteLength);
  if (context.memoryBudget !== undefined) checkBudget(memory, context.memoryBudget);
  const emit = (threads?: number) =>
    emitAssemblyScript(planned, layout, { target: target.name, seecVersion: context.seecVersion, entry: options.entry, threads });
  const program = emit();
  const split = threads ? emit(threads) : undefined;
  const weights = packWeights(planned);
  const data = options.embedWeights ? [{ address: layout.weights, bytes: joinPieces(weights) }] : [];
  if (table && layout.appendix) data.push({ address: layout.appendix.address, bytes: table });
  const wasm = await stage("compile wasm", () =>
    Promise.all(
      modules.map((m) =>
        compileWasm({
          program: (m.threads ? split! : program).source,
          threads: m.threads !== undefined,
          flavour: m.flavour,
          pages: layout.pages,
          fixedMemory: options.fixedMemory,
          data,
          libraries: program.libraries,
          abort: program.abort,
          exports: (m.threads ? split! : program).exports,
          staticData: layout.staticData,
        }),
      ),
    ),
  );
  const files = new Map<string, FileContent>(modules.map((m, i): [string, Uint8Array] => [m.file, wasm[i]]));
  if (!options.embedWeights) files.set("weights.bin", weights);
  if (split) files.set("src/model.threads.ts", split.source);
  files.set("src/model.ts", program.source);
  return { files, manifest: manifestParts(planned, layout, { ...options, modules }), memory, notes };
}

/** The manifest's modules, tensors (with their addresses in the module's memory) and memory regions. */
function manifestParts({ graph, plan }: PlannedGraph, layout: WasmLayout, options: WasmOptions): ManifestParts {
  const spec = (name: string): TensorSpec => {
    const v = graph.values.get(name)!;
    return {
      name,
      dtype: v.dtype as TensorSpec["dtype"],
      shape: [...v.shape],
      address: layout.address.get(name)!,
      ...(v.elementType ? { elementType: v.elementType } : {}),
    };
  };
  const memory: Manifest["memory"] = {
    pages: layout.pages,
    totalBytes: layout.end,
    weights: { address: layout.weights, bytes: plan.weights.bytes, ...(options.embedWeights ? { embedded: true } : {}) },
    ...(options.fixedMemory ? { fixed: true } : {}),
    arena: { address: layout.arena, bytes: plan.arena.bytes },
    state: { address: layout.state, bytes: plan.state.bytes },
    ...(layout.scratch ? { scratch: layout.scratch } : {}),
  };
  return {
    modules: options.modules.map(({ backend, file, threads }) => ({ backend, file, ...(threads ? { threads } : {}) })),
    inputs: graph.inputs.map(spec),
    outputs: graph.outputs.map(spec),
    memory,
  };
}

/**
 * Constants laid out as the plan's weights region says, zero-padded between tensors: written one
 * tensor at a time (a tensor left in its input file is read then), never held as one buffer beside
 * the graph's own.
 */
function packWeights({ graph, plan }: PlannedGraph): Pieces {
  const entries = [...plan.weights.entries].sort((a, b) => a.offset - b.offset);
  const end = plan.weights.bytes;
  return {
    byteLength: end,
    *pieces() {
      let at = 0;
      for (const e of entries) {
        if (e.offset > at) yield new Uint8Array(e.offset - at);
        const data = graph.values.get(e.name)!.data!;
        yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        at = e.offset + data.byteLength;
      }
      if (end > at) yield new Uint8Array(end - at);
    },
  };
}
