/**
 * Index, scan and selection ops lowered to IR ops every backend has: CumSum (a product with a
 * triangular constant through Linear), OneHot (a comparison with the axis's positions), GatherND
 * (the index tuples folded into row numbers of the data seen as a table, then Gather), ScatterND
 * and ScatterElements (a one-hot of the target positions: where any update lands, the sum of those
 * landing there), TopK (k rounds of the extreme and its first index, each taking it out of the next).
 */
import { stridesOf } from "../../ir/ops/tensor.js";
import { axis } from "./layout-ops.js";
import { argExtreme, nonNegative, type Lowerer, type Lowering } from "./lower-ops.js";
import { pad } from "./lower-spatial.js";
import { attr } from "./read.js";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** CumSum along a build-time axis: the axis moved last, times a [K, K] 0/1 matrix (exclusive, reverse), moved back. */
const cumSumOp: Lowering = (l, n) => {
  const [x, axisIn] = n.inputs;
  const X = l.shape(x);
  if (!l.isFloat(x)) l.fail("CumSum of an integer tensor is not supported");
  const a = axis({ node: n.name }, l.value(axisIn).data[0], X.length);
  const K = X[a];
  const exclusive = attr(n, "exclusive", 0) === 1,
    reverse = attr(n, "reverse", 0) === 1;
  // y[i] = Σ_k w[i, k] x[k]: k ≤ i forward, k ≥ i reversed; k = i left out when exclusive.
  const w = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let k = 0; k < K; k++) w[i * K + k] = +((reverse ? k >= i : k <= i) && !(exclusive && k === i));
  const perm = [...range(X.length).filter((d) => d !== a), a];
  const back = range(X.length).map((d) => perm.indexOf(d));
  const y = l.linear(l.transpose(l.ir(x), perm), l.constantData(w, [K, K]));
  return [l.transpose(y, back)];
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
  const table = l.reshape(l.ir(data), [size(D.slice(0, b + k)), size(rest)]);
  let row = tupleRows(l, l.ir(indices), [...tuples, k], indexed);
  if (b > 0) {
    // Each tuple's batch (its position in the first b axes) times the rows a batch holds.
    const perBatch = size(tuples.slice(b));
    const offsets = Int32Array.from(range(size(tuples)), (i) => Math.floor(i / perBatch) * size(indexed));
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
  return row ?? l.constantData(new Int32Array(size(tuples)), tuples);
}

/** Updates that land on the data's rows, by a 0/1 matrix hits [rows, M] of where each of M updates lands: the result's rows. */
function scatterRows(l: Lowerer, data: string, hits: string, updates: string, reduction: string): string {
  const summed = l.matmul(hits, undefined, updates);
  if (reduction === "add") return l.map("add", [data, summed]);
  if (reduction !== "none") return l.fail(`reduction "${reduction}" is not supported (none and add are)`);
  // Duplicate indices are undefined behaviour without a reduction; here they add up.
  return l.map("where", [l.reduce("max", hits, [1]), summed, data]);
}

const reductionOf = (n: { attrs: Record<string, unknown> }) => (typeof n.attrs.reduction === "string" ? n.attrs.reduction : "none");
const zeroOne = (l: Lowerer, condition: string) => l.map("where", [condition, l.scalar(1), l.scalar(0)]);

/** ScatterND: data with updates [M..., R...] written (or added) at the rows its index tuples name. */
const scatterNdOp: Lowering = (l, n) => {
  const [data, indices, updates] = n.inputs;
  if (!l.isFloat(data)) l.fail("ScatterND of an integer tensor is not supported");
  const D = l.shape(data),
    I = l.shape(indices);
  const k = I.at(-1)!;
  const rows = size(D.slice(0, k)),
    R = size(D.slice(k)),
    M = size(I.slice(0, -1));
  const row = l.reshape(tupleRows(l, l.ir(indices), I, D.slice(0, k)), [1, M]);
  const iota = l.constantData(Float32Array.from(range(rows)), [rows, 1]);
  const hits = zeroOne(l, l.map("equal", [iota, row]));
  const y = scatterRows(l, l.reshape(l.ir(data), [rows, R]), hits, l.reshape(l.ir(updates), [M, R]), reductionOf(n));
  return [l.reshape(y, D)];
};

/**
 * ScatterElements (and opset 9's Scatter): out[j with j_axis = indices[j]] = updates[j]. Indices and
 * updates are padded to the data's extent off the axis (index −1 lands nowhere), the axis moved
 * last, and each row of the data scattered into from its own row of updates.
 */
const scatterElementsOp: Lowering = (l, n) => {
  const [data, indices, updates] = n.inputs;
  if (!l.isFloat(data)) l.fail("ScatterElements of an integer tensor is not supported");
  const D = l.shape(data),
    J = l.shape(indices);
  const a = axis({ node: n.name }, attr(n, "axis", 0), D.length);
  const K = D[a];
  const grow = J.map((d, i) => (i === a ? 0 : D[i] - d));
  const zeros = J.map(() => 0);
  const ids = pad(l, nonNegative(l, l.ir(indices), K), zeros, grow, "constant", -1, true);
  const ups = pad(l, l.ir(updates), zeros, grow, "constant", 0);
  const perm = [...range(D.length).filter((d) => d !== a), a];
  const back = range(D.length).map((d) => perm.indexOf(d));
  const P = perm.slice(0, -1).map((d) => D[d]),
    L = J[a];
  const rows = size(P);
  const idsLast = l.reshape(l.transpose(ids, perm), [rows, 1, L]);
  const iota = l.constantData(Float32Array.from(range(K)), [1, K, 1]);
  const hits = zeroOne(l, l.map("equal", [idsLast, iota])); // [rows, K, L]
  const upsLast = l.reshape(l.transpose(ups, perm), [rows, L, 1]);
  const summed = l.matmul(hits, undefined, upsLast); // [rows, K, 1]
  const dataLast = l.reshape(l.transpose(l.ir(data), perm), [rows, K, 1]);
  const reduction = reductionOf(n);
  let y: string;
  if (reduction === "add") y = l.map("add", [dataLast, summed]);
  else if (reduction === "none") y = l.map("where", [l.reduce("max", hits, [2]), summed, dataLast]);
  else return l.fail(`reduction "${reduction}" is not supported (none and add are)`);
  return [l.transpose(l.reshape(y, [...P, K]), back)];
};

/** TopK along an axis: k rounds, each the extreme of what is left and its first index, then taken out (±∞). */
const topKOp: Lowering = (l, n) => {
  const [x, kIn] = n.inputs;
  const X = l.shape(x);
  if (!l.isFloat(x)) l.fail("TopK of an integer tensor is not supported");
  const a = axis({ node: n.name }, attr(n, "axis", -1), X.length);
  const k = kIn ? l.value(kIn).data[0] : attr(n, "k", 0);
  if (!(k >= 1 && k <= X[a])) l.fail(`TopK's k must be in [1, ${X[a]}], got ${k}`);
  const largest = attr(n, "largest", 1) === 1;
  const iota = l.constantData(
    Float32Array.from(range(X[a])),
    X.map((d, i) => (i === a ? d : 1)),
  );
  let rest = l.ir(x);
  const values: string[] = [],
    indices: string[] = [];
  for (let r = 0; r < k; r++) {
    values.push(l.reduce(largest ? "max" : "min", rest, [a]));
    const index = argExtreme(l, rest, a, largest ? "max" : "min", false);
    indices.push(index);
    if (r + 1 < k) rest = l.map("where", [l.map("equal", [iota, index]), l.scalar(largest ? -Infinity : Infinity), rest]);
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
