// A model on which seec build --threads splits every matmul, and the logits that tell a split wrong.
import { writeFileSync } from "node:fs";
import type { Model } from "../../runtime/index.js";
import { randomF32 } from "./random.js";

/** A llama2.c checkpoint (legacy format) big enough that every matmul and the attention split: dim 256 (65,536 weights a projection), grouped heads, 1,024 positions. */
export function writeSplitCheckpoint(file: string): void {
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = [256, 768, 2, 4, 2, 512, 1024];
  const kvDim = (dim / heads) * kvHeads;
  let seed = 1;
  const random = (n: number, fanIn: number) => randomF32(n, seed++, 1 / Math.sqrt(fanIn));
  const parts: ArrayBufferView[] = [Int32Array.of(dim, hidden, layers, heads, kvHeads, vocab, seqLen), random(vocab * dim, 1)];
  parts.push(new Float32Array(layers * dim).fill(1));
  for (const [rows, cols] of [
    [dim, dim],
    [kvDim, dim],
    [kvDim, dim],
    [dim, dim],
  ])
    parts.push(random(layers * rows * cols, cols));
  parts.push(new Float32Array(layers * dim).fill(1));
  for (const [rows, cols] of [
    [hidden, dim],
    [dim, hidden],
    [hidden, dim],
  ])
    parts.push(random(layers * rows * cols, cols));
  parts.push(new Float32Array(dim).fill(1), new Float32Array(seqLen * (dim / heads)));
  writeFileSync(file, Buffer.concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength))));
}

export const SPLIT_PROMPT = Int32Array.from([1, 17, 300, 42, 9, 511, 77, 3, 128]);

/**
 * The logits of a 9-token prompt (two threads: rows 0-3 and 4-8), then of 24 tokens one at a time
 * after it (outputs 0-255 and 256-511; attention split by kv heads, over ever longer caches).
 */
export async function splitLogits(model: Model): Promise<Float32Array[]> {
  const all = [(await model.run({ tokens: SPLIT_PROMPT, pos: Int32Array.of(0) })).logits as Float32Array];
  for (let pos = SPLIT_PROMPT.length; pos < SPLIT_PROMPT.length + 24; pos++)
    all.push((await model.run({ tokens: Int32Array.of((pos * 37) % 512), pos: Int32Array.of(pos) })).logits as Float32Array);
  return all;
}
