/** What a wasm kernel binding is: how one IR node becomes AssemblyScript (bindings.ts holds the table). */
import type { Dim, DType, Node, Shape } from "../../compiler/ir/graph.js";

export interface CallContext {
  /** The constant naming a tensor's address. */
  addr(tensor: string): string;
  shape(tensor: string): Shape;
  dtype(tensor: string): DType;
  /** The constant naming the kernels' scratch (layout.ts), or 0 where the program has none. */
  scratch: string;
}

export type Import = [module: string, name: string];

export interface Binding {
  /** Kernel library names the call uses: [module (file in kernels/), function or constant]. */
  kernels: Import[] | ((node: Node, c: CallContext) => Import[]);
  /** The statement that runs the node. */
  call(node: Node, c: CallContext): string;
  /** Functions generated for this node's shapes, each emitted once (by name) into the program. */
  define?(node: Node, c: CallContext): { name: string; source: string }[];
  /** Bytes of scratch the SIMD kernel needs for this node at its largest (`size` binds a shape). */
  scratchBytes?(node: Node, size: (tensor: string) => number[]): number;
  /** How a node splits across threads (kernels/threads.ts), where its kernel can. */
  share?: Share;
}

/** The axes a node may be split along: its rows (tokens), its outputs (weight rows) for one token, or its kv heads (attention). */
export type ShareAxis = "rows" | "columns" | "heads";

/** One thread's part of a node: items [start, start + count) along an axis, and the thread's own scratch. */
export interface SharePart {
  axis: ShareAxis;
  /** AssemblyScript expressions. */
  start: string;
  count: string;
  scratch: string;
}

export interface Share {
  axes(node: Node): ShareAxis[];
  /** The items a part holds a multiple of (the kernels' blocking; default 4), the last part taking the rest. */
  unit?(axis: ShareAxis): number;
  /** Kernels the parts call beyond the node's own. */
  kernels?(node: Node): Import[];
  /** The node's work per row, in multiply-adds (a node below split.ts's threshold runs on one thread). */
  work(node: Node, size: (tensor: string) => number[]): number;
  /** The items along an axis (a dimension of the node's shapes). */
  count(node: Node, c: CallContext, axis: ShareAxis): Dim;
  /** The statement that runs the part. */
  call(node: Node, c: CallContext, part: SharePart): string;
}
