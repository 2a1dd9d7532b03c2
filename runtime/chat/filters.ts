/**
 * The filters, tests and global functions chat templates use, as Jinja and Hugging Face's
 * apply_chat_template define them (`tojson` is Hugging Face's: json.dumps without ASCII escapes;
 * `raise_exception` ends the render with the template's message).
 */
import { SeecError } from "../errors.js";
import {
  type Callable,
  equal,
  isDict,
  iterate,
  length,
  Namespace,
  replaceString,
  str,
  stripChars,
  toJson,
  truthy,
  typeName,
} from "./values.js";

type Filter = (value: unknown, args: unknown[], kwargs: Record<string, unknown>) => unknown;
type Test = (value: unknown, args: unknown[]) => boolean;

function need<T>(ok: boolean, value: T, what: string): T {
  if (!ok) throw new TypeError(what);
  return value;
}

function items(v: unknown, filter: string): unknown[] {
  const all = iterate(v);
  return need(all !== undefined, all!, `${filter} takes a list, got a ${typeName(v)}`);
}

/** `attribute` of each item (dotted: "function.name"), as map(attribute=...) and selectattr read it. */
function attributeOf(item: unknown, path: string): unknown {
  let v = item;
  for (const part of path.split(".")) v = isDict(v) ? v[part] : v instanceof Namespace ? v.values[part] : undefined;
  return v;
}

/** A filter whose keyword arguments take the places of its parameters after the value, as jinja2 binds them. */
function keywords(params: string[], f: (value: unknown, args: unknown[]) => unknown): Filter {
  return (v, args, kwargs) => {
    const all = [...args];
    for (const [k, x] of Object.entries(kwargs)) all[need(params.includes(k), params.indexOf(k), `unexpected keyword argument ${k}`)] = x;
    return f(v, all);
  };
}

/** Python's sort order of two keys (numbers, or strings); anything else is a TypeError, as in Python. */
function compare(a: unknown, b: unknown): number {
  const [x, y] = [typeof a === "boolean" ? Number(a) : a, typeof b === "boolean" ? Number(b) : b];
  need(typeof x === typeof y && (typeof x === "number" || typeof x === "string"), 0, `cannot sort a ${typeName(a)} and a ${typeName(b)}`);
  return (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
}

const lower = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : v);

/** Python's float(text): digits with a point or exponent, inf and nan; undefined where Python raises. */
function floatOf(text: string): number | undefined {
  const t = text.trim().replace(/(?<=\d)_(?=\d)/g, "");
  if (/^[+-]?(inf(inity)?|nan)$/i.test(t)) return t.toLowerCase().includes("nan") ? NaN : t.startsWith("-") ? -Infinity : Infinity;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : undefined;
}

/** Python's int(text, base) for bases 2 to 36 (a 0x/0o/0b prefix matching the base allowed); undefined where Python raises. */
function intOf(text: string, base: number): number | undefined {
  const prefix = ({ 16: "x", 8: "o", 2: "b" } as Record<number, string>)[base];
  let t = text.trim().replace(/(?<=[\da-z])_(?=[\da-z])/gi, "");
  if (prefix) t = t.replace(new RegExp(`^([+-]?)0${prefix}_?`, "i"), "$1");
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, base);
  return Number.isInteger(base) && base >= 2 && new RegExp(`^[+-]?[${digits}]+$`, "i").test(t) ? parseInt(t, base) : undefined;
}

/** A number (a bool is 0 or 1) for the tests that take value % n; anything else is a TypeError, as in Python. */
const number = (v: unknown, test: string): number =>
  need(typeof v === "number" || typeof v === "boolean", Number(v), `${test} takes a number, got a ${typeName(v)}`);

/** The test select/selectattr (and their opposites) name. */
const testNamed = (name: unknown): Test => TESTS[String(name)] ?? need(false, () => false, `no test named ${str(name)}`);

/** selectattr/rejectattr: items whose attribute passes a test (truth by default). */
function selectAttr(keep: boolean): Filter {
  return (v, [attr, test, ...args]) =>
    items(v, keep ? "selectattr" : "rejectattr").filter((item) => {
      const value = attributeOf(item, String(attr));
      const passes = test === undefined ? truthy(value) : testNamed(test)(value, args);
      return passes === keep;
    });
}

export const FILTERS: Record<string, Filter> = {
  length: (v) => need(length(v) !== undefined, length(v), `length of a ${typeName(v)}`),
  count: (v) => FILTERS.length(v, [], {}),
  trim: keywords(["chars"], (v, [chars]) => stripChars(stripChars(str(v), chars, "start"), chars, "end")),
  tojson: keywords(["ensure_ascii", "indent", "separators", "sort_keys"], (v, [ascii, indent, separators, sortKeys]) =>
    toJson(v, { ascii, indent, separators, sortKeys }),
  ),
  string: (v) => str(v),
  upper: (v) => str(v).toUpperCase(),
  lower: (v) => str(v).toLowerCase(),
  capitalize: (v) => str(v).charAt(0).toUpperCase() + str(v).slice(1).toLowerCase(),
  // Words begin after "-", whitespace or an opening bracket.
  title: (v) =>
    str(v)
      .split(/([-\s({[<]+)/)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
      .join(""),
  replace: keywords(["old", "new", "count"], (v, [from, to, count]) => replaceString(str(v), str(from), str(to), count)),
  first: (v) => items(v, "first")[0],
  last: (v) => items(v, "last").at(-1),
  list: (v) => [...items(v, "list")],
  reverse: (v) => (typeof v === "string" ? [...v].reverse().join("") : [...items(v, "reverse")].reverse()),
  join: keywords(["d", "attribute"], (v, [sep = "", attr]) =>
    items(v, "join")
      .map((x) => str(attr !== undefined ? attributeOf(x, String(attr)) : x))
      .join(str(sep)),
  ),
  default: keywords(["default_value", "boolean"], (v, [fallback = "", boolean = false]) =>
    v === undefined || (truthy(boolean) && !truthy(v)) ? fallback : v,
  ),
  d: (v, args, kw) => FILTERS.default(v, args, kw),
  // int(value, base) for text, else int(value); failing that int(float(value)) ("4.5" is 4); failing that the default.
  int: keywords(["default", "base"], (v, [fallback = 0, base = 10]) => {
    const n =
      typeof v === "number" || typeof v === "boolean"
        ? Number(v)
        : typeof v === "string"
          ? (intOf(v, base as number) ?? floatOf(v))
          : undefined;
    return n !== undefined && Number.isFinite(n) ? Math.trunc(n) : fallback;
  }),
  float: keywords(["default"], (v, [fallback = 0]) => {
    const n = typeof v === "number" || typeof v === "boolean" ? Number(v) : typeof v === "string" ? floatOf(v) : undefined;
    return n ?? fallback;
  }),
  abs: (v) => Math.abs(need(typeof v === "number" || typeof v === "boolean", Number(v), `abs of a ${typeName(v)}`)),
  items: (v) => (v === undefined ? [] : Object.entries(need(isDict(v), v as object, `items of a ${typeName(v)}`))),
  dictsort: keywords(["case_sensitive", "by", "reverse"], (v, [cased = false, by = "key", reverse = false]) => {
    const at = need(by === "key" || by === "value", by === "key" ? 0 : 1, 'dictsort sorts by "key" or "value"');
    const key = (entry: unknown[]) => (truthy(cased) ? entry[at] : lower(entry[at]));
    const entries = Object.entries(need(isDict(v), v as object, `dictsort of a ${typeName(v)}`));
    return entries.sort((a, b) => compare(key(a), key(b)) * (truthy(reverse) ? -1 : 1));
  }),
  map: (v, [name, ...args], kw) =>
    items(v, "map").map((x) =>
      kw.attribute !== undefined
        ? (attributeOf(x, String(kw.attribute)) ?? kw.default)
        : (FILTERS[String(name)] ?? need(false, () => undefined, `no filter named ${str(name)}`))(x, args, {}),
    ),
  select: (v, [test, ...args]) => items(v, "select").filter((x) => (test === undefined ? truthy(x) : testNamed(test)(x, args))),
  reject: (v, [test, ...args]) => items(v, "reject").filter((x) => !(test === undefined ? truthy(x) : testNamed(test)(x, args))),
  selectattr: selectAttr(true),
  rejectattr: selectAttr(false),
  // Strings compare without case unless case_sensitive.
  unique: keywords(["case_sensitive", "attribute"], (v, [cased = false, attr]) => {
    const keys = items(v, "unique").map((x) => (attr === undefined ? x : attributeOf(x, String(attr))));
    const key = (x: unknown) => (truthy(cased) ? x : lower(x));
    return items(v, "unique").filter((_, i) => keys.findIndex((y) => equal(key(keys[i]), key(y))) === i);
  }),
  // Every line but the first (unless `first`) gains the indent; empty lines only with `blank`.
  indent: keywords(["width", "first", "blank"], (v, [width = 4, first = false, blank = false]) => {
    const pad = typeof width === "number" ? " ".repeat(Math.max(0, width)) : str(width);
    return str(v)
      .split("\n")
      .map((line, i) => ((i === 0 && !truthy(first)) || (line === "" && !truthy(blank)) ? line : pad + line))
      .join("\n");
  }),
  safe: (v) => v,
  wordcount: (v) => str(v).split(/\s+/).filter(Boolean).length,
  sum: keywords(["attribute", "start"], (v, [attr, start = 0]) =>
    items(v, "sum").reduce<number>((total, x) => {
      const n = attr === undefined ? x : attributeOf(x, String(attr));
      return total + need(typeof n === "number" || typeof n === "boolean", Number(n), `cannot add a ${typeName(n)} to a number`);
    }, Number(start)),
  ),
};

export const TESTS: Record<string, Test> = {
  defined: (v) => v !== undefined,
  undefined: (v) => v === undefined,
  none: (v) => v === null,
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number" || typeof v === "boolean",
  integer: (v) => typeof v === "number" && Number.isInteger(v),
  float: (v) => typeof v === "number" && !Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  true: (v) => v === true,
  false: (v) => v === false,
  mapping: (v) => isDict(v),
  // Undefined iterates (as nothing), has a length and can be called (to fail), so these tests hold for it in jinja2.
  iterable: (v) => v === undefined || typeof v === "string" || Array.isArray(v) || isDict(v),
  sequence: (v) => v === undefined || typeof v === "string" || Array.isArray(v) || isDict(v),
  callable: (v) => v === undefined || typeof v === "function",
  odd: (v) => Math.abs(number(v, "odd") % 2) === 1,
  even: (v) => number(v, "even") % 2 === 0,
  divisibleby: (v, [n]) => number(v, "divisibleby") % number(n, "divisibleby") === 0,
  equalto: (v, [x]) => equal(v, x),
  eq: (v, [x]) => equal(v, x),
  "==": (v, [x]) => equal(v, x),
  ne: (v, [x]) => !equal(v, x),
  "!=": (v, [x]) => !equal(v, x),
  sameas: (v, [x]) => v === x,
  in: (v, [x]) =>
    typeof x === "string"
      ? typeof v === "string" && x.includes(v)
      : Array.isArray(x)
        ? x.some((y) => equal(y, v))
        : isDict(x) && typeof v === "string" && v in x,
  gt: (v, [x]) => compare(v, x) > 0,
  greaterthan: (v, [x]) => compare(v, x) > 0,
  ge: (v, [x]) => compare(v, x) >= 0,
  lt: (v, [x]) => compare(v, x) < 0,
  lessthan: (v, [x]) => compare(v, x) < 0,
  le: (v, [x]) => compare(v, x) <= 0,
  lower: (v) => typeof v === "string" && v === v.toLowerCase(),
  upper: (v) => typeof v === "string" && v === v.toUpperCase(),
};

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Python's strftime for the fields date lines in chat templates use (Llama 3.1's "26 Jul 2024"). */
export function strftime(format: string, d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const fields: Record<string, string> = {
    d: two(d.getDate()),
    m: two(d.getMonth() + 1),
    Y: String(d.getFullYear()),
    y: two(d.getFullYear() % 100),
    B: MONTHS[d.getMonth()],
    b: MONTHS[d.getMonth()].slice(0, 3),
    A: DAYS[d.getDay()],
    a: DAYS[d.getDay()].slice(0, 3),
    H: two(d.getHours()),
    M: two(d.getMinutes()),
    S: two(d.getSeconds()),
    I: two(((d.getHours() + 11) % 12) + 1),
    p: d.getHours() < 12 ? "AM" : "PM",
    e: String(d.getDate()).padStart(2, " "),
    j: String(Math.round((+new Date(d.getFullYear(), d.getMonth(), d.getDate()) - +new Date(d.getFullYear(), 0, 1)) / 864e5) + 1).padStart(
      3,
      "0",
    ),
    Z: "",
    z: "",
    "%": "%",
  };
  Object.assign(fields, {
    F: `${fields.Y}-${fields.m}-${fields.d}`,
    T: `${fields.H}:${fields.M}:${fields.S}`,
    D: `${fields.m}/${fields.d}/${fields.y}`,
  });
  // glibc's "-" flag drops the padding (%-d is 5).
  return format.replace(/%(-?)(.)/g, (m, flag: string, c: string) =>
    fields[c] === undefined ? m : flag ? fields[c].replace(/^[0 ]+(?=.)/, "") : fields[c],
  );
}

/** The functions every template may call. `line` locates raise_exception's message. */
export function globalFunctions(now: () => Date): Record<string, Callable> {
  return {
    raise_exception: ([message]) => {
      throw new SeecError("runtime.chat", `the chat template refused the messages: ${str(message)}`);
    },
    namespace: ([values], kwargs) => new Namespace({ ...(isDict(values) ? values : {}), ...kwargs }),
    dict: (_args, kwargs) => ({ ...kwargs }),
    range: (args) => {
      const [start, stop, step = 1] = (args.length === 1 ? [0, args[0]] : args) as number[];
      need([start, stop, step].every(Number.isInteger) && step !== 0, 0, "range() takes whole numbers and a step other than 0");
      // jinja2's sandbox refuses ranges of more than MAX_RANGE items.
      need(Math.ceil((stop - start) / step) <= 100000, 0, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
      const out: number[] = [];
      for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
      return out;
    },
    strftime_now: ([format]) => strftime(str(format), now()),
  };
}
