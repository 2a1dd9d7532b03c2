/**
 * Values inside a chat template as Python and Jinja see them: truth, equality, str() and repr(),
 * json.dumps as Hugging Face's `tojson` filter calls it, indexing with negative indices, slices.
 * JavaScript's undefined is Jinja's Undefined (it renders as "", is false, iterates as nothing);
 * null is None; arrays are lists; plain objects are dicts.
 */
export type Callable = ((args: unknown[], kwargs: Record<string, unknown>) => unknown) & { readonly jinja?: true };

/** namespace(): the one object a template may assign attributes of (`{% set ns.found = true %}`). */
export class Namespace {
  constructor(readonly values: Record<string, unknown>) {}
}

export function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Namespace);
}

export function truthy(v: unknown): boolean {
  if (Array.isArray(v) || typeof v === "string") return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return !!v;
}

export function equal(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isDict(a) && isDict(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && equal(a[k], b[k]));
  }
  return a === b;
}

/** Python's str(): what `{{ x }}` prints. */
export function str(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  return repr(v);
}

/** Python's repr(), for values inside lists and dicts. */
export function repr(v: unknown): string {
  if (v === undefined) return "";
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : String(v);
  if (typeof v === "string") {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
    const escaped = v.replace(/[\\\n\r\t]/g, (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!);
    return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
  }
  if (Array.isArray(v)) return `[${v.map(repr).join(", ")}]`;
  if (v instanceof Namespace) return `<Namespace ${repr(v.values)}>`;
  if (typeof v === "function") return "<function>";
  return `{${Object.entries(v as object)
    .map(([k, x]) => `${repr(k)}: ${repr(x)}`)
    .join(", ")}}`;
}

/**
 * json.dumps(v, ensure_ascii=False, indent=indent) as Python writes it: ", " and ": " between
 * items, or "," and a line break with `indent`; keys in their order.
 */
export function toJson(v: unknown, indent?: number | string, level = 0): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : Number.isFinite(v) ? String(v) : v > 0 ? "Infinity" : "-Infinity";
  if (typeof v === "string") return JSON.stringify(v);
  const pad = indent === undefined ? undefined : typeof indent === "number" ? " ".repeat(indent) : indent;
  const join = (items: string[], open: string, close: string) => {
    if (items.length === 0) return open + close;
    if (pad === undefined) return open + items.join(", ") + close;
    const inner = "\n" + pad.repeat(level + 1);
    return open + inner + items.join("," + inner) + "\n" + pad.repeat(level) + close;
  };
  if (Array.isArray(v))
    return join(
      v.map((x) => toJson(x, indent, level + 1)),
      "[",
      "]",
    );
  const entries = Object.entries(v instanceof Namespace ? v.values : (v as object));
  return join(
    entries.map(([k, x]) => `${JSON.stringify(k)}: ${toJson(x, indent, level + 1)}`),
    "{",
    "}",
  );
}

/** len(). */
export function length(v: unknown): number | undefined {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (isDict(v)) return Object.keys(v).length;
  return undefined;
}

/** What a for loop walks: a list's items, a string's characters, a dict's keys; Undefined is empty. */
export function iterate(v: unknown): unknown[] | undefined {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return [...v];
  if (isDict(v)) return Object.keys(v);
  return undefined;
}

/** x[i] for a list or string, counting from the end for a negative i; Undefined past either end. */
export function index<T>(items: readonly T[] | string, i: number): T | string | undefined {
  if (!Number.isInteger(i)) return undefined;
  const k = i < 0 ? items.length + i : i;
  return k >= 0 && k < items.length ? items[k] : undefined;
}

/** x[start:stop:step] with Python's rules (negative indices, clamping, a negative step walking back). */
export function slice<T>(items: readonly T[], start?: number, stop?: number, step = 1): T[] {
  const n = items.length;
  if (step === 0) throw new RangeError("slice step cannot be zero");
  const clamp = (x: number, low: number, high: number) => Math.min(Math.max(x < 0 ? x + n : x, low), high);
  const out: T[] = [];
  if (step > 0)
    for (let i = start === undefined ? 0 : clamp(start, 0, n), end = stop === undefined ? n : clamp(stop, 0, n); i < end; i += step)
      out.push(items[i]);
  else
    for (
      let i = start === undefined ? n - 1 : clamp(start, -1, n - 1), end = stop === undefined ? -1 : clamp(stop, -1, n - 1);
      i > end;
      i += step
    )
      out.push(items[i]);
  return out;
}

/** What a value is, in Python's words, for messages. */
export function typeName(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "none";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "list";
  if (typeof v === "function") return "function";
  if (v instanceof Namespace) return "namespace";
  return "dict";
}

/** Python's str.strip family: whitespace, or the characters given. */
export function stripChars(s: string, chars: unknown, side: "start" | "end"): string {
  const set = chars === undefined || chars === null ? undefined : new Set(String(chars));
  const strip = (c: string) => (set ? set.has(c) : /\s/.test(c));
  const cs = [...s];
  let from = 0,
    to = cs.length;
  if (side === "start") while (from < to && strip(cs[from])) from++;
  else while (to > from && strip(cs[to - 1])) to--;
  return cs.slice(from, to).join("");
}

export function splitString(s: string, sep: unknown, max: unknown): string[] {
  const limit = typeof max === "number" && max >= 0 ? max : Infinity;
  if (sep === undefined || sep === null) {
    const words = s.trim().split(/\s+/).filter(Boolean);
    return words.length > limit ? [...words.slice(0, limit), s.trim().split(/\s+/).slice(limit).join(" ")] : words;
  }
  const parts = s.split(String(sep));
  return parts.length - 1 > limit ? [...parts.slice(0, limit), parts.slice(limit).join(String(sep))] : parts;
}

export function replaceString(s: string, from: string, to: string, count: unknown): string {
  const parts = s.split(from);
  const n = typeof count === "number" && count >= 0 ? Math.min(count, parts.length - 1) : parts.length - 1;
  return parts.slice(0, n + 1).join(to) + (n < parts.length - 1 ? from + parts.slice(n + 1).join(from) : "");
}
