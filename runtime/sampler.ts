/**
 * Next-token choice, as llama2.c's sampler: argmax at temperature 0, else softmax(logits / T)
 * and a draw (nucleus/top-p when 0 < topP < 1) from llama2.c's xorshift generator, so a seed
 * gives the same tokens as llama2.c's `run -s seed`.
 */
export interface SampleOptions {
  temperature?: number;
  topP?: number;
  seed?: number;
}

const MASK64 = (1n << 64n) - 1n;

export class Sampler {
  private state: bigint;
  readonly temperature: number;
  readonly topP: number;

  constructor({ temperature = 1, topP = 0.9, seed = 42 }: SampleOptions = {}) {
    this.temperature = temperature;
    this.topP = topP;
    this.state = BigInt.asUintN(64, BigInt(Math.trunc(seed)));
  }

  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const probs = softmax(logits.map((l) => l / this.temperature));
    const coin = this.randomF32();
    return this.topP > 0 && this.topP < 1 ? sampleTopP(probs, this.topP, coin) : sampleMult(probs, coin);
  }

  private randomU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = (s ^ (s << 25n)) & MASK64;
    s ^= s >> 27n;
    this.state = s;
    return Number(((s * 0x2545f4914f6cdd1dn) & MASK64) >> 32n);
  }

  private randomF32(): number {
    return Math.fround((this.randomU32() >>> 8) / 16777216);
  }
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

function softmax(xs: Float32Array): Float32Array {
  let max = -Infinity;
  for (const x of xs) max = Math.max(max, x);
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

function sampleMult(probs: Float32Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < probs.length; i++) if (coin < (cdf += probs[i])) return i;
  return probs.length - 1;
}

function sampleTopP(probs: Float32Array, topP: number, coin: number): number {
  const cutoff = (1 - topP) / (probs.length - 1);
  const kept = [...probs.keys()].filter((i) => probs[i] >= cutoff).sort((a, b) => probs[b] - probs[a]);
  let cumulative = 0, last = kept.length - 1;
  for (let i = 0; i < kept.length; i++)
    if ((cumulative += probs[kept[i]]) > topP) {
      last = i;
      break;
    }
  const r = coin * cumulative;
  let cdf = 0;
  for (let i = 0; i <= last; i++) if (r < (cdf += probs[kept[i]])) return kept[i];
  return kept[last];
}
