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
import { graphIndex, type Graph, type Value } from "../ir/graph.js";
import { dequantizeQ4Blocks, q4RowBytes, quantizeQ4Blocks } from "../ir/ops/linear-q4.js";
import { asWeight, forRowsAtOnce, quantizeTablesInt8, relativeError, type QuantizeReport } from "./quantize.js";

export function quantizeQ4(graph: Graph): { graph: Graph; report: QuantizeReport } {
  const { readers } = graphIndex(graph);
  const values = new Map(graph.values);
  const report: QuantizeReport = { tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 };
  let errSq = 0,
    normSq = 0;
  const quantized = new Map<string, string>();

  for (const node of graph.nodes) {
    const w = node.op === "Linear" ? graph.values.get(node.inputs[1]) : undefined;
    if (!w || w.kind !== "const" || w.dtype !== "f32" || quantized.has(w.name)) continue;
    if (!readers.get(w.name)!.every((r) => asWeight(r, w.name))) continue;
    const [N, K] = w.shape as number[];
    const blocks = new Uint8Array(N * q4RowBytes(K));
    // Rows are quantized independently, a few at a time: the error is measured without an f32 copy of the whole weight.
    forRowsAtOnce(w, N, K, (first, rows, part) => {
      const q = quantizeQ4Blocks(part, rows, K);
      blocks.set(q, first * q4RowBytes(K));
      const back = dequantizeQ4Blocks(q, rows, K);
      for (let i = 0; i < part.length; i++) {
        errSq += (back[i] - part[i]) ** 2;
        normSq += part[i] ** 2;
      }
    });
    const name = `${w.name}.q4`;
    values.delete(w.name);
    const bytes = new Int8Array(blocks.buffer, blocks.byteOffset, blocks.byteLength);
    values.set(name, { name, kind: "const", dtype: "i8", shape: [N, blocks.length / N], data: bytes } satisfies Value);
    quantized.set(w.name, name);
    report.tensors++;
    report.bytesBefore += 4 * N * K;
    report.bytesAfter += blocks.byteLength;
  }
  const nodes = graph.nodes.map((n) => {
    const q = n.op === "Linear" ? quantized.get(n.inputs[1]) : undefined;
    return q ? { ...n, op: "Q4Linear" as const, inputs: [n.inputs[0], q, ...n.inputs.slice(2)] } : n;
  });
  const tables = quantizeTablesInt8({ ...graph, values, nodes });
  report.tensors += tables.report.tensors;
  report.bytesBefore += tables.report.bytesBefore;
  report.bytesAfter += tables.report.bytesAfter;
  report.relativeError = relativeError({ errSq: errSq + tables.sums.errSq, normSq: normSq + tables.sums.normSq });
  if (tables.report.embeddings) report.embeddings = tables.report.embeddings;
  return { graph: tables.graph, report };
}
