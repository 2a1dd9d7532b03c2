/**
 * The one error type of seec, shared by the compiler and the runtime that ships in artifacts.
 * Every failure a user can cause is a SeecError with a stable code; the CLI maps the code's
 * class to its exit status.
 */

/** Classes of failure; each has its own process exit code (see README, "Errors"). */
export const ERROR_CLASSES = {
  usage: 2, //       wrong flags or arguments
  input: 3, //       a malformed or truncated file
  unsupported: 4, // a valid model seec cannot compile (yet)
  mismatch: 5, //    files that do not belong together (factors vs graph, tokenizer vs model)
  budget: 6, //      a memory budget the plan cannot meet
  runtime: 7, //     bad input at run time, or a trap in the compiled module
  io: 8, //          the filesystem refused a read or a write
  internal: 70, //   a bug in seec
} as const;

export type ErrorClass = keyof typeof ERROR_CLASSES;

/** Stable error codes. The prefix before the first dot is the class. */
export type ErrorCode = `${ErrorClass}.${string}`;

export interface ErrorContext {
  /** The file the error concerns. */
  file?: string;
  /** Graph node, tensor, byte offset, flag... whatever locates the problem inside `file`. */
  at?: string;
  /** What the user can do about it. */
  hint?: string;
}

export class SeecError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly at?: string;
  readonly hint?: string;

  /**
   * By shape, not by class: an artifact's index.mjs bundles its own copy of this class, and its
   * errors must read as seec errors to the CLI that loaded it.
   */
  static [Symbol.hasInstance](x: unknown): boolean {
    return x instanceof Error && x.name === "SeecError" && typeof (x as SeecError).code === "string";
  }

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message);
    this.name = "SeecError";
    this.code = code;
    this.file = context.file;
    this.at = context.at;
    this.hint = context.hint;
  }

  get errorClass(): ErrorClass {
    return this.code.slice(0, this.code.indexOf(".")) as ErrorClass;
  }

  get exitCode(): number {
    return ERROR_CLASSES[this.errorClass] ?? ERROR_CLASSES.internal;
  }

  /** One line: `error[input.truncated] model.bin @ byte 1024: message (hint: ...)`; line breaks inside become "; ". */
  toLine(): string {
    const where = [this.file, this.at && `@ ${this.at}`].filter(Boolean).join(" ");
    return oneLine(`error[${this.code}]${where ? ` ${where}` : ""}: ${this.message}${this.hint ? ` (hint: ${this.hint})` : ""}`);
  }

  /** What `--json` prints on stderr: `{"error": {code, exitCode, message, file?, at?, hint?}}`. */
  toJSON(): { error: { code: ErrorCode; exitCode: number; message: string; file?: string; at?: string; hint?: string } } {
    const { code, exitCode, file, at, hint } = this;
    return { error: { code, exitCode, message: oneLine(this.message), file, at, hint } };
  }
}

/** Text on one line: each line break (and the indentation around it) becomes "; ". */
export function oneLine(text: string): string {
  return text.replace(/[:;]?[ \t]*(\r?\n)+[ \t]*/g, (m) => (m.startsWith(":") ? ": " : "; "));
}
