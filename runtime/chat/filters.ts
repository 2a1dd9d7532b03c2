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

/** selectattr/rejectattr: items whose attribute passes a test (truth by default). */
function selectAttr(keep: boolean): Filter {
  return (v, [attr, test, ...args]) =>
    items(v, keep ? "selectattr" : "rejectattr").filter((item) => {
      const value = attributeOf(item, String(attr));
      const passes =
        test === undefined ? truthy(value) : (TESTS[String(test)] ?? need(false, () => false, `no test named ${str(test)}`))(value, args);
      return passes === keep;
    });
}

export const FILTERS: Record<string, Filter> = {
  length: (v) => need(length(v) !== undefined, length(v), `length of a ${typeName(v)}`),
  count: (v) => FILTERS.length(v, [], {}),
  trim: (v, [chars]) => stripChars(stripChars(str(v), chars, "start"), chars, "end"),
  tojson: (v, [indent], kw) => toJson(v, (kw.indent ?? indent ?? undefined) as number | string | undefined),
  string: (v) => str(v),
  upper: (v) => str(v).toUpperCase(),
  lower: (v) => str(v).toLowerCase(),
  capitalize: (v) => str(v).charAt(0).toUpperCase() + str(v).slice(1).toLowerCase(),
  title: (v) => str(v).replace(/\w\S*/g, (w) => w[0].toUpperCase() + w.slice(1).toLowerCase()),
  replace: (v, [from, to, count]) => replaceString(str(v), str(from), str(to), count),
  first: (v) => items(v, "first")[0],
  last: (v) => items(v, "last").at(-1),
  list: (v) => [...items(v, "list")],
  reverse: (v) => (typeof v === "string" ? [...v].reverse().join("") : [...items(v, "reverse")].reverse()),
  join: (v, [sep = "", attr], kw) =>
    items(v, "join")
      .map((x) => str(kw.attribute !== undefined || attr !== undefined ? attributeOf(x, String(kw.attribute ?? attr)) : x))
      .join(str(kw.d ?? sep)),
  default: (v, [fallback = "", boolean = false]) => (v === undefined || (boolean && !truthy(v)) ? fallback : v),
  d: (v, args, kw) => FILTERS.default(v, args, kw),
  int: (v, [fallback = 0]) => {
    const n = typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : Number.parseInt(str(v), 10);
    return Number.isFinite(n) ? Math.trunc(n) : fallback;
  },
  float: (v, [fallback = 0]) => {
    const n = typeof v === "number" ? v : Number.parseFloat(str(v));
    return Number.isFinite(n) ? n : fallback;
  },
  abs: (v) => Math.abs(need(typeof v === "number", v as number, `abs of a ${typeName(v)}`)),
  items: (v) => Object.entries(need(isDict(v), v as object, `items of a ${typeName(v)}`)),
  dictsort: (v) =>
    Object.entries(need(isDict(v), v as object, `dictsort of a ${typeName(v)}`)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  map: (v, [name, ...args], kw) =>
    items(v, "map").map((x) =>
      kw.attribute !== undefined
        ? (attributeOf(x, String(kw.attribute)) ?? kw.default)
        : (FILTERS[String(name)] ?? need(false, () => undefined, `no filter named ${str(name)}`))(x, args, {}),
    ),
  select: (v, [test, ...args]) => items(v, "select").filter((x) => (test === undefined ? truthy(x) : TESTS[String(test)](x, args))),
  reject: (v, [test, ...args]) => items(v, "reject").filter((x) => !(test === undefined ? truthy(x) : TESTS[String(test)](x, args))),
  selectattr: selectAttr(true),
  rejectattr: selectAttr(false),
  unique: (v) => items(v, "unique").filter((x, i, all) => all.findIndex((y) => equal(x, y)) === i),
  // Every line but the first (unless `first`) gains the indent; empty lines only with `blank`.
  indent: (v, [width = 4, first = false, blank = false], kw) => {
    const w = kw.width ?? width;
    const pad = typeof w === "number" ? " ".repeat(w) : str(w);
    const [indentFirst, indentBlank] = [truthy(kw.first ?? first), truthy(kw.blank ?? blank)];
    return str(v)
      .split("\n")
      .map((line, i) => ((i === 0 && !indentFirst) || (line === "" && !indentBlank) ? line : pad + line))
      .join("\n");
  },
  safe: (v) => v,
  wordcount: (v) => str(v).split(/\s+/).filter(Boolean).length,
  sum: (v) => items(v, "sum").reduce<number>((a, x) => a + (x as number), 0),
};

export const TESTS: Record<string, Test> = {
  defined: (v) => v !== undefined,
  undefined: (v) => v === undefined,
  none: (v) => v === null,
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  integer: (v) => typeof v === "number" && Number.isInteger(v),
  float: (v) => typeof v === "number" && !Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  true: (v) => v === true,
  false: (v) => v === false,
  mapping: (v) => isDict(v),
  iterable: (v) => typeof v === "string" || Array.isArray(v) || isDict(v),
  sequence: (v) => typeof v === "string" || Array.isArray(v) || isDict(v),
  callable: (v) => typeof v === "function",
  odd: (v) => typeof v === "number" && Math.abs(v % 2) === 1,
  even: (v) => typeof v === "number" && v % 2 === 0,
  divisibleby: (v, [n]) => typeof v === "number" && typeof n === "number" && v % n === 0,
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
    "%": "%",
  };
  return format.replace(/%(.)/g, (m, c: string) => fields[c] ?? m);
}

/** The functions every template may call. `line` locates raise_exception's message. */
export function globalFunctions(now: () => Date): Record<string, Callable> {
  return {
    raise_exception: ([message]) => {
      throw new SeecError("runtime.chat", `the chat template refused the messages: ${str(message)}`);
    },
    namespace: (_args, kwargs) => new Namespace({ ...kwargs }),
    dict: (_args, kwargs) => ({ ...kwargs }),
    range: (args) => {
      const [start, stop, step = 1] = (args.length === 1 ? [0, args[0]] : args) as number[];
      need([start, stop, step].every(Number.isInteger) && step !== 0, 0, "range() takes whole numbers and a step other than 0");
      const out: number[] = [];
      for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
      return out;
    },
    strftime_now: ([format]) => strftime(str(format), now()),
  };
}
