/** Adam (Kingma & Ba), the optimizer of both SEE stages, over named Float32Array parameters. */
export class Adam {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private step = 0;

  constructor(
    private readonly b1 = 0.9,
    private readonly b2 = 0.999,
    private readonly eps = 1e-8,
  ) {}

  /** Steps done so far. */
  get steps(): number {
    return this.step;
  }

  /** One step over every parameter with its gradient, at learning rate lr (or each name's own). */
  update(params: Record<string, Float32Array>, grads: Record<string, Float32Array>, lr: number | ((name: string) => number)): void {
    this.step++;
    const { b1, b2, eps } = this;
    const c1 = 1 - b1 ** this.step,
      c2 = 1 - b2 ** this.step;
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name];
      if (!g) continue;
      const rate = typeof lr === "number" ? lr : lr(name);
      const m = this.moment(this.m, name, p.length),
        v = this.moment(this.v, name, p.length);
      for (let i = 0; i < p.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= (rate * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    }
  }

  /** The optimizer's state, for checkpoints. */
  state(): { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> } {
    return { step: this.step, m: Object.fromEntries(this.m), v: Object.fromEntries(this.v) };
  }

  restore(s: { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> }): void {
    this.step = s.step;
    for (const [k, x] of Object.entries(s.m)) this.m.set(k, x);
    for (const [k, x] of Object.entries(s.v)) this.v.set(k, x);
  }

  private moment(map: Map<string, Float32Array>, name: string, length: number): Float32Array {
    let x = map.get(name);
    if (!x) map.set(name, (x = new Float32Array(length)));
    return x;
  }
}
