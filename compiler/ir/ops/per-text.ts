/**
 * Texts packed end to end (passes/pack-texts.ts): one call's T rows hold B texts, text i's
 * lengths[i] rows right after text i − 1's. Row-wise ops run on them as they are; the ops that
 * mix rows (AddRows, SelfAttention, MeanRows, MeanLinear, MeanQLinear) take `lengths` (i32 [B])
 * as one more input and then run on each text's rows alone: positions restart at each text, a
 * text attends only to its own tokens (block-diagonal), and a mean gives one row per text.
 * Without that input they are the one-text ops they always were.
 */
import { SeecError } from "../../../runtime/errors.js";
import type { OpDef, Tensor } from "./op.js";
import { fail, i32 } from "./op.js";

/** `op` (of at most `arity` inputs) run per text when a lengths input follows all `arity`; `rows`: its inputs indexed by row. */
export function perText(op: OpDef, arity: number, rows: readonly number[]): OpDef {
  return {
    ...op,
    infer(inputs, attrs, node) {
      if (inputs.length <= arity) return op.infer(inputs, attrs, node);
      const lengths = inputs[arity];
      if (inputs.length !== arity + 1 || lengths.dtype !== "i32" || lengths.shape.length !== 1)
        fail(node, `takes ${arity} inputs, and the texts' lengths (i32 [B]) when they are packed`);
      const [y] = op.infer(inputs.slice(0, arity), attrs, node);
      // One row per text where the op pools (MeanRows' [1, D]), else the packed rows as they are.
      return [{ ...y, shape: y.shape[0] === inputs[rows[0]].shape[0] ? y.shape : [lengths.shape[0], ...y.shape.slice(1)] }];
    },
    run(inputs, attrs) {
      if (inputs.length <= arity) return op.run(inputs, attrs);
      const lengths = i32(inputs[arity]);
      const parts: Tensor[] = [];
      const text = (a: number, b: number) =>
        op.run(
          inputs.slice(0, arity).map((x, k) => (rows.includes(k) ? rowsOf(x, a, b) : x)),
          attrs,
        )[0];
      let start = 0;
      for (const n of lengths) {
        parts.push(text(start, start + n));
        start += n;
      }
      // No texts: no rows, as wide as a text's output.
      return [joined(parts, (parts[0] ?? text(0, 0)).shape.slice(1))];
    },
    ...(op.vjp && {
      vjp(step) {
        // Distillation packs its sentences itself (compiler/see/packing.ts), around the one-text ops.
        if (step.inputs.length > arity) throw new SeecError("internal.ir", "packed texts are not differentiated");
        return op.vjp!(step);
      },
    }),
  };
}

/** Rows a..b of t (a view). */
function rowsOf(t: Tensor, a: number, b: number): Tensor {
  const width = t.data.length / Math.max(t.shape[0], 1);
  return { shape: [b - a, ...t.shape.slice(1)], data: t.data.subarray(a * width, b * width) };
}

/** The texts' outputs end to end, as one tensor; `tail`: its shape past the rows. */
function joined(parts: Tensor[], tail: number[]): Tensor {
  const rows = parts.reduce((n, p) => n + p.shape[0], 0);
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { shape: [rows, ...tail], data };
}
