/**
 * Det: the determinant of each [M, M] matrix of [..., M, M], by Gaussian elimination with partial
 * pivoting (LU, as ONNX Runtime's Eigen computes it), unrolled over the M columns: at each, the row
 * of the largest |entry| at or below the diagonal (the first where several tie) is swapped up, a
 * swap flips the sign, the pivot multiplies in, and the rows below lose their multiple of the pivot
 * row. Rows are picked and swapped with comparisons and where, never products with 0 or 1, so an
 * infinity or NaN stays in its own row; a zero pivot (a singular matrix) gives 0.
 */
import { elementCount } from "../../ir/graph.js";
import type { Lowering } from "./lower-ops.js";

const detOp: Lowering = (l, n) => {
  const [x] = n.inputs;
  if (!l.isFloat(x)) l.fail("Det of an integer tensor is not supported");
  const X = l.shape(x);
  const M = X.at(-1)!;
  if (X.length < 2 || X.at(-2) !== M) l.fail(`Det takes square matrices [..., M, M]; got [${X.join(", ")}]`);
  const outer = X.slice(0, -2),
    B = elementCount(outer);
  const f = (fn: string, ...xs: string[]) => l.map(fn, xs);
  const k_ = (v: number) => l.scalar(v);
  const test = (fn: string, a: string, b: string) => l.map(fn, [a, b], "i32");
  const rows = l.constantData(
    Float32Array.from({ length: M }, (_, i) => i),
    [1, M, 1],
  );
  /** Row r of a [B, M, M] (r a [B, 1, 1] index at run time), as [B, 1, M]. */
  const pickRow = (a: string, r: string) => l.reduce("sum", l.map("where", [test("equal", rows, r), a, k_(0)]), [1]);
  let a = l.reshape(l.ir(x), [B, M, M]);
  let det: string | undefined;
  let sign: string | undefined;
  for (let k = 0; k < M; k++) {
    const at = k_(k);
    // The pivot's row: the first largest |entry| of column k at or below the diagonal (k where none is a number).
    const column = f("abs", l.slice(a, 2, k, 1)); // [B, M, 1]
    const below = l.map("where", [test("greaterOrEqual", rows, at), column, k_(-1)]);
    const largest = l.reduce("max", below, [1]); // [B, 1]
    const first = l.reduce("min", l.map("where", [test("equal", below, l.reshape(largest, [B, 1, 1])), rows, k_(M)]), [1]);
    const p = l.reshape(l.map("where", [test("equal", first, k_(M)), at, first]), [B, 1, 1]);
    // Rows k and p swapped; a swap flips the sign.
    const rowK = l.slice(a, 1, k, 1),
      rowP = l.reshape(pickRow(a, p), [B, 1, M]);
    a = l.map("where", [test("equal", rows, at), rowP, l.map("where", [test("equal", rows, p), rowK, a])]);
    const flip = l.map("where", [test("equal", p, at), k_(1), k_(-1)]);
    sign = sign ? f("mul", sign, flip) : flip;
    // The pivot multiplies in; the rows below lose their multiple of row k (none where the pivot is 0).
    const pivotRow = l.slice(a, 1, k, 1); // [B, 1, M]
    const pivot = l.slice(pivotRow, 2, k, 1); // [B, 1, 1]
    det = det ? f("mul", det, pivot) : pivot;
    if (k === M - 1) break;
    const factor = l.map("where", [test("equal", pivot, k_(0)), k_(0), f("div", l.slice(a, 2, k, 1), pivot)]); // [B, M, 1]
    a = l.map("where", [test("greater", rows, at), f("sub", a, f("mul", factor, pivotRow)), a]);
  }
  return [l.reshape(f("mul", det!, sign!), outer)];
};

export const LINALG_LOWERINGS: Readonly<Record<string, Lowering>> = { Det: detOp };
