/**
 * planMemory: static offsets for every tensor, so peak memory is known before the first run.
 *
 * Three regions: weights (constants, packed in graph order), the arena (inputs, outputs and
 * activations; tensors whose lifetimes do not overlap share bytes), and state (the KV cache).
 * Offsets are relative to their region; a backend decides where the regions sit.
 */
import { bindShape, DTYPE_BYTES, elementCount, maxDims, type Graph, type Value } from "../ir/graph.js";

export const ALIGN = 64;

export interface Placement {
  name: string;
  offset: number;
  bytes: number;
  /** Live from the node that defines it to the last node that reads it (indices into graph.nodes). */
  from?: number;
  to?: number;
}

export interface Region {
  bytes: number;
  entries: Placement[];
}

export interface MemoryPlan {
  weights: Region;
  arena: Region;
  state: Region;
}

export interface PlannedGraph {
  graph: Graph;
  plan: MemoryPlan;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function planMemory(graph: Graph): PlannedGraph {
  const dims = maxDims(graph);
  const sizeOf = (v: Value) => elementCount(bindShape(v.shape, dims)) * DTYPE_BYTES[v.dtype];
  const values = [...graph.values.values()];

  const packed = (kind: Value["kind"]): Region => {
    let offset = 0;
    const entries = values
      .filter((v) => v.kind === kind)
      .map((v) => {
        const e = { name: v.name, offset, bytes: sizeOf(v) };
        offset = align(offset + e.bytes);
        return e;
      });
    return { bytes: offset, entries };
  };

  return { graph, plan: { weights: packed("const"), arena: planArena(graph, sizeOf), state: packed("state") } };
}

/** Greedy by size: each tensor goes at the lowest offset free for its whole lifetime. */
function planArena(graph: Graph, sizeOf: (v: Value) => number): Region {
  const last = graph.nodes.length;
  const live = new Map<string, { from: number; to: number }>();
  for (const name of graph.inputs) live.set(name, { from: -1, to: -1 });
  graph.nodes.forEach((node, i) => {
    for (const o of node.outputs) live.set(o, { from: i, to: i });
    for (const inp of node.inputs) {
      const l = live.get(inp);
      if (l) l.to = i;
    }
  });
  for (const o of graph.outputs) live.get(o)!.to = last;
  for (const name of graph.inputs) live.get(name)!.from = -1;

  const order = [...live.keys()].sort((a, b) => sizeOf(graph.values.get(b)!) - sizeOf(graph.values.get(a)!) || a.localeCompare(b));
  const placed: Placement[] = [];
  let bytes = 0;
  for (const name of order) {
    const size = sizeOf(graph.values.get(name)!);
    const { from, to } = live.get(name)!;
    const clashes = placed.filter((p) => p.from! <= to && from <= p.to!).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of clashes) {
      if (offset + size <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.bytes));
    }
    placed.push({ name, offset, bytes: size, from, to });
    bytes = Math.max(bytes, align(offset + size));
  }
  const index = new Map([...live.keys()].map((k, i) => [k, i]));
  placed.sort((a, b) => index.get(a.name)! - index.get(b.name)!);
  return { bytes, entries: placed };
}
