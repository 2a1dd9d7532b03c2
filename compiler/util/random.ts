/** Seeded randomness for everything seec makes (factor initialisation, shuffles, random ablations). */

/** mulberry32: uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box-Muller) from a uniform source. */
export function normal(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Fisher-Yates, in place. */
export function shuffle<T>(xs: T[] | Int32Array, uniform: () => number): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}
