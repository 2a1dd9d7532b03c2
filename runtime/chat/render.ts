/**
 * Renders a parsed chat template: statements write text, expressions compute values with Python's
 * and Jinja's rules (values.ts), with Jinja's scoping (a for loop's body, and a macro's, has its
 * own names; namespace() carries values out of a loop). A template that fails — raise_exception(),
 * an attribute of Undefined, adding a string to a number — is runtime.chat at its line.
 */
import { SeecError } from "../errors.js";
import { FILTERS, TESTS } from "./filters.js";
import type { Expr, Stmt } from "./parser.js";
import {
  type Callable,
  equal,
  index,
  isDict,
  iterate,
  Namespace,
  replaceString,
  slice,
  splitString,
  str,
  stripChars,
  truthy,
  typeName,
} from "./values.js";

/** Thrown for a template that fails while it renders: runtime.chat at its line. */
export function renderError(message: string, line: number): never {
  throw new SeecError("runtime.chat", `the chat template failed at its line ${line}: ${message}`);
}

class Scope {
  private readonly names = new Map<string, unknown>();
  constructor(private readonly parent?: Scope) {}

  get(name: string): unknown {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.names.has(name)) return s.names.get(name);
    return undefined;
  }

  set(name: string, value: unknown): void {
    this.names.set(name, value);
  }

  child(): Scope {
    return new Scope(this);
  }
}

type Signal = "break" | "continue" | undefined;

export function render(template: Stmt[], variables: Record<string, unknown>, globals: Record<string, unknown>): string {
  const root = new Scope();
  for (const [k, v] of Object.entries({ ...globals, ...variables })) root.set(k, v);
  const out: string[] = [];
  written = 0;
  try {
    execute(template, root, out);
  } catch (error) {
    // Nested too deeply, or a string too long for JavaScript.
    if (error instanceof RangeError) throw new SeecError("runtime.chat", `the chat template failed: ${error.message}`);
    throw error;
  }
  return out.join("");
}

/** The most items (or characters) `*` and `+` make: beyond it a template is refused, not left to exhaust memory. */
const MAX_SIZE = 1 << 24;
/** The most a render writes (characters, and at least one a piece), for the same reason: 64 Mi. */
const MAX_OUTPUT = 1 << 26;
let written = 0;

function write(out: string[], text: string, line: number): void {
  written += Math.max(1, text.length);
  if (written > MAX_OUTPUT) renderError(`the template writes more than ${MAX_OUTPUT} characters`, line);
  out.push(text);
}

function execute(stmts: Stmt[], scope: Scope, out: string[]): Signal {
  for (const s of stmts) {
    switch (s.type) {
      case "text":
        write(out, s.value, s.line);
        break;
      case "output":
        write(out, str(evaluate(s.value, scope)), s.line);
        break;
      case "if": {
        const branch = s.branches.find((b) => truthy(evaluate(b.cond, scope)));
        const signal = execute(branch ? branch.body : s.otherwise, scope, out);
        if (signal) return signal;
        break;
      }
      case "for":
        loop(s, scope, out);
        break;
      case "set": {
        const value = evaluate(s.value, scope);
        if (s.attr === undefined) scope.set(s.target, value);
        else {
          const ns = scope.get(s.target);
          if (!(ns instanceof Namespace))
            renderError(`cannot set ${s.target}.${s.attr}: ${s.target} is a ${typeName(ns)}, not a namespace()`, s.line);
          ns.values[s.attr] = value;
        }
        break;
      }
      case "setBlock": {
        const inner: string[] = [];
        execute(s.body, scope, inner);
        scope.set(s.target, inner.join(""));
        break;
      }
      case "macro":
        scope.set(s.name, macro(s, scope));
        break;
      case "break":
      case "continue":
        return s.type;
    }
  }
  return undefined;
}

function loop(s: Extract<Stmt, { type: "for" }>, scope: Scope, out: string[]): void {
  const iterable = evaluate(s.iter, scope);
  const all = iterate(iterable);
  if (!all) renderError(`cannot loop over a ${typeName(iterable)}`, s.line);
  const bind = (inner: Scope, item: unknown) => {
    if (s.targets.length === 1) return inner.set(s.targets[0], item);
    const parts = iterate(item);
    if (!parts || parts.length !== s.targets.length) renderError(`cannot unpack a ${typeName(item)} into ${s.targets.join(", ")}`, s.line);
    s.targets.forEach((t, i) => inner.set(t, parts![i]));
  };
  // A loop filter (`for m in messages if m.role != "system"`) chooses the items loop.* counts.
  const items = s.filter
    ? all.filter((item) => {
        const inner = scope.child();
        bind(inner, item);
        return truthy(evaluate(s.filter!, inner));
      })
    : all;
  // As jinja2 compiles it, else runs unless some pass reached the body's end (a break or continue on
  // every pass runs it too).
  let completed = false;
  for (let i = 0; i < items.length; i++) {
    const inner = scope.child();
    bind(inner, items[i]);
    const n = items.length;
    const cycle: Callable = (args) => args[i % args.length];
    inner.set("loop", {
      index: i + 1,
      index0: i,
      revindex: n - i,
      revindex0: n - i - 1,
      first: i === 0,
      last: i === n - 1,
      length: n,
      previtem: i > 0 ? items[i - 1] : undefined,
      nextitem: i < n - 1 ? items[i + 1] : undefined,
      cycle,
    });
    const signal = execute(s.body, inner, out);
    if (signal === "break") break;
    completed ||= signal === undefined;
  }
  if (!completed) execute(s.otherwise, scope, out);
}

function macro(s: Extract<Stmt, { type: "macro" }>, defined: Scope): Callable {
  return (args, kwargs) => {
    const inner = defined.child();
    // A default may read the parameters before it (`b=a`); arguments beyond the parameters are varargs and kwargs.
    s.params.forEach((p, i) => {
      const value = i < args.length ? args[i] : p.name in kwargs ? kwargs[p.name] : p.default ? evaluate(p.default, inner) : undefined;
      inner.set(p.name, value);
    });
    inner.set("varargs", args.slice(s.params.length));
    inner.set("kwargs", Object.fromEntries(Object.entries(kwargs).filter(([k]) => !s.params.some((p) => p.name === k))));
    const out: string[] = [];
    execute(s.body, inner, out);
    return out.join("");
  };
}

export function evaluate(e: Expr, scope: Scope): unknown {
  switch (e.type) {
    case "literal":
      return e.value;
    case "name":
      return scope.get(e.name);
    case "list":
      return e.items.map((x) => evaluate(x, scope));
    case "dict":
      return Object.fromEntries(e.entries.map(([k, v]) => [str(evaluate(k, scope)), evaluate(v, scope)]));
    case "attr":
      return attribute(evaluate(e.object, scope), e.name, e);
    case "item": {
      const object = evaluate(e.object, scope);
      const key = evaluate(e.index, scope);
      if (object === undefined) renderError(`${describe(e.object)} is undefined: cannot read [${str(key)}] of it`, e.line);
      if ((Array.isArray(object) || typeof object === "string") && typeof key === "number") return index(object, key);
      // x["name"] reads the dict's key before its methods (a schema's "items"), as jinja2's getitem does.
      if (isDict(object) && typeof key === "string" && Object.hasOwn(object, key)) return object[key];
      return typeof key === "string" ? attribute(object, key, e) : undefined;
    }
    case "slice": {
      const object = evaluate(e.object, scope);
      const bound = (x?: Expr) => {
        const v = x && evaluate(x, scope);
        if (v !== undefined && v !== null && !Number.isInteger(v))
          renderError(`slice indices must be whole numbers, got a ${typeName(v)}`, e.line);
        return (v ?? undefined) as number | undefined;
      };
      const [start, stop, step] = [bound(e.start), bound(e.stop), bound(e.step)];
      if (step === 0) renderError("slice step cannot be zero", e.line);
      if (typeof object === "string") return slice([...object], start, stop, step).join("");
      if (Array.isArray(object)) return slice(object, start, stop, step);
      return renderError(`cannot slice a ${typeName(object)}`, e.line);
    }
    case "call": {
      const callee = evaluate(e.callee, scope);
      if (typeof callee !== "function") return renderError(`${describe(e.callee)} is not a function (it is a ${typeName(callee)})`, e.line);
      const { args, kwargs } = callArguments(e, scope);
      return guarded(() => (callee as Callable)(args, kwargs), e.line);
    }
    case "filter": {
      const filter = FILTERS[e.name];
      if (!filter) return renderError(`no filter named ${e.name}`, e.line);
      const { args, kwargs } = callArguments(e, scope);
      return guarded(() => filter(evaluate(e.value, scope), args, kwargs), e.line);
    }
    case "test": {
      const test = TESTS[e.name];
      if (!test) return renderError(`no test named ${e.name}`, e.line);
      const value = evaluate(e.value, scope);
      const args = e.args.map((a) => evaluate(a, scope));
      return guarded(() => test(value, args), e.line) !== e.negate;
    }
    case "unary": {
      const v = evaluate(e.value, scope);
      if (e.op === "not") return !truthy(v);
      if (typeof v !== "number" && typeof v !== "boolean") return renderError(`cannot apply unary ${e.op} to a ${typeName(v)}`, e.line);
      return e.op === "-" ? -v : Number(v);
    }
    case "binary":
      return binary(e, scope);
    case "ternary":
      if (truthy(evaluate(e.cond, scope))) return evaluate(e.then, scope);
      return e.otherwise ? evaluate(e.otherwise, scope) : undefined;
  }
}

function callArguments(e: { args: Expr[]; kwargs: [string, Expr][] }, scope: Scope) {
  return { args: e.args.map((a) => evaluate(a, scope)), kwargs: Object.fromEntries(e.kwargs.map(([k, v]) => [k, evaluate(v, scope)])) };
}

/** A filter's or function's failure (a TypeError from a bad argument) as runtime.chat at the line. */
function guarded<T>(f: () => T, line: number): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof SeecError) throw error;
    return renderError((error as Error).message, line);
  }
}

function binary(e: Extract<Expr, { type: "binary" }>, scope: Scope): unknown {
  if (e.op === "and") {
    const left = evaluate(e.left, scope);
    return truthy(left) ? evaluate(e.right, scope) : left;
  }
  if (e.op === "or") {
    const left = evaluate(e.left, scope);
    return truthy(left) ? left : evaluate(e.right, scope);
  }
  let a = evaluate(e.left, scope),
    b = evaluate(e.right, scope);
  const fail = (): never => renderError(`cannot apply ${e.op} to a ${typeName(a)} and a ${typeName(b)}`, e.line);
  const sized = <T extends { length: number }>(n: number, make: () => T): T =>
    n > MAX_SIZE ? renderError(`${e.op} would make ${n} items, more than seec allows (${MAX_SIZE})`, e.line) : make();
  // Python's bools are the integers 0 and 1 in arithmetic and comparisons.
  const numeric = (x: unknown) => typeof x === "number" || typeof x === "boolean";
  const numbers = numeric(a) && numeric(b) && !["==", "!=", "in", "not in", "~"].includes(e.op);
  if (numbers) [a, b] = [Number(a), Number(b)];
  switch (e.op) {
    case "==":
      return equal(a, b);
    case "!=":
      return !equal(a, b);
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (!numbers && !(typeof a === "string" && typeof b === "string")) fail();
      const [x, y] = [a as number, b as number];
      return e.op === "<" ? x < y : e.op === "<=" ? x <= y : e.op === ">" ? x > y : x >= y;
    }
    case "in":
    case "not in": {
      let found: boolean;
      if (b === undefined) found = false;
      else if (typeof b === "string") found = typeof a === "string" ? b.includes(a) : fail();
      else if (Array.isArray(b)) found = b.some((x) => equal(x, a));
      else if (isDict(b)) found = typeof a === "string" && a in b;
      else return fail();
      return e.op === "in" ? found : !found;
    }
    case "~":
      return str(a) + str(b);
    case "+":
      if (numbers) return (a as number) + (b as number);
      if (typeof a === "string" && typeof b === "string") return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return sized(a.length + b.length, () => [...a, ...b]);
      return fail();
    case "*": {
      if (numbers) return (a as number) * (b as number);
      // A string or list repeated, on either side.
      const [seq, n] = numeric(a) ? [b, Number(a)] : [a, typeof b === "boolean" ? Number(b) : b];
      if (!(typeof seq === "string" || Array.isArray(seq)) || !Number.isInteger(n)) return fail();
      const times = Math.max(0, n as number);
      if (typeof seq === "string") return sized(seq.length * times, () => seq.repeat(times));
      return sized(seq.length * times, () => Array.from({ length: times }, () => seq).flat());
    }
    default: {
      if (!numbers) fail();
      const [x, y] = [a as number, b as number];
      if (y === 0 && e.op !== "-" && e.op !== "**") renderError("division by zero", e.line);
      if (e.op === "-") return x - y;
      if (e.op === "/") return x / y;
      if (e.op === "//") return Math.floor(x / y);
      if (e.op === "%") return x - y * Math.floor(x / y);
      return x ** y;
    }
  }
}

const STRING_METHODS: Record<string, (s: string, args: unknown[]) => unknown> = {
  startswith: (s, [p]) => (Array.isArray(p) ? p.some((x) => s.startsWith(String(x))) : s.startsWith(String(p))),
  endswith: (s, [p]) => (Array.isArray(p) ? p.some((x) => s.endsWith(String(x))) : s.endsWith(String(p))),
  strip: (s, [chars]) => stripChars(stripChars(s, chars, "start"), chars, "end"),
  lstrip: (s, [chars]) => stripChars(s, chars, "start"),
  rstrip: (s, [chars]) => stripChars(s, chars, "end"),
  split: (s, [sep, max]) => splitString(s, sep, max),
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  // Python's str.title: each run of cased letters capitalized ("it's" is "It'S"; the filter differs).
  title: (s) => s.replace(/[\p{Lu}\p{Ll}\p{Lt}]+/gu, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()),
  capitalize: (s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
  replace: (s, [from, to, count]) => replaceString(s, String(from), String(to), count),
  find: (s, [p]) => (s.includes(String(p)) ? [...s.slice(0, s.indexOf(String(p)))].length : -1),
  count: (s, [p]) => (String(p) ? s.split(String(p)).length - 1 : [...s].length + 1),
  join: (s, [items]) => (iterate(items) ?? []).map(str).join(s),
};

/**
 * x.name as Jinja reads it: a dict's key (its items/keys/values/get methods first, as Python's
 * getattr finds them), a namespace's value, a string's methods; None and missing names are
 * Undefined; reading from Undefined fails.
 */
function attribute(object: unknown, name: string, e: Expr): unknown {
  if (object === undefined)
    return renderError(
      `${describe(e.type === "attr" || e.type === "item" ? e.object : e)} is undefined: it has no attribute ${name}`,
      e.line,
    );
  if (typeof object === "string") {
    const method = STRING_METHODS[name];
    return method ? (((args: unknown[]) => method(object, args)) satisfies Callable) : undefined;
  }
  if (object instanceof Namespace) return object.values[name];
  if (isDict(object)) {
    if (name === "items") return (() => Object.entries(object)) satisfies Callable;
    if (name === "keys") return (() => Object.keys(object)) satisfies Callable;
    if (name === "values") return (() => Object.values(object)) satisfies Callable;
    if (name === "get")
      return (([key, fallback]: unknown[]) =>
        Object.hasOwn(object, String(key)) ? object[String(key)] : (fallback ?? null)) satisfies Callable;
    return Object.hasOwn(object, name) ? object[name] : undefined;
  }
  return undefined;
}

/** An expression as the template wrote it, roughly, for messages. */
function describe(e: Expr): string {
  if (e.type === "name") return e.name;
  if (e.type === "attr") return `${describe(e.object)}.${e.name}`;
  if (e.type === "item" && e.index.type === "literal") return `${describe(e.object)}[${JSON.stringify(e.index.value)}]`;
  return "a value";
}
