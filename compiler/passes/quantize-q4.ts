/**
 * quantizeQ4 (`seec build --quantize q4`): Linear weights to 4 bits in llama.cpp's Q4_0 blocks
 * (ir/ops/linear-q4.ts): groups of 32 along K, one f16 scale per group, 18 bytes per 32 weights
 * (4.5 bits a weight, 7.1x smaller than f32). Linear becomes Q4Linear. Token embedding tables (and
 * a classifier tied to one) become int8 with a scale per row, as under --quantize int8
 * (quantizeTablesInt8, passes/quantize.ts): a lookup dequantizes one whole row, which int8 rows
 * give with one multiply an element, while Q4_0 rows would need their blocks' f16 scales and
 * nibbles unpacked by every target's Gather kernel, and a tied head would then need a Q4Linear
 * whose weights a Gather also reads. A weight anything else reads stays f32, as do the SEE factors.
 */
import { graphIndex, Scratch, type Graph, type Value } from "../ir/graph.js";
import { dequantizeQ4Blocks, q4RowBytes, quantizeQ4Blocks } from "../ir/ops/linear-q4.js";
import {
  asWeight,
  forRowsAtOnce,
  quantizedValue,
  quantizeScratch,
  quantizeTablesInt8,
  relativeError,
  type ErrorSums,
  type PartQuantizer,
  type QuantizeReport,
  type QuantizeScratch,
} from "./quantize.js";

export function quantizeQ4(graph: Graph): { graph: Graph; report: QuantizeReport } {
  const { readers } = graphIndex(graph);
  const values = new Map(graph.values);
  const report: QuantizeReport = { tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 };
  const sums: ErrorSums = { errSq: 0, normSq: 0 };
  const quantized = new Map<string, string>();
  // What parts of weights are read into, quantized into, and dequantized into to measure them: reused throughout.
  const scratch = { ...quantizeScratch(), back: new Scratch() };

  for (const node of graph.nodes) {
    const w = node.op === "Linear" ? graph.values.get(node.inputs[1]) : undefined;
    if (!w || w.kind !== "const" || w.dtype !== "f32" || quantized.has(w.name)) continue;
    if (!readers.get(w.name)!.every((r) => asWeight(r, w.name))) continue;
    const [N, K] = w.shape as number[];
    const q = quantizeWeight(w, N, K, scratch, sums);
    values.delete(w.name);
    values.set(q.name, q);
    quantized.set(w.name, q.name);
    report.tensors++;
    report.bytesBefore += 4 * N * K;
    report.bytesAfter += N * q4RowBytes(K);
  }
  const nodes = graph.nodes.map((n) => {
    const q = n.op === "Linear" ? quantized.get(n.inputs[1]) : undefined;
    return q ? { ...n, op: "Q4Linear" as const, inputs: [n.inputs[0], q, ...n.inputs.slice(2)] } : n;
  });
  const tables = quantizeTablesInt8({ ...graph, values, nodes });
  report.tensors += tables.report.tensors;
  report.bytesBefore += tables.report.bytesBefore;
  report.bytesAfter += tables.report.bytesAfter;
  report.relativeError = relativeError({ errSq: sums.errSq + tables.sums.errSq, normSq: sums.normSq + tables.sums.normSq });
  if (tables.report.embeddings) report.embeddings = tables.report.embeddings;
  return { graph: tables.graph, report };
}

/**
 * An N × K weight as N rows of Q4_0 blocks (i8 bytes), its error summed into `sums`. Rows are
 * quantized a few at a time, so no f32 copy of the whole weight is made; held or deferred as
 * quantizedValue says.
 */
function quantizeWeight(w: Value, N: number, K: number, scratch: QuantizeScratch & { back: Scratch }, sums: ErrorSums): Value {
  const quantize: PartQuantizer = (part, sums) =>
    forRowsAtOnce(w, N, K, scratch.read, (first, rows, data) => {
      const out = part(first, rows);
      const q = quantizeQ4Blocks(data, rows, K, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      if (!sums) return;
      const approx = dequantizeQ4Blocks(q, rows, K, scratch.back.take(data.length));
      for (let i = 0; i < data.length; i++) {
        sums.errSq += (approx[i] - data[i]) ** 2;
        sums.normSq += data[i] ** 2;
      }
    });
  return quantizedValue(w, `${w.name}.q4`, N, q4RowBytes(K), scratch, sums, quantize);
}
