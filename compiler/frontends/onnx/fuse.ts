/**
 * Fusion: the decomposed forms exporters write for layer norm, RMS norm and GELU (erf and tanh) become the one
 * op they spell (LayerNormalization, RMSNormalization, Gelu), so they lower to seec's fused
 * kernels. Runs after folding, so epsilons, exponents and axes are known constants.
 *
 * A pattern matches only where every intermediate has the one reader the pattern expects and is
 * not a graph output; Identity and casts that stay within floats are looked through first.
 */
import type { OnnxModel, OnnxNode } from "./read.js";
import { isFloat, type OnnxTensor } from "./tensor.js";

export interface Fused {
  nodes: OnnxNode[];
  /** How many of each fused op replaced a decomposed pattern. */
  counts: Record<string, number>;
}

export function fuseOnnx(model: OnnxModel, values: ReadonlyMap<string, OnnxTensor>, constant: ReadonlySet<string>): Fused {
  const g = new PatternGraph(
    passThrough(model, values),
    model.outputs.map((o) => o.name),
    values,
    constant,
  );
  const counts: Record<string, number> = {};
  for (const [op, match] of PATTERNS)
    for (const node of [...g.nodes]) {
      if (!g.alive(node)) continue;
      const m = match(g, node);
      if (!m) continue;
      g.replace(m.remove, m.node);
      counts[op] = (counts[op] ?? 0) + 1;
    }
  return { nodes: g.nodes.filter((n) => g.alive(n)), counts };
}

/** Identity, and Cast from float to float, pass their input on: readers are rewired past them. */
function passThrough(model: OnnxModel, values: ReadonlyMap<string, OnnxTensor>): OnnxNode[] {
  const outputs = new Set(model.outputs.map((o) => o.name));
  const alias = new Map<string, string>();
  const resolve = (t: string) => alias.get(t) ?? t;
  const kept: OnnxNode[] = [];
  for (const n of model.nodes) {
    const input = resolve(n.inputs[0] ?? "");
    const floatCast =
      n.op === "Cast" && !n.domain && isFloat(values.get(input)?.dtype ?? "int64") && isFloat(values.get(n.outputs[0])?.dtype ?? "int64");
    if ((n.op === "Identity" && !n.domain) || floatCast) {
      if (!outputs.has(n.outputs[0])) {
        alias.set(n.outputs[0], input);
        continue;
      }
    }
    kept.push({ ...n, inputs: n.inputs.map((i) => (i ? resolve(i) : i)) });
  }
  return kept;
}

class PatternGraph {
  private readonly dead = new Set<OnnxNode>();
  private readonly producers = new Map<string, OnnxNode>();
  private readonly readers = new Map<string, OnnxNode[]>();
  private readonly outputs: Set<string>;

  constructor(
    public nodes: OnnxNode[],
    outputs: string[],
    private readonly values: ReadonlyMap<string, OnnxTensor>,
    private readonly constant: ReadonlySet<string>,
  ) {
    this.outputs = new Set(outputs);
    for (const n of nodes) {
      n.outputs.forEach((o) => o && this.producers.set(o, n));
      for (const i of new Set(n.inputs)) if (i) this.readers.set(i, [...(this.readers.get(i) ?? []), n]);
    }
  }

  alive(n: OnnxNode): boolean {
    return !this.dead.has(n);
  }

  producer(t: string): OnnxNode | undefined {
    return this.producers.get(t);
  }

  /** The node that alone reads `t` (and `t` is not a graph output), if it is `op`. */
  only(t: string, ...ops: string[]): OnnxNode | undefined {
    const r = this.readers.get(t) ?? [];
    return r.length === 1 && !this.outputs.has(t) && !r[0].domain && ops.includes(r[0].op) ? r[0] : undefined;
  }

  readersOf(t: string): OnnxNode[] {
    return this.readers.get(t) ?? [];
  }

  /** A constant with one value (any shape of one element), or undefined. */
  scalar(t: string): number | undefined {
    const v = this.values.get(t);
    return this.constant.has(t) && v && v.data.length === 1 ? v.data[0] : undefined;
  }

  constantTensor(t: string): OnnxTensor | undefined {
    return this.constant.has(t) ? this.values.get(t) : undefined;
  }

  rank(t: string): number {
    return this.values.get(t)?.shape.length ?? 0;
  }

  /** Whether `w` is a vector as long as the last axis of `t`: what a fused norm's scale and bias must be. */
  perChannel(w: string, t: string): boolean {
    const ws = this.values.get(w)?.shape,
      ts = this.values.get(t)?.shape;
    return !!ws && !!ts && ws.length === 1 && ts.length > 0 && ws[0] === ts[ts.length - 1];
  }

  /** The other input of a binary node, given one. */
  other(n: OnnxNode, one: string): string | undefined {
    return n.inputs[0] === one ? n.inputs[1] : n.inputs[1] === one ? n.inputs[0] : undefined;
  }

  /** Whether a reduction covers exactly the last axis of `input`, keeping it. */
  reducesLastAxis(n: OnnxNode, input: string): boolean {
    if (n.inputs[0] !== input || n.attrs.keepdims === 0) return false;
    const axes = n.inputs[1] ? this.constantTensor(n.inputs[1])?.data : (n.attrs.axes as number[] | undefined);
    const rank = this.rank(input);
    return !!axes && axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1);
  }

  replace(remove: OnnxNode[], node: OnnxNode): void {
    for (const n of remove) this.dead.add(n);
    const at = this.nodes.indexOf(remove[remove.length - 1]);
    this.nodes.splice(at, 0, node);
    node.outputs.forEach((o) => this.producers.set(o, node));
    node.inputs.forEach((i) => i && this.readers.set(i, [...this.readersOf(i).filter((r) => !this.dead.has(r)), node]));
  }
}

type Match = { remove: OnnxNode[]; node: OnnxNode } | undefined;
const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) <= 1e-6 * Math.abs(b);

/** d², as Pow(d, 2) or Mul(d, d), read only by the node that follows. */
function square(g: PatternGraph, d: string, readers: OnnxNode[]): OnnxNode | undefined {
  return readers.find(
    (r) =>
      (r.op === "Pow" && r.inputs[0] === d && g.scalar(r.inputs[1]) === 2) || (r.op === "Mul" && r.inputs[0] === d && r.inputs[1] === d),
  );
}

/** mean(sq) + eps, then sqrt: the three nodes, and eps. */
function rootMean(g: PatternGraph, sq: OnnxNode): { nodes: OnnxNode[]; epsilon: number; root: string } | undefined {
  const mean = g.only(sq.outputs[0], "ReduceMean");
  if (!mean || !g.reducesLastAxis(mean, sq.outputs[0])) return undefined;
  const add = g.only(mean.outputs[0], "Add");
  const epsilon = add && g.scalar(g.other(add, mean.outputs[0]) ?? "");
  const sqrt = add && g.only(add.outputs[0], "Sqrt");
  if (!add || epsilon === undefined || !sqrt) return undefined;
  return { nodes: [mean, add, sqrt], epsilon, root: sqrt.outputs[0] };
}

/** n = d / root (or d · (1 / root)). */
function divided(g: PatternGraph, d: string, root: string): OnnxNode[] | undefined {
  const div = g.only(root, "Div");
  if (div && div.inputs[0] === d && div.inputs[1] === root) return [div];
  const reciprocal = g.only(root, "Reciprocal");
  const mul = reciprocal && g.only(reciprocal.outputs[0], "Mul");
  return reciprocal && mul && g.other(mul, reciprocal.outputs[0]) === d ? [reciprocal, mul] : undefined;
}

/** · w then + b, each optional, each with a 1-D operand as long as the last axis (a weight, or an input). */
function affine(g: PatternGraph, t: string, withBias: boolean): { nodes: OnnxNode[]; scale?: string; bias?: string; out: string } {
  const nodes: OnnxNode[] = [];
  let out = t,
    scale: string | undefined,
    bias: string | undefined;
  const mul = g.only(out, "Mul");
  const w = mul && g.other(mul, out);
  if (mul && w && g.perChannel(w, out)) {
    nodes.push(mul);
    scale = w;
    out = mul.outputs[0];
  }
  const add = withBias ? g.only(out, "Add") : undefined;
  const b = add && g.other(add, out);
  if (add && b && g.perChannel(b, out)) {
    nodes.push(add);
    bias = b;
    out = add.outputs[0];
  }
  return { nodes, scale, bias, out };
}

/** (x − mean(x)) / sqrt(mean((x − mean(x))²) + eps) · w + b over the last axis. */
function layerNorm(g: PatternGraph, first: OnnxNode): Match {
  if (first.op !== "ReduceMean" || first.domain) return undefined;
  const x = first.inputs[0];
  if (!g.reducesLastAxis(first, x)) return undefined;
  const sub = g.only(first.outputs[0], "Sub");
  if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== first.outputs[0]) return undefined;
  const d = sub.outputs[0];
  const readers = g.readersOf(d);
  const sq = square(g, d, readers);
  if (!sq || readers.length !== 2) return undefined;
  const rm = rootMean(g, sq);
  const norm = rm && divided(g, d, rm.root);
  // d's two readers: the square and the node that divides it (Div, or the Mul by 1 / root).
  if (!rm || !norm || !readers.includes(norm[norm.length - 1])) return undefined;
  const a = affine(g, norm[norm.length - 1].outputs[0], true);
  if (!a.scale) return undefined;
  const remove = [first, sub, sq, ...rm.nodes, ...norm, ...a.nodes];
  const inputs = [x, a.scale, ...(a.bias ? [a.bias] : [])];
  return {
    remove,
    node: {
      name: `${first.name}/LayerNormalization`,
      op: "LayerNormalization",
      domain: "",
      inputs,
      outputs: [a.out],
      attrs: { axis: -1, epsilon: rm.epsilon },
    },
  };
}

/** x / sqrt(mean(x²) + eps) · w over the last axis. */
function rmsNorm(g: PatternGraph, sq: OnnxNode): Match {
  if (sq.domain || !(sq.op === "Pow" || sq.op === "Mul")) return undefined;
  const x = sq.inputs[0];
  if (square(g, x, [sq]) !== sq) return undefined;
  const rm = rootMean(g, sq);
  const norm = rm && divided(g, x, rm.root);
  if (!rm || !norm) return undefined;
  const a = affine(g, norm[norm.length - 1].outputs[0], false);
  if (!a.scale) return undefined;
  return {
    remove: [sq, ...rm.nodes, ...norm, ...a.nodes],
    node: {
      name: `${sq.name}/RMSNormalization`,
      op: "RMSNormalization",
      domain: "",
      inputs: [x, a.scale],
      outputs: [a.out],
      attrs: { axis: -1, epsilon: rm.epsilon },
    },
  };
}

/** x · ½ · phi with phi = 1 + erf(x / √2) (or the tanh form), the factors in either order: the nodes and the result. */
function halfTimes(g: PatternGraph, x: string, one: OnnxNode): { nodes: OnnxNode[]; out: string } | undefined {
  const phi = one.outputs[0];
  const last = g.only(phi, "Mul");
  if (!last) return undefined;
  const partner = g.other(last, phi)!;
  if (partner === x) {
    // (x · phi) · ½
    const outer = g.only(last.outputs[0], "Mul");
    return outer && near(g.scalar(g.other(outer, last.outputs[0]) ?? ""), 0.5)
      ? { nodes: [last, outer], out: outer.outputs[0] }
      : undefined;
  }
  // (x · ½) · phi
  const half = g.producer(partner);
  const other = half && g.other(half, x);
  if (half?.op === "Mul" && !half.domain && g.only(half.outputs[0], "Mul") === last && other && near(g.scalar(other), 0.5))
    return { nodes: [half, last], out: last.outputs[0] };
  return undefined;
}

/** 1 + f, read only by the node that follows: the Add (or Sum) node. */
function plusOne(g: PatternGraph, f: string): OnnxNode | undefined {
  const plus = g.only(f, "Add", "Sum");
  return plus && plus.inputs.length === 2 && near(g.scalar(g.other(plus, f) ?? ""), 1) ? plus : undefined;
}

/** x · ½ · (1 + erf(x / √2)). */
function gelu(g: PatternGraph, erf: OnnxNode): Match {
  if (erf.op !== "Erf" || erf.domain) return undefined;
  const scaled = g.producer(erf.inputs[0]);
  if (!scaled || g.only(scaled.outputs[0], "Erf") !== erf) return undefined;
  const x =
    scaled.op === "Div" && near(g.scalar(scaled.inputs[1]), Math.SQRT2)
      ? scaled.inputs[0]
      : scaled.op === "Mul"
        ? [0, 1].map((i) => (near(g.scalar(scaled.inputs[1 - i]), Math.SQRT1_2) ? scaled.inputs[i] : undefined)).find(Boolean)
        : undefined;
  const plus = x && plusOne(g, erf.outputs[0]);
  const tail = plus && halfTimes(g, x, plus);
  if (!x || !plus || !tail) return undefined;
  return {
    remove: [scaled, erf, plus, ...tail.nodes],
    node: { name: `${erf.name}/Gelu`, op: "Gelu", domain: "", inputs: [x], outputs: [tail.out], attrs: {} },
  };
}

/** x · ½ · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), GPT-2's GELU. */
function geluTanh(g: PatternGraph, tanh: OnnxNode): Match {
  if (tanh.op !== "Tanh" || tanh.domain) return undefined;
  const outer = g.producer(tanh.inputs[0]);
  const inner =
    outer?.op === "Mul" && g.only(outer.outputs[0], "Tanh") === tanh
      ? [0, 1].map((i) => (near(g.scalar(outer.inputs[1 - i]), Math.sqrt(2 / Math.PI)) ? outer.inputs[i] : undefined)).find(Boolean)
      : undefined;
  const sum = inner ? g.producer(inner) : undefined;
  if (!outer || !sum || sum.op !== "Add" || g.only(sum.outputs[0], "Mul") !== outer) return undefined;
  for (const [x, cubic] of [
    [sum.inputs[0], sum.inputs[1]],
    [sum.inputs[1], sum.inputs[0]],
  ]) {
    const scale = g.producer(cubic);
    const cube =
      scale?.op === "Mul"
        ? g.producer([0, 1].map((i) => (near(g.scalar(scale.inputs[1 - i]), 0.044715) ? scale.inputs[i] : "")).find(Boolean) ?? "")
        : undefined;
    if (!scale || !cube || cube.op !== "Pow" || cube.inputs[0] !== x || g.scalar(cube.inputs[1]) !== 3) continue;
    if (g.only(cube.outputs[0], "Mul") !== scale || g.only(scale.outputs[0], "Add") !== sum) continue;
    const plus = plusOne(g, tanh.outputs[0]);
    const tail = plus && halfTimes(g, x, plus);
    if (!plus || !tail) return undefined;
    const remove = [cube, scale, sum, outer, tanh, plus, ...tail.nodes];
    return {
      remove,
      node: { name: `${tanh.name}/Gelu`, op: "Gelu", domain: "", inputs: [x], outputs: [tail.out], attrs: { approximate: "tanh" } },
    };
  }
  return undefined;
}

const PATTERNS: [string, (g: PatternGraph, n: OnnxNode) => Match][] = [
  ["LayerNormalization", layerNorm],
  ["RMSNormalization", rmsNorm],
  ["Gelu", gelu],
  ["Gelu", geluTanh],
];
