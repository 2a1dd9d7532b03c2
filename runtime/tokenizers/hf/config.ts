/**
 * What every part of a Hugging Face tokenizer.json reader shares: the JSON's shapes (only the
 * fields this runtime reads), and the one way to refuse what it cannot do exactly.
 */
import { SeecError } from "../../errors.js";

/** A component's JSON object: a `type` and whatever fields that type has. */
export type Json = { type?: string; [field: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A component or option this runtime does not implement. Tokenizing on without it would give ids
 * that differ from Hugging Face's, silently: so the file is refused, naming the part and the file.
 */
export function unsupported(component: string, what: unknown, file: string | undefined): never {
  const shown = typeof what === "string" ? what : JSON.stringify(what);
  throw new SeecError("unsupported.tokenizer", `${component} ${shown} is not supported by seec's Hugging Face tokenizer`, {
    file,
    at: component,
    hint: "supported: BPE, WordPiece, Unigram models with the normalizers, pre-tokenizers, post-processors and decoders the README lists",
  });
}

/** A field that is missing or of the wrong kind. */
export function malformed(at: string, what: string, file: string | undefined): never {
  throw new SeecError("input.tokenizer", `${at} ${what}`, { file, at });
}

/** Unicode White_Space, as Rust's char::is_whitespace (JavaScript's \s also counts U+FEFF and misses U+0085). */
export const WHITESPACE = /\p{White_Space}/u;
