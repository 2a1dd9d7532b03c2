// llama2.c's sampler, computed as seec's JavaScript runtime computes it (runtime/sampler.ts):
// logits / temperature and the softmax rounded to f32 element by element, sums in f64.
import { argmax } from "../kernels/indexing";

let state: u64 = 42;

export function seed(value: u64): void {
  state = value;
}

function randomU32(): u32 {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return <u32>((state * 0x2545f4914f6cdd1d) >> 32);
}

function randomF32(): f32 {
  return <f32>(randomU32() >> 8) / 16777216.0;
}

/** The next token from n logits; probs and order are scratch of n f32 / 2n i32. */
export function sample(logits: usize, n: i32, temperature: f64, topP: f64, probs: usize, order: usize): i32 {
  if (temperature == 0) return argmax(logits, n);
  let max: f64 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = <f32>(<f64>load<f32>(logits + <usize>i * 4) / temperature);
    store<f32>(probs + <usize>i * 4, x);
    if (<f64>x > max) max = <f64>x;
  }
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const e = <f32>Math.exp(<f64>load<f32>(probs + <usize>i * 4) - max);
    store<f32>(probs + <usize>i * 4, e);
    sum += <f64>e;
  }
  for (let i = 0; i < n; i++) store<f32>(probs + <usize>i * 4, <f32>(<f64>load<f32>(probs + <usize>i * 4) / sum));
  const coin = <f64>randomF32();
  return topP > 0 && topP < 1 ? sampleTopP(probs, n, topP, coin, order) : sampleMult(probs, n, coin);
}

function prob(probs: usize, i: i32): f32 {
  return load<f32>(probs + <usize>i * 4);
}

function sampleMult(probs: usize, n: i32, coin: f64): i32 {
  let cdf: f64 = 0;
  for (let i = 0; i < n; i++) {
    cdf += <f64>prob(probs, i);
    if (coin < cdf) return i;
  }
  return n - 1;
}

function sampleTopP(probs: usize, n: i32, topP: f64, coin: f64, order: usize): i32 {
  const cutoff = (1 - topP) / <f64>(n - 1);
  let kept = 0;
  for (let i = 0; i < n; i++) if (<f64>prob(probs, i) >= cutoff) store<i32>(order + <usize>(kept++) * 4, i);
  sortByProbability(probs, order, kept, order + <usize>n * 4);
  let cumulative: f64 = 0;
  let last = kept - 1;
  for (let i = 0; i < kept; i++) {
    cumulative += <f64>prob(probs, load<i32>(order + <usize>i * 4));
    if (cumulative > topP) {
      last = i;
      break;
    }
  }
  const r = coin * cumulative;
  let cdf: f64 = 0;
  for (let i = 0; i <= last; i++) {
    const id = load<i32>(order + <usize>i * 4);
    cdf += <f64>prob(probs, id);
    if (r < cdf) return id;
  }
  return load<i32>(order + <usize>last * 4);
}

/** Stable bottom-up merge sort of ids by descending probability (JavaScript's sort is stable too). */
function sortByProbability(probs: usize, ids: usize, n: i32, scratch: usize): void {
  let from = ids, to = scratch;
  for (let width = 1; width < n; width <<= 1) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = min(lo + width, n), hi = min(lo + 2 * width, n);
      let a = lo, b = mid, k = lo;
      while (a < mid && b < hi) {
        const x = load<i32>(from + <usize>a * 4), y = load<i32>(from + <usize>b * 4);
        if (prob(probs, y) > prob(probs, x)) {
          store<i32>(to + <usize>(k++) * 4, y);
          b++;
        } else {
          store<i32>(to + <usize>(k++) * 4, x);
          a++;
        }
      }
      while (a < mid) store<i32>(to + <usize>(k++) * 4, load<i32>(from + <usize>(a++) * 4));
      while (b < hi) store<i32>(to + <usize>(k++) * 4, load<i32>(from + <usize>(b++) * 4));
    }
    const t = from;
    from = to;
    to = t;
  }
  if (from != ids) memory.copy(ids, from, <usize>n * 4);
}
