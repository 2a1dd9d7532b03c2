/**
 * Index, scan and selection ops lowered to IR ops every backend has: CumSum (log₂K rounds of
 * shifted adds), OneHot (a comparison with the axis's positions), GatherND
 * (the index tuples folded into row numbers of the data seen as a table, then Gather), ScatterND
 * and ScatterElements (where an update lands, it; elsewhere the data), TopK (k rounds of the
 * extreme and its first index). No lowering multiplies by a 0/1 matrix: 0 · ∞ would spread NaN.
 */
import { elementCount } from "../../ir/graph.js";
import { stridesOf } from "../../ir/ops/tensor.js";
import { axis } from "./layout-ops.js";
import { nonNegative, type Lowerer, type Lowering } from "./lower-ops.js";
import { pad } from "./lower-spatial.js";
import { attr } from "./read.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * CumSum along a build-time axis: log₂K rounds of adding the running sums shifted by 1, 2, 4, ...
 * (Hillis–Steele; toward lower indices when reversed), after a shift by one when exclusive. Only
 * sums, so an infinity stays where it belongs.
 */
const cumSumOp: Lowering = (l, n) => {
  const [x, axisIn] = n.inputs;
  const X = l.shape(x);
  if (!l.isFloat(x)) l.fail("CumSum of an integer tensor is not supported");
  const a = axis({ node: n.name }, l.value(axisIn).data[0], X.length);
  const K = X[a];
  const reverse = attr(n, "reverse", 0) === 1;
  const zeros = X.map(() => 0),
    by = (s: number) => X.map((_, i) => (i === a ? s : 0));
  // t moved s places along the axis (toward the end, or the start when reversed), zeros filling in.
  const shift = (t: string, s: number) =>
    reverse ? pad(l, l.slice(t, a, s, K - s), zeros, by(s), "constant") : pad(l, l.slice(t, a, 0, K - s), by(s), zeros, "constant");
  let y = l.ir(x);
  if (attr(n, "exclusive", 0) === 1) y = K > 1 ? shift(y, 1) : l.expand(l.scalar(0), X);
  for (let s = 1; s < K; s *= 2) y = l.map("add", [y, shift(y, s)]);
  return [y];
};

/** OneHot: values[1] where the index (negative from the end, truncated toward zero) equals the position on the new axis, values[0] elsewhere. */
const oneHotOp: Lowering = (l, n) => {
  const [indices, depthIn, values] = n.inputs;
  const I = l.shape(indices);
  const depth = Math.trunc(l.value(depthIn).data[0]);
  if (!(depth >= 1)) l.fail(`OneHot's depth must be at least 1, got ${depth}`);
  const at = axis({ node: n.name }, attr(n, "axis", -1), I.length + 1);
  const ids = l.isFloat(indices) ? l.map("trunc", [l.ir(indices)], "i32") : l.ir(indices);
  const within = nonNegative(l, ids, depth);
  const withAxis = [...I.slice(0, at), 1, ...I.slice(at)];
  const positions = l.constantData(
    Float32Array.from(range(depth)),
    withAxis.map((_, d) => (d === at ? depth : 1)),
  );
  const hit = l.map("equal", [l.reshape(within, withAxis), positions]);
  const dtype = l.dtype(values);
  const v = l.ir(values);
  const pick = (k: number) => l.reshape(l.slice(v, 0, k, 1), []);
  return [l.map("where", [hit, pick(1), pick(0)], dtype)];
};

/**
 * GatherND with batch_dims b: data [B..., D_b, ..., D_{b+k-1}, R...], indices [B..., M..., k]. The
 * data is a table of rows R, one per (batch, index tuple); each tuple's row number is the batch's
 * offset plus Σ_j index_j · stride_j (negative indices counted from the end of their axis).
 */
const gatherNdOp: Lowering = (l, n) => {
  const [data, indices] = n.inputs;
  const D = l.shape(data),
    I = l.shape(indices);
  const b = attr(n, "batch_dims", 0);
  const k = I.at(-1)!;
  if (b + k > D.length) l.fail(`GatherND: ${k} indices per tuple after ${b} batch axes exceed the data's rank ${D.length}`);
  const indexed = D.slice(b, b + k),
    rest = D.slice(b + k);
  const tuples = I.slice(0, -1);
  const table = l.reshape(l.ir(data), [elementCount(D.slice(0, b + k)), elementCount(rest)]);
  let row = tupleRows(l, l.ir(indices), [...tuples, k], indexed);
  if (b > 0) {
    // Each tuple's batch (its position in the first b axes) times the rows a batch holds.
    const perBatch = elementCount(tuples.slice(b));
    const offsets = Int32Array.from(range(elementCount(tuples)), (i) => Math.floor(i / perBatch) * elementCount(indexed));
    row = l.map("add", [row, l.constantData(offsets, tuples)], "i32");
  }
  const rows = l.gatherRows(table, row);
  return [l.reshape(rows, [...tuples, ...rest])];
};

/** Each index tuple's row in the data seen as [Π D[0..k), Π D[k..)]: Σ_j index_j · stride_j, negatives from the end. */
function tupleRows(l: Lowerer, ids: string, I: number[], indexed: number[]): string {
  const strides = stridesOf(indexed);
  const tuples = I.slice(0, -1);
  let row: string | undefined;
  for (let j = 0; j < indexed.length; j++) {
    const component = l.reshape(nonNegative(l, l.slice(ids, I.length - 1, j, 1), indexed[j]), tuples);
    const term = strides[j] === 1 ? component : l.map("mul", [component, l.scalar(strides[j])], "i32");
    row = row ? l.map("add", [row, term], "i32") : term;
  }
  return row ?? l.constantData(new Int32Array(elementCount(tuples)), tuples);
}

type Reduction = "none" | "add" | "mul" | "max" | "min";
const REDUCTIONS: readonly Reduction[] = ["none", "add", "mul", "max", "min"];

const reductionOf = (l: Lowerer, n: { attrs: Record<string, unknown> }): Reduction => {
  const r = typeof n.attrs.reduction === "string" ? n.attrs.reduction : "none";
  if (!REDUCTIONS.includes(r as Reduction)) l.fail(`reduction "${r}" is not supported (${REDUCTIONS.join(", ")} are)`);
  return r as Reduction;
};

/**
 * How a scatter with a reduction folds the updates landing on one element: the map that combines
 * two values, and the reduction over several with the value that leaves one unchanged.
 */
const FOLDS = {
  add: { map: "add", reduce: "sum", identity: 0 },
  mul: { map: "mul", reduce: "prod", identity: 1 },
  max: { map: "max", reduce: "max", identity: -Infinity },
  min: { map: "min", reduce: "min", identity: Infinity },
} as const;

/**
 * The data where `hits` [rows, M | K, L...] names it, folded with the updates `ups` landing there
 * (the reduced axis `axis` of hits and ups): each element's updates combined by the reduction, then
 * with the data; without one, their sum replaces the data (duplicates are undefined behaviour).
 */
function scattered(
  l: Lowerer,
  reduction: Reduction,
  data: string,
  hits: string,
  ups: string,
  axis: number,
  shape: { data: number[]; any: number[] },
): string {
  const folded = (identity: number, fn: "sum" | "prod" | "max" | "min") =>
    l.reshape(l.reduce(fn, l.map("where", [hits, ups, l.scalar(identity)]), [axis]), shape.data);
  const any = l.reshape(l.reduce("max", zeroOne(l, hits), [axis]), shape.any);
  if (reduction === "none") return l.map("where", [any, folded(0, "sum"), data]);
  const f = FOLDS[reduction];
  const all = folded(f.identity, f.reduce);
  // add and mul: the identity changes nothing where no update lands; max and min keep the data there.
  return reduction === "add" || reduction === "mul" ? l.map(f.map, [data, all]) : l.map("where", [any, l.map(f.map, [data, all]), data]);
}
const zeroOne = (l: Lowerer, condition: string) => l.map("where", [condition, l.scalar(1), l.scalar(0)]);

/** Run-time scatters build a one-hot of every (target, update) pair: refused past this many elements. */
const MAX_SCATTER_PAIRS = 2 ** 26;

/**
 * ScatterND: data with updates [M..., R...] written (or folded in: add, mul, max, min) at the rows its index tuples name.
 * Indices known at build time: for each data row, the updates landing on it, gathered (no
 * arithmetic on rows nothing lands on). At run time: each row's updates picked by a comparison of
 * its number with every tuple's row (where, never a product, so an infinity lands only where it is sent).
 */
const scatterNdOp: Lowering = (l, n) => {
  const [data, indices, updates] = n.inputs;
  if (!l.isFloat(data)) l.fail("ScatterND of an integer tensor is not supported");
  const D = l.shape(data),
    I = l.shape(indices);
  const k = I.at(-1)!;
  const rows = elementCount(D.slice(0, k)),
    R = elementCount(D.slice(k)),
    M = elementCount(I.slice(0, -1));
  const reduction = reductionOf(l, n);
  const table = l.reshape(l.ir(data), [rows, R]);
  const ups = l.reshape(l.ir(updates), [M, R]);
  if (l.isConstant(indices)) {
    const idx = l.value(indices).data;
    const strides = stridesOf(D.slice(0, k));
    const landing: number[][] = range(rows).map(() => []);
    for (let m = 0; m < M; m++) {
      let row = 0;
      for (let j = 0; j < k; j++) {
        const v = idx[m * k + j],
          at = v < 0 ? v + D[j] : v;
        if (!(at >= 0 && at < D[j])) l.fail(`ScatterND index ${v} is outside axis ${j} of size ${D[j]}`);
        row += at * strides[j];
      }
      landing[row].push(m);
    }
    // One layer per update a row receives: the last one only without a reduction.
    const layers = reduction === "none" ? 1 : Math.max(...landing.map((u) => u.length));
    let y = table;
    for (let j = 0; j < layers; j++) {
      const pick = (u: number[]) => (reduction === "none" ? u.at(-1) : u[j]);
      const ids = Int32Array.from(landing, (u) => pick(u) ?? 0);
      const hit = l.constantData(
        Float32Array.from(landing, (u) => +(pick(u) !== undefined)),
        [rows, 1],
      );
      const picked = l.gatherRows(ups, l.constantData(ids, [rows]));
      y = l.map("where", [hit, reduction === "none" ? picked : l.map(FOLDS[reduction].map, [y, picked]), y]);
    }
    return [l.reshape(y, D)];
  }
  if (rows * M * R > MAX_SCATTER_PAIRS)
    l.fail(
      `ScatterND with indices known only at run time pairs ${rows} rows with ${M} updates of ${R}: past ${MAX_SCATTER_PAIRS} elements`,
    );
  const row = l.reshape(tupleRows(l, l.ir(indices), I, D.slice(0, k)), [1, M, 1]);
  const hits = l.map("equal", [l.constantData(Float32Array.from(range(rows)), [rows, 1, 1]), row]); // [rows, M, 1]
  return [l.reshape(scattered(l, reduction, table, hits, l.reshape(ups, [1, M, R]), 1, { data: [rows, R], any: [rows, 1] }), D)];
};

/**
 * ScatterElements (and opset 9's Scatter): out[j with j_axis = indices[j]] = updates[j]. Indices and
 * updates are padded to the data's extent off the axis (index −1 lands nowhere), the axis moved
 * last, and each row of the data takes from its own row of updates those whose index names the
 * position (a comparison and where, never a product).
 */
const scatterElementsOp: Lowering = (l, n) => {
  const [data, indices, updates] = n.inputs;
  if (!l.isFloat(data)) l.fail("ScatterElements of an integer tensor is not supported");
  const D = l.shape(data),
    J = l.shape(indices);
  const a = axis({ node: n.name }, attr(n, "axis", 0), D.length);
  const K = D[a];
  const reduction = reductionOf(l, n);
  const grow = J.map((d, i) => (i === a ? 0 : D[i] - d));
  const zeros = J.map(() => 0);
  const ids = pad(l, nonNegative(l, l.ir(indices), K), zeros, grow, "constant", -1, true);
  const ups = pad(l, l.ir(updates), zeros, grow, "constant", 0);
  const perm = [...range(D.length).filter((d) => d !== a), a];
  const back = range(D.length).map((d) => perm.indexOf(d));
  const P = perm.slice(0, -1).map((d) => D[d]),
    L = J[a];
  const rows = elementCount(P);
  if (rows * K * L > MAX_SCATTER_PAIRS)
    l.fail(`ScatterElements pairs ${rows * K} positions with ${L} updates each: past ${MAX_SCATTER_PAIRS} elements`);
  const hits = l.map("equal", [l.reshape(l.transpose(ids, perm), [rows, 1, L]), l.constantData(Float32Array.from(range(K)), [1, K, 1])]);
  const upsLast = l.reshape(l.transpose(ups, perm), [rows, 1, L]);
  const dataLast = l.reshape(l.transpose(l.ir(data), perm), [rows, K, 1]);
  const y = scattered(l, reduction, dataLast, hits, upsLast, 2, { data: [rows, K, 1], any: [rows, K, 1] });
  return [l.transpose(l.reshape(y, [...P, K]), back)];
};

/**
 * TopK along an axis: k rounds, each the extreme of the elements not yet taken and the first index
 * holding it (a NaN, equal to nothing, gives the first index not yet taken), its value read
 * at that index. Taken elements are tracked apart from the values, so infinities stay distinct.
 */
const topKOp: Lowering = (l, n) => {
  const [x, kIn] = n.inputs;
  const X = l.shape(x);
  if (!l.isFloat(x)) l.fail("TopK of an integer tensor is not supported");
  const a = axis({ node: n.name }, attr(n, "axis", -1), X.length);
  const K = X[a];
  const k = kIn ? l.value(kIn).data[0] : attr(n, "k", 0);
  if (!(k >= 1 && k <= K)) l.fail(`TopK's k must be in [1, ${K}], got ${k}`);
  const largest = attr(n, "largest", 1) === 1;
  const iota = l.constantData(
    Float32Array.from(range(K)),
    X.map((d, i) => (i === a ? d : 1)),
  );
  const xs = l.ir(x);
  let taken: string | undefined; // 1 where an earlier round took the element
  const values: string[] = [],
    indices: string[] = [];
  for (let r = 0; r < k; r++) {
    const candidates = taken ? l.map("where", [taken, l.scalar(largest ? -Infinity : Infinity), xs]) : xs;
    let hit = zeroOne(l, l.map("equal", [candidates, l.reduce(largest ? "max" : "min", candidates, [a])]));
    if (taken) hit = l.map("mul", [hit, l.map("sub", [l.scalar(1), taken])]);
    let index = l.reduce("min", l.map("where", [hit, iota, l.scalar(K)]), [a]);
    const firstFree = taken ? l.reduce("min", l.map("where", [taken, l.scalar(K), iota]), [a]) : l.scalar(0);
    index = l.map("where", [l.map("equal", [index, l.scalar(K)]), firstFree, index]);
    const chosen = zeroOne(l, l.map("equal", [iota, index]));
    values.push(l.reduce("sum", l.map("where", [chosen, xs, l.scalar(0)]), [a]));
    indices.push(index);
    taken = taken ? l.map("max", [taken, chosen]) : chosen;
  }
  return [l.concat(values, a), l.map("trunc", [l.concat(indices, a)], "i32")];
};

export const INDEXING_LOWERINGS: Readonly<Record<string, Lowering>> = {
  CumSum: cumSumOp,
  OneHot: oneHotOp,
  GatherND: gatherNdOp,
  ScatterND: scatterNdOp,
  ScatterElements: scatterElementsOp,
  Scatter: scatterElementsOp,
  TopK: topKOp,
};
