/**
 * planMemory: static offsets for every tensor, so peak memory is known before the first run.
 *
 * Three regions: weights (constants, packed in graph order), the arena (inputs, outputs and
 * activations; tensors whose lifetimes do not overlap share bytes), and state (the KV cache,
 * scratch, and what load-time nodes compute). Offsets are relative to their region; a backend
 * decides where the regions sit.
 *
 * Nodes that read only weights (and state nothing else writes) run once at load: `init`.
 * Everything else runs on every call: `forward`.
 */
import { isSymbolic } from "../ir/affine.js";
import { bindShape, DTYPE_BYTES, elementCount, maxDims, type Graph, type Node, type Value } from "../ir/graph.js";
import { opDef } from "../ir/ops/index.js";

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
  /** Nodes run once, after the weights are in place. */
  init: Node[];
  /** Nodes run on every call, in order; the arena's lifetimes index into this list. */
  forward: Node[];
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function planMemory(graph: Graph): PlannedGraph {
  const dims = maxDims(graph);
  const sizeOf = (v: Value) => elementCount(bindShape(v.shape, dims)) * DTYPE_BYTES[v.dtype];
  const values = [...graph.values.values()];

  const { init, forward } = splitPhases(graph);
  const persistent = new Set(init.flatMap((n) => n.outputs));

  const packed = (keep: (v: Value) => boolean): Region => {
    let offset = 0;
    const entries = values.filter(keep).map((v) => {
      const e = { name: v.name, offset, bytes: sizeOf(v) };
      offset = align(offset + e.bytes);
      return e;
    });
    return { bytes: offset, entries };
  };

  return {
    graph,
    init,
    forward,
    plan: {
      weights: packed((v) => v.kind === "const"),
      arena: planArena(graph, forward, sizeOf),
      state: packed((v) => v.kind === "state" || persistent.has(v.name)),
    },
  };
}

function splitPhases(graph: Graph): { init: Node[]; forward: Node[] } {
  const written = new Set(graph.nodes.flatMap((n) => (opDef(n.op).writes ?? []).map((i) => n.inputs[i])));
  const ready = new Set<string>();
  const init: Node[] = [],
    forward: Node[] = [];
  for (const n of graph.nodes) {
    // What depends on a call's token count (a copy of a table's first T rows) runs with the call.
    const perCall = isSymbolic(n.attrs) || n.outputs.some((o) => graph.values.get(o)!.shape.some((d) => typeof d === "string"));
    const loadTime =
      !perCall &&
      n.inputs.every((i) => {
        const v = graph.values.get(i)!;
        return v.kind === "const" || ready.has(i) || (v.kind === "state" && !written.has(i));
      });
    if (loadTime) n.outputs.forEach((o) => ready.add(o));
    (loadTime ? init : forward).push(n);
  }
  return { init, forward };
}

/** Greedy by size: each tensor goes at the lowest offset free for its whole lifetime. */
function planArena(graph: Graph, nodes: Node[], sizeOf: (v: Value) => number): Region {
  const last = nodes.length;
  const live = new Map<string, { from: number; to: number }>();
  for (const name of graph.inputs) live.set(name, { from: -1, to: -1 });
  nodes.forEach((node, i) => {
    for (const o of node.outputs) live.set(o, { from: i, to: i });
    for (const inp of node.inputs) {
      const l = live.get(inp);
      if (l) l.to = i;
    }
  });
  // An output computed once at load time (from constants alone) lives in the state region, not here.
  for (const o of graph.outputs) {
    const l = live.get(o);
    if (l) l.to = last;
  }
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
