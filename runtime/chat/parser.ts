/**
 * A chat template's tokens as a tree: the part of Jinja that Hugging Face chat templates use —
 * if/elif/else, for (with loop filters and else), set (names, namespace attributes and blocks),
 * macros, break/continue, and Jinja's expressions with its precedence: `x if c else y`, or, and,
 * not, comparisons and `in` (chained, as in Python: `a < b < c`), `+ -`, `~`, `* / // %`, `**`, then
 * filters (`|`) and tests (`is [not]`) on a unary minus, calls, attributes, subscripts and slices
 * (`-x | abs` is `(-x) | abs`).
 */
import { syntaxError, type Token } from "./lexer.js";

export type Expr = { line: number } & (
  | { type: "literal"; value: unknown }
  | { type: "name"; name: string }
  | { type: "list"; items: Expr[] }
  | { type: "dict"; entries: [Expr, Expr][] }
  | { type: "attr"; object: Expr; name: string }
  | { type: "item"; object: Expr; index: Expr }
  | { type: "slice"; object: Expr; start?: Expr; stop?: Expr; step?: Expr }
  | { type: "call"; callee: Expr; args: Expr[]; kwargs: [string, Expr][] }
  | { type: "filter"; value: Expr; name: string; args: Expr[]; kwargs: [string, Expr][] }
  | { type: "test"; value: Expr; name: string; negate: boolean; args: Expr[] }
  | { type: "unary"; op: "not" | "-" | "+"; value: Expr }
  | { type: "binary"; op: string; left: Expr; right: Expr }
  | { type: "ternary"; cond: Expr; then: Expr; otherwise?: Expr }
);

export type Stmt = { line: number } & (
  | { type: "text"; value: string }
  | { type: "output"; value: Expr }
  | { type: "if"; branches: { cond: Expr; body: Stmt[] }[]; otherwise: Stmt[] }
  | { type: "for"; targets: string[]; iter: Expr; filter?: Expr; body: Stmt[]; otherwise: Stmt[] }
  | { type: "set"; target: string; attr?: string; value: Expr }
  | { type: "setBlock"; target: string; body: Stmt[] }
  | { type: "macro"; name: string; params: { name: string; default?: Expr }[]; body: Stmt[] }
  | { type: "break" | "continue" }
);

const COMPARE = new Set(["==", "!=", "<", "<=", ">", ">="]);

export function parse(tokens: Token[]): Stmt[] {
  return new Parser(tokens).template();
}

class Parser {
  private i = 0;
  /** How many for loops (not counting a macro's surroundings) enclose the tag being read: break needs one. */
  private loops = 0;
  /** The block tags open around the one being read, innermost last, for an unclosed block's message. */
  private readonly open: { keyword: string; line: number }[] = [];
  constructor(private readonly tokens: Token[]) {}

  template(): Stmt[] {
    const { body, end } = this.body([]);
    if (end) syntaxError(`{% ${end} %} without its opening tag`, this.line());
    return body;
  }

  /** Statements up to a block tag named in `ends` (returned, its name consumed), or the template's end. */
  private body(ends: string[]): { body: Stmt[]; end?: string } {
    const body: Stmt[] = [];
    while (this.i < this.tokens.length) {
      const t = this.tokens[this.i];
      if (t.kind === "text") {
        body.push({ type: "text", value: t.value, line: t.line });
        this.i++;
      } else if (t.kind === "open" && t.tag === "output") {
        this.i++;
        body.push({ type: "output", value: this.expression(), line: t.line });
        this.close();
      } else {
        this.i++;
        const keyword = this.name();
        if (ends.includes(keyword)) return { body, end: keyword };
        body.push(this.statement(keyword, t.line));
      }
    }
    if (ends.length) {
      const block = this.open.at(-1) ?? { keyword: "block", line: this.line() };
      syntaxError(`the {% ${block.keyword} %} here is never closed: the template ends before {% ${ends.at(-1)} %}`, block.line);
    }
    return { body };
  }

  private statement(keyword: string, line: number): Stmt {
    this.open.push({ keyword, line });
    const s = this.block(keyword, line);
    this.open.pop();
    return s;
  }

  private block(keyword: string, line: number): Stmt {
    switch (keyword) {
      case "if": {
        const branches = [{ cond: this.expression(), body: [] as Stmt[] }];
        this.close();
        let otherwise: Stmt[] = [];
        for (;;) {
          const { body, end } = this.body(["elif", "else", "endif"]);
          branches[branches.length - 1].body = body;
          if (end === "elif") {
            branches.push({ cond: this.expression(), body: [] });
            this.close();
            continue;
          }
          this.close();
          if (end === "else") {
            otherwise = this.body(["endif"]).body;
            this.close();
          }
          return { type: "if", branches, otherwise, line };
        }
      }
      case "for": {
        const targets = [this.name()];
        while (this.accept(",")) targets.push(this.name());
        if (this.name() !== "in") syntaxError("expected 'in' in a for loop", line);
        const iter = this.or();
        const filter = this.acceptName("if") ? this.or() : undefined;
        this.acceptName("recursive") && syntaxError("recursive loops are not supported", line);
        this.close();
        this.loops++;
        const { body, end } = this.body(["else", "endfor"]);
        this.loops--;
        let otherwise: Stmt[] = [];
        this.close();
        if (end === "else") {
          otherwise = this.body(["endfor"]).body;
          this.close();
        }
        return { type: "for", targets, iter, filter, body, otherwise, line };
      }
      case "set": {
        const target = this.name();
        const attr = this.accept(".") ? this.name() : undefined;
        if (!this.accept("=")) {
          if (attr) syntaxError("a block set takes a plain name", line);
          this.close();
          const { body } = this.body(["endset"]);
          this.close();
          return { type: "setBlock", target, body, line };
        }
        const value = this.expression();
        this.close();
        return { type: "set", target, attr, value, line };
      }
      case "macro": {
        const name = this.name();
        const params: { name: string; default?: Expr }[] = [];
        this.expect("(");
        this.sequence(")", () => params.push({ name: this.name(), default: this.accept("=") ? this.expression() : undefined }));
        if (params.some((p, k) => !p.default && params[k - 1]?.default)) syntaxError("non-default argument follows default argument", line);
        this.close();
        const loops = this.loops;
        this.loops = 0;
        const { body } = this.body(["endmacro"]);
        this.loops = loops;
        this.close();
        return { type: "macro", name, params, body, line };
      }
      case "generation": {
        // transformers' {% generation %} marks the assistant's text (for masks); it renders its body.
        this.close();
        const { body } = this.body(["endgeneration"]);
        this.close();
        return { type: "if", branches: [{ cond: { type: "literal", value: true, line }, body }], otherwise: [], line };
      }
      case "break":
      case "continue":
        if (!this.loops) syntaxError(`{% ${keyword} %} outside a loop`, line);
        this.close();
        return { type: keyword, line };
      default:
        return syntaxError(`{% ${keyword} %} is not a tag chat templates use (if, for, set, macro, break, continue, generation)`, line);
    }
  }

  /** x if cond else y, or an expression without one. */
  expression(): Expr {
    const then = this.or();
    if (!this.acceptName("if")) return then;
    const cond = this.or();
    const otherwise = this.acceptName("else") ? this.expression() : undefined;
    return { type: "ternary", cond, then, otherwise, line: then.line };
  }

  private or(): Expr {
    let left = this.and();
    while (this.acceptName("or")) left = { type: "binary", op: "or", left, right: this.and(), line: left.line };
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.acceptName("and")) left = { type: "binary", op: "and", left, right: this.not(), line: left.line };
    return left;
  }

  private not(): Expr {
    const line = this.line();
    if (this.acceptName("not")) return { type: "unary", op: "not", value: this.not(), line };
    return this.compare();
  }

  /** Comparisons chain as Python's do: `a < b == c` is `a < b and b == c`. */
  private compare(): Expr {
    const first = this.sum();
    let chain: Expr | undefined;
    for (let left = first; ;) {
      const t = this.peek();
      let op: string;
      if (t?.kind === "op" && COMPARE.has(t.value)) op = t.value;
      else if (this.peekName("in")) op = "in";
      else if (this.peekName("not") && this.peekName("in", 1)) op = "not in";
      else return chain ?? first;
      this.i += op === "not in" ? 2 : 1;
      const right = this.sum();
      const test: Expr = { type: "binary", op, left, right, line: left.line };
      chain = chain ? { type: "binary", op: "and", left: chain, right: test, line: left.line } : test;
      left = right;
    }
  }

  private sum(): Expr {
    return this.binary(["+", "-"], () => this.concat());
  }

  private concat(): Expr {
    return this.binary(["~"], () => this.product());
  }

  private product(): Expr {
    return this.binary(["*", "/", "//", "%"], () => this.power());
  }

  private power(): Expr {
    return this.binary(["**"], () => this.unary());
  }

  private binary(ops: string[], next: () => Expr): Expr {
    let left = next();
    for (let t = this.peek(); t?.kind === "op" && ops.includes(t.value); t = this.peek()) {
      this.i++;
      left = { type: "binary", op: t.value, left, right: next(), line: left.line };
    }
    return left;
  }

  private unary(withFilters = true): Expr {
    const t = this.peek();
    let value: Expr;
    if (t?.kind === "op" && (t.value === "-" || t.value === "+")) {
      this.i++;
      value = { type: "unary", op: t.value, value: this.unary(false), line: t.line };
    } else value = this.primary();
    value = this.postfix(value);
    return withFilters ? this.filters(value) : value;
  }

  /** Filters and tests, applied left to right. */
  private filters(value: Expr): Expr {
    for (;;) {
      if (this.accept("|")) {
        const name = this.name();
        const { args, kwargs } = this.peekOp("(") ? (this.i++, this.arguments()) : { args: [], kwargs: [] };
        value = { type: "filter", value, name, args, kwargs, line: value.line };
      } else if (this.acceptName("is")) {
        const negate = this.acceptName("not");
        const name = this.name();
        // A test's argument: in parentheses, or one expression after it (`is divisibleby 3`, `is sameas none`).
        const args = this.peekOp("(") ? (this.i++, this.arguments().args) : this.startsOperand() ? [this.postfix(this.primary())] : [];
        value = { type: "test", value, name, negate, args, line: value.line };
      } else return value;
    }
  }

  private postfix(value: Expr): Expr {
    for (;;) {
      if (this.accept("."))
        // x.0 is x[0], as in jinja2.
        value =
          this.peek()?.kind === "number"
            ? {
                type: "item",
                object: value,
                index: { type: "literal", value: (this.tokens[this.i++] as { value: number }).value, line: value.line },
                line: value.line,
              }
            : { type: "attr", object: value, name: this.name(), line: value.line };
      else if (this.accept("(")) value = { type: "call", callee: value, ...this.arguments(), line: value.line };
      else if (this.accept("[")) value = this.subscript(value);
      else return value;
    }
  }

  private subscript(object: Expr): Expr {
    const part = () => (this.peekOp(":") || this.peekOp("]") ? undefined : this.expression());
    const start = part();
    if (this.accept("]")) {
      if (!start) syntaxError("an empty subscript []", object.line);
      return { type: "item", object, index: start!, line: object.line };
    }
    this.expect(":");
    const stop = part();
    const step = this.accept(":") ? part() : undefined;
    this.expect("]");
    return { type: "slice", object, start, stop, step, line: object.line };
  }

  /** Call arguments after "(": positional, then name=value. */
  private arguments(): { args: Expr[]; kwargs: [string, Expr][] } {
    const args: Expr[] = [];
    const kwargs: [string, Expr][] = [];
    this.sequence(")", () => {
      const t = this.peek();
      if (t?.kind === "name" && this.peekOp("=", 1)) {
        this.i += 2;
        kwargs.push([t.value, this.expression()]);
      } else args.push(this.expression());
    });
    return { args, kwargs };
  }

  private primary(): Expr {
    const t = this.tokens[this.i++];
    const line = t?.line ?? this.line();
    if (!t || t.kind === "close" || t.kind === "open" || t.kind === "text") return syntaxError("expected an expression", line);
    if (t.kind === "string") {
      let value = t.value;
      // Adjacent string literals join, as in Python.
      while (this.peek()?.kind === "string") value += (this.tokens[this.i++] as { value: string }).value;
      return { type: "literal", value, line };
    }
    if (t.kind === "number") return { type: "literal", value: t.value, line };
    if (t.kind === "name") {
      const constants: Record<string, unknown> = { true: true, True: true, false: false, False: false, none: null, None: null };
      return t.value in constants ? { type: "literal", value: constants[t.value], line } : { type: "name", name: t.value, line };
    }
    if (t.value === "(") {
      const first = this.expression();
      if (this.accept(")")) return first;
      const items = [first];
      while (this.accept(",") && !this.peekOp(")")) items.push(this.expression());
      this.expect(")");
      return { type: "list", items, line };
    }
    if (t.value === "[") {
      const items: Expr[] = [];
      this.sequence("]", () => items.push(this.expression()));
      return { type: "list", items, line };
    }
    if (t.value === "{") {
      const entries: [Expr, Expr][] = [];
      this.sequence("}", () => {
        const key = this.expression();
        this.expect(":");
        entries.push([key, this.expression()]);
      });
      return { type: "dict", entries, line };
    }
    return syntaxError(`unexpected ${JSON.stringify(t.value)}`, line);
  }

  /** Whether a test's argument follows without parentheses: as jinja2 decides, any name but and/or/else, a literal, a list or dict. */
  private startsOperand(): boolean {
    const t = this.peek();
    if (t?.kind === "name" && t.value === "is") syntaxError("You cannot chain multiple tests with is", t.line);
    return (
      !!t &&
      (t.kind === "string" ||
        t.kind === "number" ||
        (t.kind === "name" && !["and", "or", "else"].includes(t.value)) ||
        (t.kind === "op" && (t.value === "[" || t.value === "{")))
    );
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  /** Items separated by commas (a trailing one allowed) up to `closer`, which it consumes. */
  private sequence(closer: string, item: () => void): void {
    while (!this.accept(closer)) {
      item();
      if (!this.accept(",")) return this.expect(closer);
    }
  }

  private peekOp(op: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.kind === "op" && t.value === op;
  }

  private peekName(name: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.kind === "name" && t.value === name;
  }

  private accept(op: string): boolean {
    if (!this.peekOp(op)) return false;
    this.i++;
    return true;
  }

  private acceptName(name: string): boolean {
    if (!this.peekName(name)) return false;
    this.i++;
    return true;
  }

  private expect(op: string): void {
    if (!this.accept(op)) syntaxError(`expected ${JSON.stringify(op)}${this.found()}`, this.line());
  }

  private name(): string {
    const t = this.peek();
    if (t?.kind !== "name") return syntaxError(`expected a name${this.found()}`, this.line());
    this.i++;
    return t.value;
  }

  private close(): void {
    if (this.peek()?.kind !== "close") syntaxError(`expected the end of the tag${this.found()}`, this.line());
    this.i++;
  }

  private found(): string {
    const t = this.peek();
    if (!t) return ", found the template's end";
    if (t.kind === "close") return ", found the end of the tag";
    return "value" in t ? `, found ${JSON.stringify(t.value)}` : "";
  }

  private line(): number {
    return (this.tokens[Math.min(this.i, this.tokens.length - 1)] ?? { line: 1 }).line;
  }
}
