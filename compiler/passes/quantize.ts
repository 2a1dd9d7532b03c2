/**
 * quantizeInt8: Linear weights to int8 with one scale per output row (symmetric, round to
 * nearest: w ≈ scale[n] · q[n, k], scale[n] = max|w[n, :]| / 127). A weight that anything but
 * Linear reads (a tied embedding, which Gather reads too) stays f32, as do the SEE factors.
 */
import { graphIndex, type Graph, type Value } from "../ir/graph.js";

export interface QuantizeReport {
  /** Weights quantized, and their bytes before and after (scales included). */
  tensors: number;
  bytesBefore: number;
  bytesAfter: number;
  /** ||Ŵ − W||_F / ||W||_F over all quantized weights. */
  relativeError: number;
}

export function quantizeInt8(graph: Graph): { graph: Graph; report: QuantizeReport } {
  const { readers } = graphIndex(graph);
  const values = new Map(graph.values);
  const report: QuantizeReport = { tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 };
  let errSq = 0,
    normSq = 0;
  const quantized = new Map<string, { q: string; scale: string }>();

  for (const node of graph.nodes) {
    const w = node.op === "Linear" ? graph.values.get(node.inputs[1]) : undefined;
    if (!w || w.kind !== "const" || w.dtype !== "f32" || quantized.has(w.name)) continue;
    if (!readers.get(w.name)!.every((r) => r.op === "Linear" && r.inputs[1] === w.name)) continue;
    const [N, K] = w.shape as number[];
    const data = w.data as Float32Array;
    const q = new Int8Array(N * K),
      scale = new Float32Array(N);
    for (let n = 0; n < N; n++) {
      let max = 0;
      for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(data[n * K + k]));
      scale[n] = max / 127 || 1;
      for (let k = 0; k < K; k++) {
        const v = data[n * K + k];
        q[n * K + k] = Math.round(v / scale[n]);
        errSq += (q[n * K + k] * scale[n] - v) ** 2;
        normSq += v * v;
      }
    }
    const qName = `${w.name}.int8`,
      sName = `${w.name}.scale`;
    values.delete(w.name);
    values.set(qName, { name: qName, kind: "const", dtype: "i8", shape: [N, K], data: q } satisfies Value);
    values.set(sName, { name: sName, kind: "const", dtype: "f32", shape: [N], data: scale } satisfies Value);
    quantized.set(w.name, { q: qName, scale: sName });
    report.tensors++;
    report.bytesBefore += data.byteLength;
    report.bytesAfter += q.byteLength + scale.byteLength;
  }
  report.relativeError = normSq ? Math.sqrt(errSq / normSq) : 0;
  const nodes = graph.nodes.map((n) => {
    const q = n.op === "Linear" ? quantized.get(n.inputs[1]) : undefined;
    return q ? { ...n, op: "QLinear" as const, inputs: [n.inputs[0], q.q, q.scale, ...n.inputs.slice(2)] } : n;
  });
  return { graph: { ...graph, values, nodes }, report };
}
