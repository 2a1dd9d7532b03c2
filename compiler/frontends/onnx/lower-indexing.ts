/**
 * Index and scan ops lowered to IR ops every backend has: CumSum (a product with a triangular
 * constant through Linear), OneHot (a comparison with the axis's positions), GatherND (the index
 * tuples folded into row numbers of the data seen as a table, then Gather).
 */
import { stridesOf } from "../../ir/ops/tensor.js";
import { axis } from "./layout-ops.js";
import { nonNegative, type Lowerer, type Lowering } from "./lower-ops.js";
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
  const strides = stridesOf(indexed);
  const ids = l.ir(indices);
  let row: string | undefined;
  for (let j = 0; j < k; j++) {
    const component = l.reshape(nonNegative(l, l.slice(ids, I.length - 1, j, 1), indexed[j]), tuples);
    const term = strides[j] === 1 ? component : l.map("mul", [component, l.scalar(strides[j])], "i32");
    row = row ? l.map("add", [row, term], "i32") : term;
  }
  if (b > 0) {
    // Each tuple's batch (its position in the first b axes) times the rows a batch holds.
    const perBatch = size(tuples.slice(b));
    const offsets = Int32Array.from(range(size(tuples)), (i) => Math.floor(i / perBatch) * size(indexed));
    row = l.map("add", [row ?? l.constantData(new Int32Array(size(tuples)), tuples), l.constantData(offsets, tuples)], "i32");
  }
  const rows = l.gatherRows(table, row ?? l.constantData(new Int32Array(size(tuples)), tuples));
  return [l.reshape(rows, [...tuples, ...rest])];
};

export const INDEXING_LOWERINGS: Readonly<Record<string, Lowering>> = {
  CumSum: cumSumOp,
  OneHot: oneHotOp,
  GatherND: gatherNdOp,
};
