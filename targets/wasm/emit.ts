/**
 * emitAssemblyScript: renders a planned graph as a small AssemblyScript program, one kernel
 * call per node with every address and static size a literal, meant to be read.
 */
import { formatShape, type Graph, type Node, type Shape } from "../../compiler/ir/graph.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import type { CallContext } from "./binding.js";
import { binding } from "./bindings.js";
import { entrySection, type EntryKind } from "./entry.js";
import type { WasmLayout } from "./layout.js";
import { splitNodes, threadSection } from "./split.js";

export interface EmitOptions {
  target: string;
  seecVersion: string;
  /** Entry points beyond forward()/init() (see entry.ts). */
  entry?: EntryKind;
  /** Split the large matmuls across up to this many threads over shared memory (split.ts). */
  threads?: number;
}

export interface EmittedProgram {
  source: string;
  /** The functions the module exports. */
  exports: string[];
  /** Library files beside kernels/ the program imports. */
  libraries: string[];
  /** AssemblyScript's abort() replacement, where the program allocates. */
  abort?: string;
}

/** How many of forward()'s nodes a module for threads splits (split.ts): with none, its workers would only wait. */
export function splitJobs({ graph, forward }: PlannedGraph): number {
  return splitNodes(graph, forward, callContext(graph, constantNames(graph), true)).jobs.size;
}

/** How the kernel calls name tensors (their constants), shapes, dtypes and the kernel scratch. */
function callContext(graph: Graph, ident: Map<string, string>, scratch: boolean): CallContext {
  return {
    addr: (t: string) => ident.get(t)!,
    shape: (t: string): Shape => graph.values.get(t)!.shape,
    dtype: (t: string) => graph.values.get(t)!.dtype,
    scratch: scratch ? "SCRATCH" : "0",
  };
}

export function emitAssemblyScript({ graph, plan, init, forward }: PlannedGraph, layout: WasmLayout, opts: EmitOptions): EmittedProgram {
  const ident = constantNames(graph);
  const ctx = callContext(graph, ident, layout.scratch !== undefined);
  const kernels = new Map<string, Set<string>>();
  const definitions = new Map<string, string>();

  const split = opts.threads ? splitNodes(graph, forward, ctx) : undefined;
  const body = (nodes: Node[]) => {
    const calls: string[] = [];
    let section: string | undefined;
    for (const node of nodes) {
      const b = binding(node);
      for (const [module, fn] of typeof b.kernels === "function" ? b.kernels(node, ctx) : b.kernels) {
        if (!kernels.has(module)) kernels.set(module, new Set());
        kernels.get(module)!.add(fn);
      }
      for (const def of b.define?.(node, ctx) ?? []) definitions.set(def.name, def.source);
      const group = /^(layers\.\d+)\./.exec(node.name)?.[1] ?? "";
      if (section !== undefined && group !== section) calls.push(group ? `\n  // ${group}` : "\n  // head");
      section = group;
      const job = split?.jobs.get(node);
      calls.push(`  ${job === undefined ? b.call(node, ctx) : `parallel(${job}, ${graph.dims.T ? "T" : 0}, share)`}; // ${node.name}`);
    }
    return calls.join("\n");
  };
  const initBody = body(init);
  const forwardBody = body(forward);
  for (const [module, fn] of split?.kernels ?? []) kernels.set(module, new Set([...(kernels.get(module) ?? []), fn]));

  const declare = (name: string, note: string) => {
    const v = graph.values.get(name)!;
    return `const ${ident.get(name)}: usize = ${layout.address.get(name)}; // ${v.dtype} ${formatShape(v.shape)}${note}`;
  };
  const isIO = (name: string) => (graph.inputs.includes(name) ? " input" : graph.outputs.includes(name) ? " output" : "");
  const T = graph.dims.T,
    B = graph.dims.B;
  // What the module was planned for, exported for the JavaScript runtime to hold the manifest to:
  // the most tokens a call takes (activations are sized for them), the most texts (an encoder that
  // packs them) and a decoder's context (the positions its KV cache and position tables hold).
  // Modules with their own entry points (mcu, wasi) keep the exports their hosts expect.
  const context = graph.model.family === "decoder" && graph.inputs.includes("pos") ? graph.model.config.contextLength : undefined;
  const planned: [string, number, string][] = opts.entry
    ? []
    : [
        ...(T ? [["MAX_T", T.max, "The most tokens forward() takes"] as [string, number, string]] : []),
        ...(B ? [["MAX_B", B.max, "The most texts forward() takes"] as [string, number, string]] : []),
        ...(Number.isSafeInteger(context)
          ? [["CONTEXT_LENGTH", context, "The positions this module's KV cache holds"] as [string, number, string]]
          : []),
      ];
  const entry = opts.entry
    ? entrySection({ kind: opts.entry, graph, ctx, hasInit: init.length > 0, tokenizer: layout.appendix?.address, working: layout.working })
    : { imports: [], source: [], exports: [], libraries: [] as string[], abort: undefined };

  const source = [
    `// ${graph.name}: the forward pass, for ${opts.target}. Generated by seec ${opts.seecVersion}; rebuild rather than edit.`,
    `//`,
    `// Linear memory: weights at ${layout.weights} (${plan.weights.bytes} bytes), arena at ${layout.arena} (${plan.arena.bytes} bytes,`,
    `// liveness-planned: tensors whose lifetimes do not overlap share bytes), state at ${layout.state} (${plan.state.bytes} bytes)${layout.scratch ? `,\n// kernel scratch at ${layout.scratch.address} (${layout.scratch.bytes} bytes)` : ""}.`,
    ...[...kernels]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([m, fns]) => `import { ${[...fns].sort().join(", ")} } from "./kernels/${m}";`),
    ...entry.imports,
    ``,
    `// Weights`,
    ...plan.weights.entries.map((e) => declare(e.name, "")),
    ``,
    `// Arena`,
    ...plan.arena.entries.map((e) => declare(e.name, isIO(e.name))),
    ``,
    `// State`,
    ...plan.state.entries.map((e) => declare(e.name, init.some((n) => n.outputs.includes(e.name)) ? " computed at load" : "")),
    ...(layout.scratch
      ? [
          ``,
          `// Kernel scratch: working memory the kernels share, one call at a time`,
          ...(split
            ? [
                `const SCRATCH: usize = ${layout.scratch.address}; // ${layout.scratch.bytes} bytes, one part a thread`,
                `const SCRATCH_BYTES: usize = ${layout.scratch.bytes / opts.threads!}; // a thread's part`,
              ]
            : [`const SCRATCH: usize = ${layout.scratch.address}; // ${layout.scratch.bytes} bytes`]),
        ]
      : []),
    ``,
    ...[...definitions.values()].flatMap((d) => [d, ""]),
    ...planned.flatMap(([name, value, what]) => [
      `/** ${what}: the runtime refuses a manifest that claims more. */`,
      `export const ${name}: i32 = ${value};`,
      ``,
    ]),
    ...(init.length
      ? [
          `/** Runs once after the weights are in place: what depends on nothing else. */`,
          `export function init(): void {`,
          initBody,
          `}`,
          ``,
        ]
      : []),
    B
      ? `/** Runs the graph on B texts of T tokens in all, 0 <= T <= ${T!.max}, 0 <= B <= ${B.max}: inputs are read from and outputs written to the arena. */`
      : T
        ? `/** Runs the graph on T tokens, 1 <= T <= ${T.max}: inputs are read from and outputs written to the arena. */`
        : `/** Runs the graph once: inputs are read from and outputs written to the arena. */`,
    `export function forward(${[T && "T: i32", B && "B: i32"].filter(Boolean).join(", ")}): void {`,
    forwardBody,
    `}`,
    ``,
    ...(split ? threadSection(split, opts.threads!) : []),
    ...entry.source,
  ].join("\n");
  return {
    source,
    exports: [
      "forward",
      ...(init.length ? ["init"] : []),
      ...planned.map(([name]) => name),
      ...(split ? ["work", "setThreads", "THREADS"] : []),
      ...entry.exports,
    ],
    libraries: entry.libraries,
    abort: entry.abort,
  };
}

/** Upper-case names the program declares or imports besides tensors: the scratch, kernels/epilogue.ts's activations, the exported plan. */
const RESERVED = ["SCRATCH", "SCRATCH_BYTES", "THREADS", "NONE", "RELU", "MAX_T", "MAX_B", "CONTEXT_LENGTH"];

/** Tensor name -> a valid, unique UPPER_SNAKE identifier (not a symbolic dimension's, e.g. forward's T). */
function constantNames(graph: Graph): Map<string, string> {
  const names = new Map<string, string>();
  const used = new Set<string>([...RESERVED, ...Object.keys(graph.dims)]);
  for (const name of graph.values.keys()) {
    let id =
      name
        .replace(/[^A-Za-z0-9]+/g, "_")
        .replace(/^_|_$/g, "")
        .toUpperCase() || "TENSOR";
    if (/^\d/.test(id)) id = `T_${id}`;
    let unique = id;
    for (let i = 2; used.has(unique); i++) unique = `${id}_${i}`;
    used.add(unique);
    names.set(name, unique);
  }
  return names;
}
