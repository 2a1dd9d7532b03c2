/**
 * Next-token choice, as llama2.c's sampler: argmax at temperature 0, else softmax(logits / T)
 * and a draw (nucleus/top-p when 0 < topP < 1) from llama2.c's xorshift generator, so a seed
 * gives the same tokens as llama2.c's `run -s seed`.
 */
import { SeecError } from "./errors.js";

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

  /** Checks each option as the CLI's flags are checked: runtime.option names the one that is wrong. */
  /** Without a seed, a random one: two calls differ, as sampling is meant to. */
  constructor({ temperature = 1, topP = 0.9, seed = randomSeed() }: SampleOptions = {}) {
    checkOption(
      "temperature",
      temperature,
      typeof temperature === "number" && temperature >= 0 && temperature <= 100,
      "a number from 0 (greedy) to 100",
    );
    checkOption("topP", topP, typeof topP === "number" && topP >= 0 && topP <= 1, "a number from 0 to 1");
    checkOption("seed", seed, Number.isSafeInteger(seed) && seed >= 0, "a whole number from 0 to 2^53 - 1");
    this.temperature = temperature;
    this.topP = topP;
    this.state = BigInt.asUintN(64, BigInt(seed));
  }

  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const scaled = logits.map((l) => l / this.temperature);
    // A temperature so small that the logits overflow is greedy, its limit.
    if (!scaled.every(Number.isFinite)) return argmax(logits);
    const probs = softmax(scaled);
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

/** 1 to 2^32 - 1 (0 would stall xorshift at 0, as llama2.c avoids too). */
function randomSeed(): number {
  return 1 + Math.floor(Math.random() * 0xfffffffe);
}

/** Throws runtime.option unless `ok`, saying what the option must be. */
export function checkOption(name: string, value: unknown, ok: boolean, must: string): void {
  if (!ok)
    throw new SeecError(
      "runtime.option",
      `${name} must be ${must}, got ${typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value))}`,
      { at: name },
    );
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
  let cumulative = 0,
    last = kept.length - 1;
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
