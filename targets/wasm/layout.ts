/** Where the memory plan's regions sit in the module's linear memory. */
import type { MemoryPlan } from "../../compiler/passes/plan-memory.js";
import { SeecError } from "../../runtime/errors.js";
import { formatBytes } from "../../compiler/util/units.js";

/** Bytes below the first region, left to AssemblyScript's own static data (Mathf's tables take about 2 KiB). */
export const RESERVED_BYTES = 8192;
export const PAGE_BYTES = 65536;
/** wasm32 addresses 4 GiB: 65,536 pages. */
export const MAX_PAGES = 65536;

export interface WasmLayout {
  weights: number;
  arena: number;
  state: number;
  /** Working memory the kernels share, one call at a time (the int8 kernels' 16-bit activations). */
  scratch?: { address: number; bytes: number };
  /** Bytes the module carries after the plan's regions (the WASI driver's tokenizer table). */
  appendix?: { address: number; bytes: number };
  /** The first byte past everything the program addresses. */
  end: number;
  /** Where AssemblyScript's static data (and, for a program that allocates, its heap) may lie. */
  staticData: { from: number; to: number };
  /** A WASI program's working memory (targets/wasm/drivers/wasi.ts take()), above everything else. */
  working?: { address: number; bytes: number };
  pages: number;
  /** Absolute address of every tensor. */
  address: Map<string, number>;
}

/**
 * `scratchBytes`: the kernels' working memory (bindings.ts kernelScratchBytes), after the plan's
 * regions. `appendixBytes`: data the module carries after those. `workingBytes`: a program
 * that allocates (the WASI driver: arguments, the tokenizer's hash table, scratch) gets a page for
 * AssemblyScript's statics and small objects, then this much working memory, all above what the
 * model addresses, in memory that never grows. `shrink`: for a plan past wasm32's 4 GiB, what would
 * bring it under, given how many bytes too many it needs (budget.ts addressableHint).
 */
export function layoutMemory(
  plan: MemoryPlan,
  {
    scratchBytes = 0,
    appendixBytes = 0,
    workingBytes = 0,
    shrink,
  }: { scratchBytes?: number; appendixBytes?: number; workingBytes?: number; shrink?: (overBytes: number) => string } = {},
): WasmLayout {
  const weights = RESERVED_BYTES;
  const arena = weights + plan.weights.bytes;
  const state = arena + plan.arena.bytes;
  const scratch = scratchBytes ? { address: state + plan.state.bytes, bytes: scratchBytes } : undefined;
  const afterScratch = state + plan.state.bytes + scratchBytes;
  const appendix = appendixBytes ? { address: afterScratch, bytes: appendixBytes } : undefined;
  const end = afterScratch + appendixBytes;
  const address = new Map<string, number>();
  for (const [base, region] of [
    [weights, plan.weights],
    [arena, plan.arena],
    [state, plan.state],
  ] as const)
    for (const e of region.entries) address.set(e.name, base + e.offset);
  const regions: [string, number][] = [
    ["weights", plan.weights.bytes],
    ["activations", plan.arena.bytes],
    ["state", plan.state.bytes],
    ["kernel scratch", scratchBytes],
    ["tokenizer table", appendixBytes],
    ["program working memory", workingBytes],
  ];
  const check = (bytes: number) => checkPages(bytes, regions, shrink);
  if (!workingBytes)
    return { weights, arena, state, scratch, appendix, end, staticData: { from: 0, to: RESERVED_BYTES }, pages: check(end), address };
  const heapBase = Math.ceil(end / 16) * 16;
  const working = { address: heapBase + PAGE_BYTES, bytes: workingBytes };
  const pages = check(working.address + workingBytes);
  return { weights, arena, state, scratch, appendix, end, staticData: { from: heapBase, to: working.address }, working, pages, address };
}

/**
 * The pages `bytes` of memory take; refused before any code is emitted (and before the weights are
 * packed) when wasm32 cannot address them, naming the regions so that the message says what to shrink.
 */
function checkPages(bytes: number, regions: [string, number][], shrink?: (overBytes: number) => string): number {
  const pages = Math.ceil(bytes / PAGE_BYTES);
  if (pages <= MAX_PAGES) return pages;
  const sizes = regions.filter(([, n]) => n > 0).map(([what, n]) => `${what} ${formatSize(n)}`);
  throw new SeecError(
    "budget.memory",
    `the model needs ${(bytes / 2 ** 30).toFixed(1)} GiB of linear memory; wasm32 addresses at most 4 GiB (${sizes.join(", ")})`,
    { hint: shrink?.(bytes - MAX_PAGES * PAGE_BYTES) ?? "bind smaller input shapes (--shape) or quantize the weights (--quantize int8)" },
  );
}

/** GiB where formatBytes would print thousands of MiB. */
export function formatSize(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : formatBytes(n);
}
