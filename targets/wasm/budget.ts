/**
 * The memory a compiled module needs, line by line, and the check against a device's budget
 * (`seec build --memory-budget`). Linear memory comes in 64 KiB pages; the host's native stack
 * (the C stack once wasm2c has turned the module into C) comes on top.
 */
import { opDef } from "../../compiler/ir/ops/index.js";
import type { PlannedGraph } from "../../compiler/passes/plan-memory.js";
import { asTable } from "../../compiler/passes/quantize.js";
import { formatBytes } from "../../compiler/util/units.js";
import { SeecError } from "../../runtime/errors.js";
import { graphIndex } from "../../compiler/ir/graph.js";
import { formatMemoryReport, type MemoryLine, type MemoryReport } from "../common/backend.js";
import { formatSize, PAGE_BYTES, RESERVED_BYTES, type WasmLayout } from "./layout.js";

/** Native stack the kernels need: they are leaf calls with a few dozen scalar locals. */
export const STACK_RESERVE_BYTES = 16 * 1024;

/** The state tensors the forward pass writes in place: the KV caches. */
function cacheNames({ forward, init }: PlannedGraph): Set<string> {
  return new Set([...forward, ...init].flatMap((n) => (opDef(n.op).writes ?? []).map((i) => n.inputs[i])));
}

export function memoryReport(planned: PlannedGraph, layout: WasmLayout, extraBytes = 0): MemoryReport {
  const { plan } = planned;
  const caches = cacheNames(planned);
  const sum = (entries: { name: string; bytes: number }[], keep: (name: string) => boolean) =>
    entries.filter((e) => keep(e.name)).reduce((a, e) => a + e.bytes, 0);
  const isFactor = (name: string) => name.startsWith("see.");
  const lines: MemoryLine[] = [
    { what: "weights", bytes: sum(plan.weights.entries, (n) => !isFactor(n)) },
    { what: "SEE factors", bytes: sum(plan.weights.entries, isFactor) },
    { what: "KV cache", bytes: sum(plan.state.entries, (n) => caches.has(n)) },
    { what: "other state (scratch, tables built at load)", bytes: sum(plan.state.entries, (n) => !caches.has(n)) },
    { what: "activations (liveness-planned arena)", bytes: plan.arena.bytes },
    { what: "kernel scratch (int8 kernels' 16-bit activations)", bytes: layout.scratch?.bytes ?? 0 },
    { what: "runtime data (AssemblyScript statics, tokenizer)", bytes: RESERVED_BYTES + extraBytes + (layout.working ? PAGE_BYTES : 0) },
    { what: "program working memory (WASI)", bytes: layout.working?.bytes ?? 0 },
    { what: "alignment and page rounding", bytes: 0 },
    { what: "native stack (reserve)", bytes: STACK_RESERVE_BYTES },
  ];
  const linear = layout.pages * PAGE_BYTES;
  const rounding = lines.findIndex((l) => l.what === "alignment and page rounding");
  lines[rounding].bytes = linear - lines.slice(0, rounding).reduce((a, l) => a + l.bytes, 0);
  return { lines: lines.filter((l) => l.bytes > 0 || l.what === "KV cache"), totalBytes: linear + STACK_RESERVE_BYTES };
}

/** Fails with the whole plan, naming the largest lines, when the module does not fit. */
export function checkBudget(report: MemoryReport, budget: number): void {
  const format = formatBytes;
  if (report.totalBytes <= budget) return;
  const largest = [...report.lines]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 2)
    .map((l) => `${l.what} (${format(l.bytes)})`);
  throw new SeecError(
    "budget.memory",
    `the model needs ${format(report.totalBytes)}, ${format(report.totalBytes - budget)} over the ${format(budget)} budget; largest: ${largest.join(", ")}\n${formatMemoryReport(report, budget).join("\n")}`,
    {
      at: "--memory-budget",
      hint: "shrink it: --quantize int8 (weights about 4x smaller), --see factors.see (the embedding), --context N (the KV cache), --max-chunk 1 (activations)",
    },
  );
}

/**
 * What would bring a plan `over` bytes past wasm32's 4 GiB under it, with the numbers: the longest
 * --context whose KV cache fits (the cache grows linearly with it), and what int8 saves on the
 * f32 weights only Linear (as its weights) and Gather (as its table, by the graph's input ids) read
 * (quantize.ts's own rule, whatever layout the plan gave a weight: 1 byte a weight plus a scale a row).
 */
export function addressableHint(planned: PlannedGraph, over: number): string {
  const { graph, plan } = planned;
  const caches = cacheNames(planned);
  const kv = plan.state.entries.filter((e) => caches.has(e.name)).reduce((a, e) => a + e.bytes, 0);
  const context = graph.model.config.contextLength;
  const options: string[] = [];
  if (kv > over && typeof context === "number" && context > 1) {
    const fit = Math.floor(((kv - over) / kv) * context);
    const rounded = fit >= 256 ? fit - (fit % 256) : fit;
    if (rounded >= 1) options.push(`--context ${rounded} or less (the KV cache takes ${formatSize(kv)} at context ${context})`);
  }
  const { readers } = graphIndex(graph);
  let saving = 0,
    tables = false;
  for (const e of plan.weights.entries) {
    const v = graph.values.get(e.name)!;
    const rs = readers.get(e.name) ?? [];
    // A Linear weight in any layout the plan gave it; a table as quantize.ts takes it.
    const quantizes = rs.length > 0 && rs.every((r) => (r.op === "Linear" && r.inputs[1] === e.name) || asTable(r, e.name, graph));
    if (v.dtype !== "f32" || v.shape.length !== 2 || !quantizes) continue;
    if (rs.some((r) => r.op === "Gather")) tables = true;
    const rows = v.shape[0];
    saving += e.bytes - e.bytes / 4 - (typeof rows === "number" ? rows * 4 : 0);
  }
  if (saving > 0)
    options.push(
      `--quantize int8 (the Linear weights${tables ? " and the embedding" : ""} shrink by ${formatSize(saving)}${saving < over ? `, not enough alone: ${formatSize(over)} too many` : ""})`,
    );
  if (options.length) return `what would fit: ${options.join("; or ")}`;
  // Nothing computed fits: say what else shrinks this kind of model.
  const rest =
    graph.model.family === "decoder"
      ? "fewer tokens per call (--max-chunk) where the activations are the bulk, or a smaller model"
      : "smaller input shapes (--shape), or a smaller model";
  return `${formatSize(over)} too many, and neither a shorter context nor int8 is enough: ${rest}`;
}
