/**
 * One symbolic dimension kept symbolic (`--shape input_ids=1x?128`): one artifact for any length up
 * to the maximum, its memory planned for the maximum.
 *
 * The graph is lowered four times, at the maximum, one and two less, and 2, and the IR graphs are
 * merged. They must be the same nodes in the same order; every number that differs between them
 * must be a polynomial of degree 2 or less in the length T (fitted on the first three, checked on
 * the fourth: sizes and offsets a·T + b, the strides of a [heads, T, T] tensor T²), and becomes an
 * attribute entry such as "2*T+0" (ir/affine.ts) that the interpreter binds and the wasm backend writes as
 * an expression of forward()'s T; a tensor dimension that differs must be T itself. A constant
 * folded from the length (a position table's first T rows) must read the same at every length
 * through the maximum's layout: it is kept at the maximum and read through a Copy. Anything else —
 * a node that appears only at some lengths, a number that is not affine in the length, a constant
 * whose values change — is refused before any work, naming what and where.
 */
import { SeecError } from "../../../runtime/errors.js";
import { affineEntry, dimEntry, Poly } from "../../ir/affine.js";
import type { AttrValue, Attrs, Dim, Graph, Node, Value } from "../../ir/graph.js";
import { stridesOf } from "../../ir/ops/tensor.js";

/** The IR's name for the dimension: the token count T, forward()'s argument. */
export const DYNAMIC_DIM = "T";

/**
 * The lengths the graph is lowered at, the maximum first: a polynomial of degree 2 in the length
 * (a [heads, T, T] tensor's strides hold T²) fitted on the first three, checked on 2 and on 1 (what
 * holds from 2 up may not at 1: a slice of the last two tokens, an index 1 along T).
 */
export const probeLengths = (max: number) => [max, max - 1, max - 2, 2, 1];
/** The smallest maximum that keeps the probe lengths distinct. */
export const MIN_DYNAMIC_MAX = 5;

/** The lowerings at probeLengths(max) merged into one graph whose dimension T runs up to `max`. */
export function mergeLowerings(graphs: readonly Graph[], max: number, what: string, file: string): Graph {
  const lengths = probeLengths(max);
  const refuse = (message: string, at?: string): never => {
    throw new SeecError("unsupported.dynamic_shape", `${what} cannot stay symbolic: ${message}`, {
      file,
      at,
      hint: `build at a fixed length (--shape with a number), once per length you need`,
    });
  };
  /** The coefficients (constant first) of the polynomial of degree ≤ 2 through the values, or a refusal naming `where`. */
  const fit = (xs: readonly number[], where: string, at?: string, free: readonly boolean[] = []): number[] => {
    // A value nothing reads at some length (a Copy's stride along a dimension of 1) fits anything there.
    if (free.slice(0, 3).some(Boolean))
      return free.every(Boolean) || free.slice(0, 3).every(Boolean) ? [xs[0]] : refuse(`${where} cannot be fitted`, at);
    const [t0, t1] = lengths;
    const c2 = (xs[0] - 2 * xs[1] + xs[2]) / 2,
      c1 = xs[0] - xs[1] - c2 * (t0 * t0 - t1 * t1),
      c0 = xs[0] - c1 * t0 - c2 * t0 * t0;
    if (lengths.slice(3).some((t, k) => !free[3 + k] && c0 + c1 * t + c2 * t * t !== xs[3 + k]))
      refuse(`${where} is ${xs.map((x, i) => `${x} at ${lengths[i]}`).join(", ")}: not a polynomial of degree 2 or less in the length`, at);
    return [c0, c1, c2];
  };
  const [g, ...others] = graphs;
  const at = (n: Node) => `node ${n.name} (${n.op})`;

  const nodes: Node[] = g.nodes.map((n, i) => {
    const same = others.map((o) => o.nodes[i]);
    if (same.some((m) => !m || m.op !== n.op || m.name !== n.name || m.inputs.join() !== n.inputs.join()))
      refuse(
        `its nodes change with the length (node ${i}, ${n.name} (${n.op}) reading ${n.inputs.join(", ")} at ${lengths[0]} tokens, is ${same
          .map((m, k) => (m ? `${m.name} (${m.op}) reading ${m.inputs.join(", ")}` : "absent") + ` at ${lengths[k + 1]}`)
          .join("; ")})`,
      );
    const attrs: Record<string, AttrValue> = {};
    for (const [key, v] of Object.entries(n.attrs)) {
      const vs = same.map((m) => m.attrs[key]);
      if (vs.every((w) => JSON.stringify(w) === JSON.stringify(v))) {
        attrs[key] = v;
        continue;
      }
      if (typeof v === "number") {
        attrs[key] = dimEntry(DYNAMIC_DIM, fit([v, ...(vs as number[])], `attribute ${key}`, at(n)));
      } else if (typeof v === "object" && vs.every((w) => typeof w === "object" && w.length === v.length)) {
        const shapes = [n, ...same].map((m) => m.attrs.shape as readonly number[] | undefined);
        attrs[key] = v.map((x, j) => {
          const xs = [x, ...vs.map((w) => (w as readonly number[])[j])];
          if (xs.some((y) => typeof y !== "number")) refuse(`attribute ${key}[${j}] is not numeric`, at(n));
          const free = n.op === "Copy" && key === "strides" ? shapes.map((shape) => shape?.[j] === 1) : [];
          return dimEntry(DYNAMIC_DIM, fit(xs as number[], `attribute ${key}[${j}]`, at(n), free));
        });
      } else refuse(`attribute ${key} changes with the length`, at(n));
    }
    return { ...n, attrs: attrs as Attrs };
  });

  const values = new Map<string, Value>();
  const slices: Node[] = [];
  for (const [name, v] of g.values) {
    const same = others.map((o) => o.values.get(name));
    if (same.some((w) => !w || w.kind !== v.kind || w.dtype !== v.dtype || w.shape.length !== v.shape.length))
      refuse(`tensor "${name}" exists at some lengths only, or changes its type or rank`);
    const shape: Dim[] = v.shape.map((d, j) => {
      const ds = [d, ...same.map((w) => w!.shape[j])] as number[];
      if (ds.every((x) => x === d)) return d;
      const c = fit(ds, `dimension ${j} of tensor "${name}"`);
      if (c[0] !== 0 || c[1] !== 1 || c[2] !== 0)
        refuse(`dimension ${j} of tensor "${name}" is ${Poly.of(dimEntry(DYNAMIC_DIM, c), DYNAMIC_DIM)}; only T itself can be symbolic`);
      return DYNAMIC_DIM;
    });
    const varies = shape.some((d) => d === DYNAMIC_DIM);
    if (v.kind === "const") {
      if (!varies) {
        for (const w of same)
          if (v.data && w!.data && !sameValues(v.data, w!.data)) refuse(`the constant "${name}" is computed from the length`);
        values.set(name, v);
        continue;
      }
      // Read at every length through the maximum's layout: the same values where both have them.
      const full = v.shape as number[];
      for (const [k, w] of same.entries()) {
        if (!v.data || !w!.data || !readsAsPrefix(v.data, full, w!.data, w!.shape as number[]))
          refuse(`the constant "${name}" at ${lengths[k + 1]} tokens is not the first rows of the one at ${lengths[0]}`);
      }
      const source = `${name}:max`;
      values.set(source, { ...v, name: source });
      values.set(name, { ...v, kind: "activation", shape, data: undefined });
      slices.push({
        name,
        op: "Copy",
        inputs: [source],
        outputs: [name],
        attrs: {
          shape: shape.map((d) => (d === DYNAMIC_DIM ? affineEntry(DYNAMIC_DIM, 1, 0) : d)),
          strides: stridesOf(full),
          offset: 0,
        },
      });
      continue;
    }
    values.set(name, { ...v, shape });
  }
  return { ...g, values, nodes: [...slices, ...nodes], dims: { ...g.dims, [DYNAMIC_DIM]: { max } } };
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Whether `small` (shape S) holds, at every index, the value `full` (shape F, F ≥ S) holds there. */
function readsAsPrefix(full: ArrayLike<number>, F: number[], small: ArrayLike<number>, S: number[]): boolean {
  const fs = stridesOf(F),
    ss = stridesOf(S);
  for (let i = 0; i < small.length; i++) {
    let at = 0;
    for (let d = 0; d < S.length; d++) at += (Math.floor(i / ss[d]) % S[d]) * fs[d];
    if (!Object.is(full[at], small[i])) return false;
  }
  return true;
}
