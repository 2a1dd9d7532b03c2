/**
 * A chat template's text as tokens, with Jinja's whitespace rules as Hugging Face renders chat
 * templates (trim_blocks and lstrip_blocks on): a block or comment tag alone on its line takes its
 * indentation and the line break after it; `{%-` / `-%}` (and the same on `{{ }}` and `{# #}`) strip
 * all the whitespace on that side; `{%+` keeps the indentation.
 */
import { SeecError } from "../errors.js";

export type Token =
  | { kind: "text"; value: string; line: number }
  | { kind: "open"; tag: "output" | "block"; line: number }
  | { kind: "close"; line: number }
  | { kind: "name" | "string" | "op"; value: string; line: number }
  | { kind: "number"; value: number; line: number };

const OPEN: Record<string, "output" | "block" | "comment"> = { "{{": "output", "{%": "block", "{#": "comment" };
const CLOSE = { output: "}}", block: "%}", comment: "#}" };
/** Operators, longest first. */
const OPERATORS = [
  "**",
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "~",
  "<",
  ">",
  "=",
  "|",
  ".",
  ",",
  ":",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
];
/** Python's string escapes (a backslash before a line break joins the lines); others stay as written. */
const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\n": "",
};

/** Thrown for a template that does not parse: input.chat_template at its line. */
export function syntaxError(message: string, line: number): never {
  throw new SeecError("input.chat_template", message, { at: `line ${line}` });
}

export function tokenize(template: string): Token[] {
  // As jinja2 reads a template: every line break is "\n", and one at the very end is dropped.
  const source = template.replace(/\r\n?/g, "\n").replace(/\n$/, "");
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let trimNext: "all" | "newline" | undefined;
  const lineOf = (to: number, from: number) => {
    for (let k = from; k < to; k++) if (source[k] === "\n") line++;
  };
  while (i < source.length) {
    const start = /\{[{%#]/g;
    start.lastIndex = i;
    const found = start.exec(source);
    const at = found ? found.index : source.length;
    let text = source.slice(i, at);
    const kind = found ? OPEN[found[0]] : undefined;
    const strip = found ? source[at + 2] : "";
    // Whether the text starts a line: the template's start, or the tag before it took a line break.
    let lineStarting = i === 0;
    const before = text;
    if (trimNext === "all") text = text.replace(/^\s+/, "");
    else if (trimNext === "newline") text = text.replace(/^\n/, "");
    if (text !== before) lineStarting = before.slice(0, before.length - text.length).endsWith("\n");
    if (strip === "-") text = text.replace(/\s+$/, "");
    else if (kind && kind !== "output" && strip !== "+") text = text.replace(lineStarting ? /(^|\n)[^\S\n]*$/ : /(\n)[^\S\n]*$/, "$1");
    if (text) tokens.push({ kind: "text", value: text, line });
    lineOf(at, i);
    if (!kind) break;
    i = at + 2 + (strip === "-" || strip === "+" ? 1 : 0);
    const close = CLOSE[kind];
    if (kind === "comment") {
      const end = source.indexOf(close, i);
      if (end < 0) syntaxError("a comment {# is never closed", line);
      lineOf(end, i);
      trimNext = source[end - 1] === "-" ? "all" : "newline";
      i = end + 2;
      continue;
    }
    tokens.push({ kind: "open", tag: kind, line });
    i = tagTokens(source, i, close, tokens, (n) => (line += n));
    const dash = source[i - 3] === "-";
    tokens.push({ kind: "close", line });
    trimNext = dash ? "all" : kind === "block" ? "newline" : undefined;
  }
  return tokens;
}

/** The tokens of one tag's contents up to its closing delimiter; returns the index past it. */
function tagTokens(source: string, i: number, close: string, out: Token[], lines: (n: number) => void): number {
  const opened = out[out.length - 1].line;
  let line = opened;
  // As in jinja2, the tag ends only where its brackets are balanced (`{{ {'a': 1}}}`).
  let depth = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === "\n") {
      line++;
      lines(1);
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (depth === 0 && ((c === "-" && source.startsWith(close, i + 1)) || source.startsWith(close, i))) return i + (c === "-" ? 1 : 0) + 2;
    if (c === "'" || c === '"') {
      let k = i + 1;
      while (k < source.length && source[k] !== c) k += source[k] === "\\" ? 2 : 1;
      if (k >= source.length) syntaxError("a string is never closed", line);
      const raw = source.slice(i + 1, k);
      out.push({ kind: "string", value: unescape(raw, line), line });
      lines(raw.split("\n").length - 1);
      line += raw.split("\n").length - 1;
      i = k + 1;
      continue;
    }
    const number =
      /^(0[xX](_?[\da-fA-F])+|0[oO](_?[0-7])+|0[bB](_?[01])+|(\d+_)*\d+((\.(\d+_)*\d+)?[eE][+-]?(\d+_)*\d+|\.(\d+_)*\d+)?)/.exec(
        source.slice(i, i + 64),
      );
    if (number) {
      out.push({ kind: "number", value: Number(number[0].replaceAll("_", "")), line });
      i += number[0].length;
      continue;
    }
    const name = /^[\p{ID_Start}_][\p{ID_Continue}]*/u.exec(source.slice(i, i + 256));
    if (name) {
      out.push({ kind: "name", value: name[0], line });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (!op) syntaxError(`unexpected character ${JSON.stringify(c)}`, line);
    depth += "([{".includes(op) ? 1 : ")]}".includes(op) ? -1 : 0;
    out.push({ kind: "op", value: op, line });
    i += op.length;
  }
  return syntaxError(`the tag opened here is never closed with ${close}`, opened);
}

/** A string literal's text with Python's escapes decoded (\\n, \\x41, \\u00e9, \\U0001F600, \\101). */
function unescape(raw: string, line: number): string {
  return raw.replace(/\\(x[\da-fA-F]{2}|u[\da-fA-F]{4}|U[\da-fA-F]{8}|[0-7]{1,3}|N\{[^}]*\}|[xuUN]|[\s\S])/g, (all, e: string) => {
    if (e in ESCAPES) return ESCAPES[e];
    const code = /^[0-7]/.test(e) ? parseInt(e, 8) : /^[xuU]./.test(e) ? parseInt(e.slice(1), 16) : undefined;
    if (code !== undefined && code <= 0x10ffff) return String.fromCodePoint(code);
    // \N{BULLET} needs Unicode's names, which seec does not carry; a short \x4 is Python's error too.
    if (e.startsWith("N{"))
      throw new SeecError("unsupported.chat_template", `a string has a named escape (${all})`, { at: `line ${line}` });
    if ("xuUN".includes(e[0])) syntaxError(`a string has an escape seec cannot read: ${all}`, line);
    return all;
  });
}
