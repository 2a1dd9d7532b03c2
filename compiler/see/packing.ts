/**
 * Several sentences through an encoder in one pass: their tokens packed end to end, so that every
 * row-wise op (Linear, the norms, activations, Add) runs once over all of them — on the SIMD
 * kernels a read of each weight per batch, not per sentence. The ops that mix a sentence's rows run
 * per sentence, on its slice of the rows: AddRows (positions restart at each sentence),
 * SelfAttention (a sentence attends only to itself) and MeanRows (one pooled row per sentence).
 * Their reference semantics are the registry's (or the kernels'), applied slice by slice, so a
 * packed pass computes what one pass per sentence does.
 */
import type { Graph } from "../ir/graph.js";
import type { OpDef, Tensor } from "../ir/ops/index.js";
import { opDef } from "../ir/ops/index.js";
import { SeecError } from "../../runtime/errors.js";

/** The ops that mix rows, and which of their inputs are indexed by row (the others are read whole). */
const MIXING: Record<string, number[]> = { AddRows: [0], SelfAttention: [0, 1, 2], MeanRows: [0] };

/** Ops that compute each row from that row alone (or look rows up by id): safe over packed rows as they are. */
const ROW_WISE = new Set(["Gather", "Add", "Relu", "Tanh", "SwiGLU", "Linear", "LayerNorm", "RMSNorm", "L2Normalize"]);

/** The first op of a graph that a packed pass would get wrong (one that mixes rows and is not run per sentence). */
export function unpackable(graph: Graph): string | undefined {
  return graph.nodes.find((n) => !ROW_WISE.has(n.op) && !(n.op in MIXING))?.op;
}

/** Where the packed sentences start and end: rows starts[i]..starts[i + 1] are sentence i. */
export class Packing {
  starts: number[] = [0];

  /** Packs the sentences' ids end to end, and sets the boundaries the next forward pass uses. */
  pack(sentences: readonly Int32Array[]): Int32Array {
    const ids = new Int32Array(sentences.reduce((n, s) => n + s.length, 0));
    this.starts = [0];
    for (const s of sentences) {
      ids.set(s, this.starts.at(-1)!);
      this.starts.push(this.starts.at(-1)! + s.length);
    }
    return ids;
  }

  /**
   * A packed pass's tensor cut into its sentences' parts (views): by token for one with a row per
   * packed token, else (after pooling) in equal shares of its rows.
   */
  splitTensor(t: { shape: readonly (number | string)[]; data: ArrayLike<number> }): Float32Array[] {
    const rows = t.shape[0] as number,
      sentences = this.starts.length - 1;
    return this.split(t.data as Float32Array, rows === this.starts.at(-1) ? undefined : rows / sentences);
  }

  /** A packed [rows, ...] tensor cut back into its sentences' parts (views, no copies). */
  split(data: Float32Array, rowsPerSentence?: number): Float32Array[] {
    const rows = this.starts.at(-1)!;
    const width = data.length / (rowsPerSentence === undefined ? rows : rowsPerSentence * (this.starts.length - 1));
    return this.starts.slice(0, -1).map((a, i) => {
      const [from, to] = rowsPerSentence === undefined ? [a, this.starts[i + 1]] : [i * rowsPerSentence, (i + 1) * rowsPerSentence];
      return data.subarray(from * width, to * width);
    });
  }

  /** The given ops (the registry's where absent) with AddRows, SelfAttention and MeanRows run per sentence. */
  ops(base: Partial<Record<string, OpDef>>): Partial<Record<string, OpDef>> {
    const out = { ...base };
    for (const [name, rowInputs] of Object.entries(MIXING)) out[name] = this.perSentence(base[name] ?? opDef(name), rowInputs);
    return out;
  }

  private perSentence(op: OpDef, rowInputs: number[]): OpDef {
    const packing = this;
    // The boundaries a forward pass ran with, by its output, for its backward pass.
    const ran = new WeakMap<object, { starts: number[]; outStarts: number[] }>();
    const rows = (t: Tensor, a: number, b: number): Tensor => {
      const width = t.data.length / (t.shape[0] as number);
      return { shape: [b - a, ...t.shape.slice(1)], data: t.data.subarray(a * width, b * width) as Float32Array };
    };
    return {
      ...op,
      run(inputs, attrs) {
        const starts = packing.starts;
        if (inputs[rowInputs[0]].shape[0] !== starts.at(-1))
          throw new SeecError(
            "internal.distill",
            `packed ${starts.length - 1} sentences into ${starts.at(-1)} rows, but the pass has ${inputs[rowInputs[0]].shape[0]}`,
          );
        const parts = starts.slice(0, -1).map((a, i) => {
          const b = starts[i + 1];
          const [y] = op.run(
            inputs.map((x, k) => (rowInputs.includes(k) ? rows(x, a, b) : x)),
            attrs,
          );
          return y;
        });
        const outStarts = [0];
        for (const y of parts) outStarts.push(outStarts.at(-1)! + (y.shape[0] as number));
        const data = joinRows(parts.map((y) => y.data as Float32Array));
        ran.set(data, { starts, outStarts });
        return [{ shape: [outStarts.at(-1)!, ...parts[0].shape.slice(1)], data }];
      },
      vjp(step) {
        const seen = ran.get(step.outputs[0].data);
        if (!seen) throw new SeecError("internal.distill", "a packed op's backward pass ran without its forward pass");
        const { starts, outStarts } = seen;
        const [y] = step.outputs,
          dy = step.dOutputs[0];
        const grads: (Float32Array | undefined)[] = step.inputs.map((x, k) =>
          step.wants[k] ? new Float32Array(x.data.length) : undefined,
        );
        starts.slice(0, -1).forEach((a, i) => {
          const b = starts[i + 1],
            ya = outStarts[i],
            yb = outStarts[i + 1];
          const inputs = step.inputs.map((x, k) => (rowInputs.includes(k) ? rows(x, a, b) : x));
          const yPart = rows(y, ya, yb);
          const part = op.vjp!({
            inputs,
            outputs: [yPart],
            dOutputs: [dy ? (rows({ shape: y.shape, data: dy }, ya, yb).data as Float32Array) : undefined],
            attrs: step.attrs,
            wants: step.wants,
          });
          part.forEach((g, k) => {
            const into = grads[k];
            if (!g || !into) return;
            if (rowInputs.includes(k)) into.set(g, (a * into.length) / (step.inputs[k].shape[0] as number));
            else for (let j = 0; j < g.length; j++) into[j] += g[j];
          });
        });
        return grads;
      },
    };
  }
}

/** The parts end to end, in one new array. */
export function joinRows(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
