/**
 * Attributes that depend on a symbolic dimension. A graph built for any token count up to a
 * maximum (an ONNX input's `--shape input_ids=1x?128`) has strided copies whose sizes, strides and
 * offsets are polynomials of the call's T (a·T + b, or T² for the strides of a [heads, T, T]
 * tensor). Such an attribute entry is written "2*T+0" or "1*T^2+0*T+0" (dimEntry: that form only,
 * so no other string attribute reads as one); `nums()` refuses it, so a reader that does not
 * bind dimensions fails loudly instead of using a wrong number.
 */
import { SeecError } from "../../runtime/errors.js";
import type { AttrValue, Attrs, Dim } from "./graph.js";

/** A dimension attribute entry: c[0] + c[1]·dim + c[2]·dim² + … */
export interface DimExpr {
  dim: string;
  c: number[];
}

const TERM = /([+-]?\d+(?:\.\d+)?)\*([A-Za-z_][A-Za-z0-9_]*)(?:\^(\d+))?|([+-]\d+(?:\.\d+)?)$/y;

/**
 * The attribute entry for the polynomial with coefficients `c` (constant term first) in `dim`: a
 * number where it is constant, else its terms from the highest power down, always ending in the
 * constant term ("2*T+0", "1*T^2+0*T-1"), so that no other string attribute reads as one.
 */
export function dimEntry(dim: string, c: readonly number[]): number | string {
  let top = c.length - 1;
  while (top > 0 && c[top] === 0) top--;
  if (top <= 0) return c[0] ?? 0;
  const sign = (x: number) => (x < 0 ? `-${-x}` : `+${x}`);
  const terms = [];
  for (let k = top; k >= 1; k--) terms.push(`${k === top ? c[k] : sign(c[k])}*${dim}${k > 1 ? `^${k}` : ""}`);
  return `${terms.join("")}${sign(c[0] ?? 0)}`;
}

/** a·dim + b as an entry. */
export const affineEntry = (dim: string, a: number, b: number) => dimEntry(dim, [b, a]);

/** An entry's polynomial, or undefined for a plain number or a string of another meaning. */
export function parseDimExpr(v: number | string): DimExpr | undefined {
  if (typeof v === "number") return undefined;
  const c: number[] = [];
  let dim: string | undefined,
    at = 0,
    last: number | undefined;
  TERM.lastIndex = 0;
  for (let m; at < v.length && (m = TERM.exec(v)); at = TERM.lastIndex) {
    if (m[4] !== undefined) {
      last = Number(m[4]);
      break;
    }
    if ((dim ?? m[2]) !== m[2]) return undefined;
    dim = m[2];
    c[m[3] ? Number(m[3]) : 1] = Number(m[1]);
  }
  if (!dim || last === undefined || TERM.lastIndex !== v.length) return undefined;
  c[0] = last;
  return { dim, c: Array.from(c, (x) => x ?? 0) };
}

/** An entry's value where `dims` binds its dimension. */
export function bindEntry(v: number | string, dims: Readonly<Record<string, number>>): number {
  if (typeof v === "number") return v;
  const f = parseDimExpr(v);
  const bound = f ? dims[f.dim] : undefined;
  if (!f || bound === undefined) throw new SeecError("internal.ir", `attribute entry "${v}" has no binding`);
  return f.c.reduce((sum, x, k) => sum + x * bound ** k, 0);
}

/** Whether a node's attributes depend on a symbolic dimension. */
export function isSymbolic(attrs: Attrs): boolean {
  return Object.values(attrs).some((v) => (typeof v === "object" ? v : [v]).some((x) => parseDimExpr(x) !== undefined));
}

/** The attributes with every a*T+b entry evaluated at `dims` (the attributes themselves where none is). */
export function bindAttrs(attrs: Attrs, dims: Readonly<Record<string, number>>): Attrs {
  if (!isSymbolic(attrs)) return attrs;
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(attrs))
    out[k] = typeof v === "object" ? v.map((x) => (parseDimExpr(x) ? bindEntry(x, dims) : x)) : parseDimExpr(v) ? bindEntry(v, dims) : v;
  return out;
}

/** A shape entry as a tensor dimension: a number, the dimension's name for 1·dim + 0, nothing else. */
export function entryDim(v: number | string, node: string): Dim {
  if (typeof v === "number") return v;
  const f = parseDimExpr(v);
  if (f && f.c.length === 2 && f.c[0] === 0 && f.c[1] === 1) return f.dim;
  throw new SeecError("internal.ir", `a tensor dimension must be a number or a symbolic dimension, not "${v}"`, { at: `node ${node}` });
}

/**
 * A polynomial in one symbolic dimension, for code generators: coefficients from the constant term
 * up (the strides of a tensor with a T dimension are multiples of T, a [T, T] one's of T²).
 */
export class Poly {
  private constructor(
    readonly dim: string,
    readonly c: readonly number[],
  ) {}

  static of(v: Dim | number | string, dim: string): Poly {
    if (typeof v === "number") return new Poly(dim, [v]);
    if (v === dim) return new Poly(dim, [0, 1]);
    const f = parseDimExpr(v);
    if (f && f.dim === dim) return new Poly(dim, f.c);
    throw new SeecError("internal.ir", `"${v}" is not a number or an expression of ${dim}`);
  }

  /** Suffix products of a shape: its row-major strides. */
  static strides(shape: readonly Poly[], dim: string): Poly[] {
    const s: Poly[] = new Array(shape.length);
    let k = Poly.of(1, dim);
    for (let i = shape.length - 1; i >= 0; i--) ((s[i] = k), (k = k.times(shape[i])));
    return s;
  }

  get isConstant(): boolean {
    return this.c.slice(1).every((x) => x === 0);
  }

  /** The value where the constant term is all there is (else undefined). */
  get constant(): number | undefined {
    return this.isConstant ? (this.c[0] ?? 0) : undefined;
  }

  times(o: Poly): Poly {
    const c = new Array<number>(this.c.length + o.c.length - 1).fill(0);
    this.c.forEach((x, i) => o.c.forEach((y, j) => (c[i + j] += x * y)));
    return new Poly(this.dim, c);
  }

  plus(o: Poly): Poly {
    const c = Array.from({ length: Math.max(this.c.length, o.c.length) }, (_, i) => (this.c[i] ?? 0) + (o.c[i] ?? 0));
    return new Poly(this.dim, c);
  }

  equals(o: Poly): boolean {
    const n = Math.max(this.c.length, o.c.length);
    for (let i = 0; i < n; i++) if ((this.c[i] ?? 0) !== (o.c[i] ?? 0)) return false;
    return true;
  }

  /** An expression of the dimension's variable: "3", "T", "2 * T + 1", "T * T". */
  toString(): string {
    const terms = this.c.flatMap((x, i) => {
      if (x === 0) return [];
      const power = Array.from({ length: i }, () => this.dim).join(" * ");
      return i === 0 ? [String(x)] : [x === 1 ? power : `${x} * ${power}`];
    });
    return terms.length ? terms.join(" + ").replace(/\+ -/g, "- ") : "0";
  }
}

/** A shape's dimensions as polynomials in `dim`. */
export const polyShape = (shape: readonly (number | string)[], dim: string): Poly[] => shape.map((d) => Poly.of(d, dim));

/** Strides that read `shape` broadcast to `out` (0 along broadcast axes), as polynomials in `dim`. */
export function broadcastPolyStrides(shape: readonly (number | string)[], out: readonly Poly[], dim: string): Poly[] {
  const s = Poly.strides(polyShape(shape, dim), dim);
  const offset = out.length - shape.length;
  return out.map((_, d) => (d < offset || shape[d - offset] === 1 ? Poly.of(0, dim) : s[d - offset]));
}

/**
 * coalesce() (ops/tensor.ts) over polynomial dimensions and strides: dimensions of 1 dropped,
 * neighbours merged where every operand allows.
 */
export function coalescePolys(
  shape: readonly Poly[],
  strides: readonly (readonly Poly[])[],
  dim: string,
): { shape: Poly[]; strides: Poly[][] } {
  const dims = shape.map((d, i) => ({ d, s: strides.map((st) => st[i]) })).filter((x) => x.d.constant !== 1);
  const out: { d: Poly; s: Poly[] }[] = [];
  for (const x of dims) {
    const prev = out[out.length - 1];
    if (prev && prev.s.every((s, k) => s.equals(x.s[k].times(x.d)))) {
      prev.d = prev.d.times(x.d);
      prev.s = x.s.slice();
    } else out.push({ d: x.d, s: x.s.slice() });
  }
  if (out.length === 0) out.push({ d: Poly.of(1, dim), s: strides.map(() => Poly.of(0, dim)) });
  return { shape: out.map((x) => x.d), strides: strides.map((_, k) => out.map((x) => x.s[k])) };
}

/** The product of dimensions, as a polynomial in `dim`. */
export const polyProduct = (dims: readonly Poly[], dim: string) => dims.reduce((a, d) => a.times(d), Poly.of(1, dim));
