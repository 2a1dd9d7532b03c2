// One query's attention over a run of keys, in the SIMD flavours: scores in chunks through the online
// softmax (online-softmax.ts). Apart from simd.ts so that the vector primitives import nothing back.
import { madd } from "./fma";
import { expf } from "./math";
import { attendKeys, softmaxEnd, softmaxRaise, softmaxStart, softmaxWeigh } from "./online-softmax";
import { at, axpy, dot, dot4, exp4, hmax, hsum, hsum4 } from "./simd";

/** Keys whose scores attendRow holds at once, and where: a static buffer (AssemblyScript's static data). */
const KEYS = 128;
const STATIC_SCORES = memory.data(KEYS * 4, 16);

/**
 * Where the scores go: the static buffer, or in a worker thread of a module for threads
 * (kernels/threads.ts: an instance per thread on one memory, each with its own globals) a buffer of
 * its own, so that threads attending at once do not share one.
 */
let SCORES: usize = STATIC_SCORES;

/** Bytes of the buffer keepScoresAt() takes. */
export const SCORES_BYTES = KEYS * 4;

/** This instance's scores at `buffer` (SCORES_BYTES, 16-byte aligned) from now on. */
export function keepScoresAt(buffer: usize): void {
  SCORES = buffer;
}

/**
 * One query's attention over n keys and values (rows `stride` floats apart), a softmax of
 * scale · q·k into out (headDim floats), KEYS keys at a time: their scores (four dot products at
 * once, lanes of one vector through hsum4) go to SCORES with their max, the softmax's running max
 * and out are raised once for the chunk, then the weights e^(s − max) are one vector exp per four
 * keys and out takes four weighted value rows per pass. Per key that leaves no bookkeeping: the
 * online softmax's rescale and max run once per chunk, not once per four keys.
 */
@inline export function attendRow(q: usize, keys: usize, values: usize, stride: i32, n: i32, headDim: i32, scale: f32, out: usize): void {
  softmaxStart(out, headDim);
  if (headDim & 3) attendKeys(q, keys, values, stride, 0, n, headDim, scale, out);
  else
    for (let j0 = 0; j0 < n; j0 += KEYS) {
      const m = min(KEYS, n - j0);
      const kc = keys + at(j0 * stride), vc = values + at(j0 * stride);
      const top = scoreKeys(q, kc, stride, m, headDim, scale);
      softmaxWeigh(weighScores(m, softmaxRaise(out, top, headDim)));
      addWeightedRows(vc, stride, m, headDim, out);
    }
  softmaxEnd(out, headDim);
}

/** SCORES[j] = scale · q·keys[j] for m keys; their max. */
@inline function scoreKeys(q: usize, keys: usize, stride: i32, m: i32, headDim: i32, scale: f32): f32 {
  const sv = f32x4.splat(scale);
  let top = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= m; j += 4) {
    const k0 = keys + at(j * stride), k1 = k0 + at(stride), k2 = k1 + at(stride), k3 = k2 + at(stride);
    const s = f32x4.mul(sv, dot4(q, k0, k1, k2, k3, headDim));
    v128.store(SCORES + at(j), s);
    top = f32x4.max(top, s);
  }
  let best = hmax(top);
  for (; j < m; j++) {
    const s = dot(q, keys + at(j * stride), headDim) * scale;
    store<f32>(SCORES + at(j), s);
    best = max(best, s);
  }
  return best;
}

/** SCORES[j] = e^(SCORES[j] − top) for m keys; their sum. */
@inline function weighScores(m: i32, top: f32): f32 {
  const tv = f32x4.splat(top);
  let sum = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= m; j += 4) {
    const p = exp4(f32x4.sub(v128.load(SCORES + at(j)), tv));
    v128.store(SCORES + at(j), p);
    sum = f32x4.add(sum, p);
  }
  let total = hsum(sum);
  for (; j < m; j++) {
    const p = expf(load<f32>(SCORES + at(j)) - top);
    store<f32>(SCORES + at(j), p);
    total += p;
  }
  return total;
}

/** out += Σ_j SCORES[j] · values[j] over m value rows, four rows per pass over out. */
@inline function addWeightedRows(values: usize, stride: i32, m: i32, headDim: i32, out: usize): void {
  let j = 0;
  for (; j + 4 <= m; j += 4) {
    const p0 = v128.load32_splat(SCORES + at(j)), p1 = v128.load32_splat(SCORES + at(j + 1));
    const p2 = v128.load32_splat(SCORES + at(j + 2)), p3 = v128.load32_splat(SCORES + at(j + 3));
    const v0 = values + at(j * stride), v1 = v0 + at(stride), v2 = v1 + at(stride), v3 = v2 + at(stride);
    for (let d = 0; d < headDim; d += 4) {
      let o = v128.load(out + at(d));
      o = madd(p0, v128.load(v0 + at(d)), o);
      o = madd(p1, v128.load(v1 + at(d)), o);
      o = madd(p2, v128.load(v2 + at(d)), o);
      o = madd(p3, v128.load(v3 + at(d)), o);
      v128.store(out + at(d), o);
    }
  }
  for (; j < m; j++) axpy(out, values + at(j * stride), load<f32>(SCORES + at(j)), headDim);
}
