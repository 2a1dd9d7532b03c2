/**
 * STS-B (sentence similarity): pairs of sentences with a gold score 0..5. Quality of an encoder
 * is the Spearman correlation between the cosine of its two embeddings and the gold score.
 */
import { SeecError } from "../../runtime/errors.js";

export interface StsPair {
  a: string;
  b: string;
  score: number;
}

/** The GLUE/SentEval TSV: 10 columns, sentences in 8 and 9, score in 10; a header row is skipped. */
export function readStsb(text: string, file = "STS-B"): StsPair[] {
  const pairs: StsPair[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const f = line.split("\t");
    const score = Number(f[9]);
    if (f.length < 10 || !Number.isFinite(score)) {
      if (i === 0) return; // header
      throw new SeecError("input.stsb", `line ${i + 1} is not an STS-B row (10 tab-separated columns, a numeric score last)`, {
        file,
        at: `line ${i + 1}`,
      });
    }
    pairs.push({ a: f[7], b: f[8], score });
  });
  if (pairs.length === 0) throw new SeecError("input.stsb", "no sentence pairs", { file });
  return pairs;
}

/** Spearman's rank correlation (ties get their average rank). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const rx = ranks(x),
    ry = ranks(y);
  const n = x.length;
  const mx = rx.reduce((a, b) => a + b, 0) / n,
    my = ry.reduce((a, b) => a + b, 0) / n;
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function ranks(v: readonly number[]): number[] {
  const order = [...v.keys()].sort((a, b) => v[a] - v[b]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && v[order[j + 1]] === v[order[i]]) j++;
    for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return dot / Math.sqrt(aa * bb || 1);
}

export interface StsResult {
  spearman: number;
  pairs: number;
  /** Seconds per sentence, embedding included. */
  secondsPerSentence: number;
}

/** Spearman of cos(embed(a), embed(b)) against the gold scores. */
export async function evalStsb(
  embed: (texts: string[]) => Promise<ArrayLike<number>[]>,
  pairs: StsPair[],
  opts: { onBatch?: (done: number, total: number) => void } = {},
): Promise<StsResult & { cosines: number[] }> {
  const t0 = performance.now();
  const cosines: number[] = [];
  for (let i = 0; i < pairs.length; i += 64) {
    const batch = pairs.slice(i, i + 64);
    const e = await embed(batch.flatMap((p) => [p.a, p.b]));
    batch.forEach((_, j) => cosines.push(cosine(e[2 * j], e[2 * j + 1])));
    opts.onBatch?.(Math.min(i + 64, pairs.length), pairs.length);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    spearman: spearman(
      cosines,
      pairs.map((p) => p.score),
    ),
    pairs: pairs.length,
    secondsPerSentence: seconds / (2 * pairs.length),
    cosines,
  };
}
