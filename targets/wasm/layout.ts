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
  pages: number;
  /** Absolute address of every tensor. */
  address: Map<string, number>;
}

export function layoutMemory(plan: MemoryPlan, appendixBytes = 0): WasmLayout {
  const weights = RESERVED_BYTES;
  const arena = weights + plan.weights.bytes;
  const state = arena + plan.arena.bytes;
  const appendix = appendixBytes ? { address: state + plan.state.bytes, bytes: appendixBytes } : undefined;
  const end = state + plan.state.bytes + appendixBytes;
  const address = new Map<string, number>();
  for (const [base, region] of [[weights, plan.weights], [arena, plan.arena], [state, plan.state]] as const)
    for (const e of region.entries) address.set(e.name, base + e.offset);
  return { weights, arena, state, appendix, end, pages: Math.ceil(end / PAGE_BYTES), address };
}
