/**
 * Einsum, as the ops a hand-written equivalent would use: each operand's letters summed out where
 * nothing else reads them, pairs multiplied as one batched MatMul ([batch, free_a, summed] ·
 * [batch, summed, free_b]), the result transposed to the output's order. An ellipsis stands for
 * the same axes in every operand (no broadcasting); a letter repeated within one operand takes the diagonal (a
 * strided copy whose stride is the sum of those axes' strides).
 */
import { elementCount } from "../../ir/graph.js";
import { stridesOf } from "../../ir/ops/tensor.js";
import type { Lowerer, Lowering } from "./lower-ops.js";

/** An operand: its letters (one per axis) and IR tensor. */
interface Term {
  letters: string[];
  x: string;
}

/** The ellipsis's k-th axis, as a letter no equation can hold (equations are ASCII). */
const dot = (k: number) => String.fromCharCode(0x391 + k);

/** The equation's operand and output letters, the ellipsis spelled out in `dot` letters. */
function parse(l: Lowerer, equation: string, ranks: number[]): { inputs: string[][]; output: string[] } {
  const eq = equation.replace(/\s+/g, "");
  const [lhs, rhs] = eq.split("->");
  const operands = lhs.split(",");
  if (operands.length !== ranks.length) l.fail(`Einsum "${equation}" names ${operands.length} operands; the node has ${ranks.length}`);
  let ellipsis = -1;
  const inputs = operands.map((op, i) => {
    const [head, tail] = op.includes("...") ? op.split("...") : [op, undefined];
    if (tail === undefined) {
      if (head.length !== ranks[i]) l.fail(`Einsum operand ${i} "${op}" has ${head.length} letters for a tensor of rank ${ranks[i]}`);
      return [...head];
    }
    const n = ranks[i] - head.length - tail.length;
    if (n < 0 || (ellipsis >= 0 && n !== ellipsis))
      l.fail(`Einsum "${equation}": the ellipsis spans different ranks in different operands`);
    ellipsis = n;
    return [...head, ...Array.from({ length: n }, (_, k) => dot(k)), ...tail];
  });
  const dots = Array.from({ length: Math.max(ellipsis, 0) }, (_, k) => dot(k));
  if (rhs !== undefined) {
    const [head, tail] = rhs.includes("...") ? rhs.split("...") : [rhs, ""];
    return { inputs, output: rhs.includes("...") ? [...head, ...dots, ...tail] : [...head] };
  }
  // Implicit output: the ellipsis, then the letters used once, in alphabetical order.
  const counts = new Map<string, number>();
  for (const c of operands.join("").replace(/\.\.\./g, "")) counts.set(c, (counts.get(c) ?? 0) + 1);
  return {
    inputs,
    output: [
      ...dots,
      ...[...counts]
        .filter(([, c]) => c === 1)
        .map(([c]) => c)
        .sort(),
    ],
  };
}

/** An operand with each repeated letter's axes collapsed to their diagonal. */
function diagonal(l: Lowerer, letters: string[], x: string): Term {
  const unique = [...new Set(letters)];
  if (unique.length === letters.length) return { letters, x };
  const X = l.irShape(x),
    S = stridesOf(X);
  const axes = (c: string) => letters.flatMap((d, i) => (d === c ? [i] : []));
  for (const c of unique) if (new Set(axes(c).map((i) => X[i])).size > 1) l.fail(`Einsum: the axes of letter "${c}" differ in size`);
  const shape = unique.map((c) => X[axes(c)[0]]);
  return {
    letters: unique,
    x: l.copy(
      x,
      shape,
      unique.map((c) => axes(c).reduce((s, i) => s + S[i], 0)),
    ),
  };
}

/** The term with the letters nobody else needs summed out. */
function sumOut(l: Lowerer, t: Term, needed: ReadonlySet<string>): Term {
  const axes = t.letters.flatMap((c, i) => (needed.has(c) ? [] : [i]));
  if (axes.length === 0) return t;
  const kept = t.letters.filter((c) => needed.has(c));
  const X = l.irShape(t.x);
  return {
    letters: kept,
    x: l.reshape(
      l.reduce("sum", t.x, axes),
      kept.map((c) => X[t.letters.indexOf(c)]),
    ),
  };
}

/** a · b over their shared letters not in `keep`, as one batched MatMul. */
function contract(l: Lowerer, a: Term, b: Term, keep: ReadonlySet<string>): Term {
  const A = l.irShape(a.x),
    B = l.irShape(b.x);
  const dim = (c: string) => (a.letters.includes(c) ? A[a.letters.indexOf(c)] : B[b.letters.indexOf(c)]);
  const shared = a.letters.filter((c) => b.letters.includes(c));
  const batch = shared.filter((c) => keep.has(c)),
    summed = shared.filter((c) => !keep.has(c));
  const freeA = a.letters.filter((c) => !b.letters.includes(c)),
    freeB = b.letters.filter((c) => !a.letters.includes(c));
  const arrange = (t: Term, order: string[]) =>
    l.transpose(
      t.x,
      order.map((c) => t.letters.indexOf(c)),
    );
  const Bt = elementCount(batch.map(dim)),
    M = elementCount(freeA.map(dim)),
    K = elementCount(summed.map(dim)),
    N = elementCount(freeB.map(dim));
  const left = l.reshape(arrange(a, [...batch, ...freeA, ...summed]), [Bt, M, K]);
  const right = l.reshape(arrange(b, [...batch, ...summed, ...freeB]), [Bt, K, N]);
  const letters = [...batch, ...freeA, ...freeB];
  return { letters, x: l.reshape(l.matmul(left, undefined, right), letters.map(dim)) };
}

const einsumOp: Lowering = (l, n) => {
  if (!n.inputs.every((i) => l.isFloat(i))) l.fail("Einsum of integer tensors is not supported");
  const equation = typeof n.attrs.equation === "string" ? n.attrs.equation : l.fail("Einsum needs its equation");
  const { inputs, output } = parse(
    l,
    equation,
    n.inputs.map((i) => l.shape(i).length),
  );
  // A letter is one axis size everywhere (size-1 axes do not broadcast here).
  const sizes = new Map<string, number>();
  inputs.forEach((letters, i) =>
    letters.forEach((c, d) => {
      const s = l.shape(n.inputs[i])[d];
      if ((sizes.get(c) ?? s) !== s)
        l.fail(
          `Einsum "${equation}": ${c.charCodeAt(0) >= 0x391 ? "the ellipsis" : `letter "${c}"`} spans axes of sizes ${sizes.get(c)} and ${s} (broadcasting is not supported)`,
        );
      sizes.set(c, s);
    }),
  );
  let terms: Term[] = inputs.map((letters, i) => diagonal(l, letters, l.ir(n.inputs[i])));
  const neededBy = (skip: number[], extra: readonly string[]) =>
    new Set([...output, ...extra, ...terms.flatMap((t, i) => (skip.includes(i) ? [] : t.letters))]);
  terms = terms.map((t, i) => sumOut(l, t, neededBy([i], [])));
  let acc = terms[0];
  for (let i = 1; i < terms.length; i++) {
    const later = new Set([...output, ...terms.slice(i + 1).flatMap((t) => t.letters)]);
    acc = sumOut(l, contract(l, acc, terms[i], later), later);
  }
  acc = sumOut(l, acc, new Set(output));
  if (acc.letters.length !== output.length) l.fail(`Einsum "${equation}": the output names a letter no operand has`);
  return [
    l.transpose(
      acc.x,
      output.map((c) => acc.letters.indexOf(c)),
    ),
  ];
};

export const EINSUM_LOWERINGS: Readonly<Record<string, Lowering>> = { Einsum: einsumOp };
