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
  // True == 1, as in Python.
  const numeric = (x: unknown) => typeof x === "number" || typeof x === "boolean";
  return numeric(a) && numeric(b) ? Number(a) === Number(b) : a === b;
}

/** Python's str(): what `{{ x }}` prints. */
export function str(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  return repr(v);
}

/** Python's repr(), for values inside lists and dicts. */
export function repr(v: unknown): string {
  if (v === undefined) return "Undefined";
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : pyNumber(v);
  if (typeof v === "string") {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
    // Backslashes, the quote, and what Python does not print (controls, format characters, separators but " ").
    const escaped = v.replace(/[\\'\p{C}\p{Z}]/gu, (c) => {
      if (c === " " || (c === "'" && quote === '"')) return c;
      const named = ({ "\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t" } as Record<string, string>)[c];
      const code = c.codePointAt(0)!;
      const [prefix, width] = code < 0x100 ? ["x", 2] : code < 0x10000 ? ["u", 4] : ["U", 8];
      return named ?? `\\${prefix}${code.toString(16).padStart(width, "0")}`;
    });
    return quote + escaped + quote;
  }
  if (Array.isArray(v)) return `[${v.map(repr).join(", ")}]`;
  if (v instanceof Namespace) return `<Namespace ${repr(v.values)}>`;
  if (typeof v === "function") return "<function>";
  return `{${Object.entries(v as object)
    .map(([k, x]) => `${repr(k)}: ${repr(x)}`)
    .join(", ")}}`;
}

/** A number as Python prints it: a float below 1e-4 in scientific notation with two exponent digits (1e-05). */
export function pyNumber(v: number): string {
  if (Number.isInteger(v) || Math.abs(v) >= 1e-4) return String(v);
  return v.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
}

/** Hugging Face's tojson filter: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False). */
export interface JsonOptions {
  ascii?: unknown;
  indent?: unknown;
  separators?: unknown;
  sortKeys?: unknown;
}

/**
 * json.dumps as Python writes it: ", " and ": " between items, or "," and a line break with
 * `indent` (spaces, or the string given); keys in their order unless sorted; what JSON cannot hold
 * (Undefined, a function, a namespace) is a TypeError.
 */
export function toJson(v: unknown, { ascii, indent, separators, sortKeys }: JsonOptions = {}): string {
  const pad =
    indent === undefined || indent === null ? undefined : typeof indent === "number" ? " ".repeat(Math.max(0, indent)) : str(indent);
  const [itemSep, keySep] = Array.isArray(separators) ? separators.map(str) : [pad === undefined ? ", " : ",", ": "];
  const text = (x: unknown, level: number): string => {
    if (x === null) return "null";
    if (typeof x === "boolean") return String(x);
    if (typeof x === "number") return Number.isNaN(x) ? "NaN" : Number.isFinite(x) ? pyNumber(x) : x > 0 ? "Infinity" : "-Infinity";
    if (typeof x === "string") return JSON.stringify(x);
    if (!Array.isArray(x) && !isDict(x)) throw new TypeError(`Object of type ${typeName(x)} is not JSON serializable`);
    const entries = Array.isArray(x) ? x.map((item) => [undefined, item] as const) : Object.entries(x);
    if (!Array.isArray(x) && truthy(sortKeys)) entries.sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
    const items = entries.map(([k, item]) => (k === undefined ? "" : JSON.stringify(k) + keySep) + text(item, level + 1));
    const [open, close] = Array.isArray(x) ? "[]" : "{}";
    if (items.length === 0) return open + close;
    if (pad === undefined) return open + items.join(itemSep) + close;
    const inner = "\n" + pad.repeat(level + 1);
    return open + inner + items.join(itemSep + inner) + "\n" + pad.repeat(level) + close;
  };
  const json = text(v, 0);
  return truthy(ascii) ? json.replace(/[\x7f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) : json;
}

/** len(). */
export function length(v: unknown): number | undefined {
  if (v === undefined) return 0;
  if (typeof v === "string") return [...v].length;
  if (Array.isArray(v)) return v.length;
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
export function index<T>(list: readonly T[] | string, i: number): T | string | undefined {
  if (!Number.isInteger(i)) return undefined;
  // A string's characters are code points, as Python counts them.
  const items = typeof list === "string" ? [...list] : list;
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
    // Runs of whitespace; the rest after `max` splits keeps its trailing whitespace.
    const words: string[] = [];
    let rest = s.replace(/^\s+/, "");
    for (let m = /\s+/.exec(rest); rest && m && words.length < limit; m = /\s+/.exec(rest)) {
      words.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return rest ? [...words, rest] : words;
  }
  const parts = s.split(String(sep));
  return parts.length - 1 > limit ? [...parts.slice(0, limit), parts.slice(limit).join(String(sep))] : parts;
}

export function replaceString(s: string, from: string, to: string, count: unknown): string {
  const parts = s.split(from);
  const n = typeof count === "number" && count >= 0 ? Math.min(count, parts.length - 1) : parts.length - 1;
  return parts.slice(0, n + 1).join(to) + (n < parts.length - 1 ? from + parts.slice(n + 1).join(from) : "");
}
