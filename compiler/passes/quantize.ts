/**
 * quantizeInt8: Linear weights and token embedding tables to int8 with one scale per row
 * (symmetric, round to nearest: w ≈ scale[n] · q[n, k], scale[n] = max|w[n, :]| / 127; a row of
 * an embedding is one token's). Linear becomes QLinear and Gather QGather (it dequantizes the rows
 * it looks up); a table looked up by computed indices (positions, a RoPE table) stays f32. A tied
 * table, which the embedding's Gather and the classifier's Linear both read, becomes one int8 copy
 * with one set of scales that both read. A weight anything else reads stays f32, as do the SEE
 * factors (their ops are not Linear or Gather).
 *
 * quantizeTablesInt8 does the embedding tables alone (and so a classifier tied to one): the
 * q4 pass (quantize-q4.ts) leaves them to it, since rows of nibbles make an awkward lookup.
 */
import { graphIndex, readValues, type Graph, type Node, type Value } from "../ir/graph.js";

export interface QuantizeReport {
  /** Weights quantized (embedding tables included), and their bytes before and after (scales included). */
  tensors: number;
  bytesBefore: number;
  bytesAfter: number;
  /** ||Ŵ − W||_F / ||W||_F over all quantized weights. */
  relativeError: number;
  /** Of those, the token embedding tables (int8, a scale per row, also under q4); absent when there are none. */
  embeddings?: EmbeddingReport;
}

export interface EmbeddingReport {
  tensors: number;
  bytesBefore: number;
  bytesAfter: number;
  relativeError: number;
  /** How many of them a classifier also reads (a tied head, now a QLinear over the same bytes). */
  tied: number;
}

/** Squared error and squared norm summed over quantized weights: relative errors combine through these. */
export interface ErrorSums {
  errSq: number;
  normSq: number;
}

export function quantizeInt8(graph: Graph): { graph: Graph; report: QuantizeReport } {
  return quantizeRows(graph, false);
}

/** The embedding tables (read by Gather, perhaps also as a tied classifier's weight) alone; Linear-only weights are left as they are. */
export function quantizeTablesInt8(graph: Graph): { graph: Graph; report: QuantizeReport; sums: ErrorSums } {
  return quantizeRows(graph, true);
}

/** How much of a weight is quantized at once (read from its file at once, where it is left there). */
const ROWS_AT_ONCE_BYTES = 4 * 1024 ** 2;

/**
 * Rows of an N × K matrix as int8 with a scale per row: scale = max|row| / 127 (1 for a zero row),
 * q = w / scale rounded to nearest, halves away from zero (so q(−w) = −q(w), as C's roundf).
 */
function quantizeRowsInt8(w: Value, N: number, K: number, sums?: ErrorSums): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(N * K),
    scale = new Float32Array(N);
  forRowsAtOnce(w, N, K, (first, rows, data) => {
    for (let n = first; n < first + rows; n++) {
      const at = (n - first) * K;
      let max = 0;
      for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(data[at + k]));
      scale[n] = max / 127 || 1;
      for (let k = 0; k < K; k++) {
        const v = data[at + k];
        // Clamped: a row whose largest |w| is subnormal gets a scale rounded down, and levels past 127.
        q[n * K + k] = Math.max(-127, Math.min(127, roundHalfAway(v / scale[n])));
        if (sums) {
          sums.errSq += (q[n * K + k] * scale[n] - v) ** 2;
          sums.normSq += v * v;
        }
      }
    }
  });
  return { q, scale };
}

/**
 * The rows of an N × K f32 weight a few at a time (ROWS_AT_ONCE_BYTES), first to last: `data` holds
 * rows [first, first + rows). A weight left in its input file is read part by part (ir/graph.ts's
 * readValues), so no quantizer holds an f32 copy of a whole weight.
 */
export function forRowsAtOnce(w: Value, N: number, K: number, each: (first: number, rows: number, data: Float32Array) => void): void {
  const step = Math.max(1, Math.floor(ROWS_AT_ONCE_BYTES / (4 * K)));
  for (let first = 0; first < N; first += step) {
    const rows = Math.min(step, N - first);
    each(first, rows, readValues(w, first * K, rows * K));
  }
}

/** Read as a Linear's weight (as written, [N, K]) and nowhere else in that node. */
export const asWeight = (r: Node, name: string) =>
  r.op === "Linear" && r.attrs.layout === undefined && r.inputs.indexOf(name) === 1 && r.inputs.lastIndexOf(name) === 1;
/**
 * Read as a token embedding: a Gather's table, looked up by ids the graph takes as input (not
 * computed positions, such as a RoPE table's or a position embedding's rows, which stay f32).
 */
export const asTable = (r: Node, name: string, graph: Graph) =>
  r.op === "Gather" && r.inputs[0] === name && r.inputs.lastIndexOf(name) === 0 && graph.inputs.includes(r.inputs[1]);

function quantizeRows(graph: Graph, tablesOnly: boolean): { graph: Graph; report: QuantizeReport; sums: ErrorSums } {
  const { readers } = graphIndex(graph);
  const values = new Map(graph.values);
  const report: QuantizeReport = { tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0 };
  const embeddings: EmbeddingReport = { tensors: 0, bytesBefore: 0, bytesAfter: 0, relativeError: 0, tied: 0 };
  const sums: ErrorSums = { errSq: 0, normSq: 0 },
    tableSums: ErrorSums = { errSq: 0, normSq: 0 };
  const quantized = new Map<string, { q: string; scale: string }>();

  for (const node of graph.nodes) {
    const name = node.op === "Linear" ? node.inputs[1] : node.op === "Gather" ? node.inputs[0] : undefined;
    const w = name === undefined ? undefined : graph.values.get(name);
    if (!w || w.kind !== "const" || w.dtype !== "f32" || w.shape.length !== 2 || quantized.has(w.name)) continue;
    const rs = readers.get(w.name)!;
    if (!rs.every((r) => asWeight(r, w.name) || asTable(r, w.name, graph))) continue;
    const table = rs.some((r) => r.op === "Gather");
    if (tablesOnly && !table) continue;
    const [N, K] = w.shape as number[];
    const own: ErrorSums = { errSq: 0, normSq: 0 };
    const { q, scale } = quantizeRowsInt8(w, N, K, own);
    const qName = `${w.name}.int8`,
      sName = `${w.name}.scale`;
    values.delete(w.name);
    values.set(qName, { name: qName, kind: "const", dtype: "i8", shape: [N, K], data: q } satisfies Value);
    values.set(sName, { name: sName, kind: "const", dtype: "f32", shape: [N], data: scale } satisfies Value);
    quantized.set(w.name, { q: qName, scale: sName });
    for (const [r, s] of [[report, sums] as const, ...(table ? [[embeddings, tableSums] as const] : [])]) {
      r.tensors++;
      r.bytesBefore += 4 * N * K;
      r.bytesAfter += q.byteLength + scale.byteLength;
      s.errSq += own.errSq;
      s.normSq += own.normSq;
    }
    if (table && rs.some((r) => r.op === "Linear")) embeddings.tied++;
  }
  report.relativeError = relativeError(sums);
  if (embeddings.tensors) report.embeddings = { ...embeddings, relativeError: relativeError(tableSums) };
  const nodes = graph.nodes.map((n) => {
    const q = n.op === "Linear" ? quantized.get(n.inputs[1]) : undefined;
    if (q) return { ...n, op: "QLinear" as const, inputs: [n.inputs[0], q.q, q.scale, ...n.inputs.slice(2)] };
    const t = n.op === "Gather" ? quantized.get(n.inputs[0]) : undefined;
    return t ? { ...n, op: "QGather" as const, inputs: [t.q, t.scale, n.inputs[1]] } : n;
  });
  return { graph: { ...graph, values, nodes }, report, sums };
}

/** x rounded to the nearest integer, halves away from zero. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

export function relativeError({ errSq, normSq }: ErrorSums): number {
  return normSq ? Math.sqrt(errSq / normSq) : 0;
}
