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
import { deferredValue, graphIndex, isDeferred, readValues, Scratch, type Graph, type Node, type Value } from "../ir/graph.js";
import { roundHalfAway } from "../util/round.js";

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

/** The scratch buffers a quantizer reads parts of weights into, and quantizes parts into where it measures them only. */
export interface QuantizeScratch {
  read: Scratch;
  rows: Scratch<Int8Array>;
}

export const quantizeScratch = (): QuantizeScratch => ({ read: new Scratch(), rows: new Scratch((n) => new Int8Array(n)) });

/** Quantizes w's rows part by part, each part into the bytes `part` gives, its error summed into `sums` where given. */
export type PartQuantizer = (part: (first: number, rows: number) => Int8Array, sums?: ErrorSums) => void;

/**
 * The i8 value `name`, N rows of `row` bytes, that `quantize` makes of w, its error summed into
 * `sums`. Held where w is held; where w is left in its file, measured now (into scratch) and made
 * again each time its data is read (deferred), so the build holds none of it until it is written.
 */
export function quantizedValue(
  w: Value,
  name: string,
  N: number,
  row: number,
  scratch: QuantizeScratch,
  sums: ErrorSums,
  quantize: PartQuantizer,
): Value {
  const whole = (sums?: ErrorSums) => {
    const bytes = new Int8Array(N * row);
    quantize((first, rows) => bytes.subarray(first * row, (first + rows) * row), sums);
    return bytes;
  };
  if (!isDeferred(w)) return { name, kind: "const", dtype: "i8", shape: [N, row], data: whole(sums) };
  quantize((_, rows) => scratch.rows.take(rows * row), sums);
  return deferredValue(name, [N, row], { length: N * row, read: () => whole() }, "i8");
}

/**
 * Rows of an N × K matrix as int8 with a scale per row: scale = max|row| / 127 (1 for a zero row),
 * q = w / scale rounded to nearest, halves away from zero (so q(−w) = −q(w), as C's roundf); held
 * or deferred as quantizedValue says (read again, it makes the same scales again).
 */
function quantizeRowsInt8(w: Value, N: number, K: number, scratch: QuantizeScratch, sums: ErrorSums): { q: Value; scale: Float32Array } {
  const scale = new Float32Array(N);
  const quantize: PartQuantizer = (part, sums) =>
    forRowsAtOnce(w, N, K, scratch.read, (first, rows, data) => rowsInt8(data, rows, K, scale.subarray(first), part(first, rows), sums));
  return { q: quantizedValue(w, `${w.name}.int8`, N, K, scratch, sums, quantize), scale };
}

/** `rows` rows of K values (`data`) into int8 levels `q` and their scales, the error summed into `sums` where given. */
function rowsInt8(data: Float32Array, rows: number, K: number, scale: Float32Array, q: Int8Array, sums?: ErrorSums): void {
  // Summed on from sums' totals, in the order of the weights (the report is the same part by part or whole).
  let errSq = sums ? sums.errSq : 0,
    normSq = sums ? sums.normSq : 0;
  for (let n = 0; n < rows; n++) {
    const at = n * K;
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(data[at + k]));
    scale[n] = max / 127 || 1;
    const s = scale[n]; // as stored, an f32 (an assignment's value would be the double)
    for (let k = 0; k < K; k++) {
      const v = data[at + k];
      // Clamped: a row whose largest |w| is subnormal gets a scale rounded down, and levels past 127.
      const r = roundHalfAway(v / s),
        level = r > 127 ? 127 : r < -127 ? -127 : r;
      q[at + k] = level;
      errSq += (level * s - v) ** 2;
      normSq += v * v;
    }
  }
  if (sums) {
    sums.errSq = errSq;
    sums.normSq = normSq;
  }
}

/**
 * The rows of an N × K f32 weight a few at a time (ROWS_AT_ONCE_BYTES), first to last: `data` holds
 * rows [first, first + rows), valid during the call. A weight left in its input file is read part by
 * part (ir/graph.ts's readValues) into `scratch`, which a quantizer reuses from weight to weight: no
 * f32 copy of a whole weight is held, and no buffer is made per part.
 */
export function forRowsAtOnce(
  w: Value,
  N: number,
  K: number,
  scratch: Scratch,
  each: (first: number, rows: number, data: Float32Array) => void,
): void {
  const step = Math.max(1, Math.floor(ROWS_AT_ONCE_BYTES / (4 * K)));
  for (let first = 0; first < N; first += step) {
    const rows = Math.min(step, N - first);
    each(first, rows, readValues(w, first * K, rows * K, scratch));
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
  const scratch = quantizeScratch();

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
    const { q, scale } = quantizeRowsInt8(w, N, K, scratch, own);
    const sName = `${w.name}.scale`;
    values.delete(w.name);
    values.set(q.name, q);
    values.set(sName, { name: sName, kind: "const", dtype: "f32", shape: [N], data: scale } satisfies Value);
    quantized.set(w.name, { q: q.name, scale: sName });
    for (const [r, s] of [[report, sums] as const, ...(table ? [[embeddings, tableSums] as const] : [])]) {
      r.tensors++;
      r.bytesBefore += 4 * N * K;
      r.bytesAfter += N * K + scale.byteLength;
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

export function relativeError({ errSq, normSq }: ErrorSums): number {
  return normSq ? Math.sqrt(errSq / normSq) : 0;
}
