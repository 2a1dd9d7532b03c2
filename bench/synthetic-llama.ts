// Seeded random llama2.c checkpoints of real shapes (no such checkpoint is shipped), shared by the
// benchmarks that need a model of a given size: decode-synthetic.ts and wllama-vs-seec.ts.
import { closeSync, openSync, writeSync } from "node:fs";
import { rng } from "../compiler/util/random.js";

export const SHAPES = {
  stories260K: { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocab: 512, seqLen: 512 },
  stories15M: { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocab: 32000, seqLen: 256 },
  stories110M: { dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocab: 32000, seqLen: 1024 },
  // TinyLlama-1.1B's shape (grouped-query attention, 4 kv heads of 64): 4.4 GB as f32 untied, past what seec reads whole.
  tinyllama: { dim: 2048, hiddenDim: 5632, nLayers: 22, nHeads: 32, nKvHeads: 4, vocab: 32000, seqLen: 2048 },
};
export type ShapeName = keyof typeof SHAPES;
export type Shape = (typeof SHAPES)[ShapeName];

/** A llama2.c checkpoint (legacy format, version 0) of `shape`, weights uniform in ±1/sqrt(fan-in), norms 1, written tensor by tensor. */
export function writeCheckpoint(file: string, shape: Shape, untied = false): void {
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen } = shape;
  const kvDim = (dim / nHeads) * nKvHeads,
    headSize = dim / nHeads;
  const fd = openSync(file, "w");
  const r = rng(15);
  const put = (a: Float32Array | Int32Array) => writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const random = (n: number, fanIn: number) => {
    const s = 1 / Math.sqrt(fanIn);
    // In slices of at most 16 Mi values: no whole-tensor buffer beyond that.
    for (let done = 0; done < n; done += 1 << 24) put(Float32Array.from({ length: Math.min(1 << 24, n - done) }, () => (2 * r() - 1) * s));
  };
  const ones = (n: number) => put(new Float32Array(n).fill(1));
  put(Int32Array.of(dim, hiddenDim, nLayers, nHeads, nKvHeads, untied ? -vocab : vocab, seqLen));
  random(vocab * dim, dim);
  ones(nLayers * dim);
  for (const [rows, cols] of [
    [dim, dim],
    [kvDim, dim],
    [kvDim, dim],
    [dim, dim],
  ])
    for (let l = 0; l < nLayers; l++) random(rows * cols, cols);
  ones(nLayers * dim);
  for (const [rows, cols] of [
    [hiddenDim, dim],
    [dim, hiddenDim],
    [hiddenDim, dim],
  ])
    for (let l = 0; l < nLayers; l++) random(rows * cols, cols);
  ones(dim);
  put(new Float32Array(seqLen * headSize)); // freq_cis_real, freq_cis_imag: seec computes its own
  if (untied) random(vocab * dim, dim);
  closeSync(fd);
}
