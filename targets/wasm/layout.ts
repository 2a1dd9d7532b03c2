/** Where the memory plan's regions sit in the module's linear memory. */
import type { MemoryPlan } from "../../compiler/passes/plan-memory.js";

/** Bytes below the first region, left to AssemblyScript's own static data. */
export const RESERVED_BYTES = 1024;
export const PAGE_BYTES = 65536;

export interface WasmLayout {
  weights: number;
  arena: number;
  state: number;
  /** Bytes the module carries after the plan's regions (the WASI driver's tokenizer table). */
  appendix?: { address: number; bytes: number };
  /** The first byte past everything the program addresses. */
  end: number;
  /** Where AssemblyScript's static data (and, for a program that allocates, its heap) may lie. */
  staticData: { from: number; to: number };
  pages: number;
  /** Absolute address of every tensor. */
  address: Map<string, number>;
}

/**
 * `appendixBytes`: data the module carries after the plan's regions. `heap`: the program
 * allocates (the WASI driver: arguments, the tokenizer's hash table), so AssemblyScript's static
 * data and heap go above everything the model addresses, with a page to start in.
 */
export function layoutMemory(plan: MemoryPlan, { appendixBytes = 0, heap = false } = {}): WasmLayout {
  const weights = RESERVED_BYTES;
  const arena = weights + plan.weights.bytes;
  const state = arena + plan.arena.bytes;
  const appendix = appendixBytes ? { address: state + plan.state.bytes, bytes: appendixBytes } : undefined;
  const end = state + plan.state.bytes + appendixBytes;
  const address = new Map<string, number>();
  for (const [base, region] of [[weights, plan.weights], [arena, plan.arena], [state, plan.state]] as const)
    for (const e of region.entries) address.set(e.name, base + e.offset);
  const heapBase = Math.ceil(end / 16) * 16;
  const pages = heap ? Math.ceil((heapBase + PAGE_BYTES) / PAGE_BYTES) : Math.ceil(end / PAGE_BYTES);
  const staticData = heap ? { from: heapBase, to: pages * PAGE_BYTES } : { from: 0, to: RESERVED_BYTES };
  return { weights, arena, state, appendix, end, staticData, pages, address };
}
