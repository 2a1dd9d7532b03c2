/**
 * Added tokens (special or not) are cut out of the text before anything else sees it, as Hugging
 * Face's AddedVocabulary does: the leftmost, then longest, match first; `lstrip`/`rstrip` take
 * the whitespace beside a match with it; a `single_word` token matches only between non-word
 * characters. Tokens marked `normalized` are matched in the normalized text, the others in the raw.
 */
import { type Json, malformed, WHITESPACE } from "./config.js";

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

/** A stretch of text, or an added token's id. */
export type Section = string | number;

interface Node {
  next: Map<string, Node>;
  token?: AddedToken;
}

const WORD = /[\p{L}\p{N}_]/u;

export function addedTokens(list: unknown, file?: string): AddedToken[] {
  if (list == null) return [];
  if (!Array.isArray(list)) return malformed("added_tokens", "must be a list", file);
  return list.map((t: Json, i) => {
    if (!Number.isSafeInteger(t?.id) || t.id < 0 || typeof t.content !== "string" || t.content === "")
      malformed(`added_tokens[${i}]`, "must have an id and a non-empty content", file);
    const special = !!t.special;
    return {
      id: t.id,
      content: t.content,
      special,
      normalized: t.normalized ?? !special,
      lstrip: !!t.lstrip,
      rstrip: !!t.rstrip,
      singleWord: !!t.single_word,
    };
  });
}

export class AddedTokenSplitter {
  private readonly root: Node = { next: new Map() };

  /** `content` maps a token to the text it matches (its normalized form, for normalized tokens). */
  constructor(tokens: AddedToken[], content: (t: AddedToken) => string = (t) => t.content) {
    for (const token of tokens) {
      const text = content(token);
      if (!text) continue;
      let node = this.root;
      // By UTF-16 unit, as split() walks the text.
      for (let k = 0; k < text.length; k++) {
        let child = node.next.get(text[k]);
        if (!child) node.next.set(text[k], (child = { next: new Map() }));
        node = child;
      }
      node.token ??= token; // the first of two tokens with one content wins, as in the Rust library's match set
    }
  }

  get empty(): boolean {
    return this.root.next.size === 0;
  }

  split(text: string): Section[] {
    if (this.empty) return [text];
    const out: Section[] = [];
    let done = 0; // text before this is in `out`
    let i = 0;
    while (i < text.length) {
      let node: Node | undefined = this.root;
      let match: AddedToken | undefined;
      let end = i;
      for (let j = i; j < text.length && (node = node.next.get(text[j])); j++) {
        if (node.token) [match, end] = [node.token, j + 1];
      }
      if (!match || (match.singleWord && (WORD.test(text[i - 1] ?? "") || WORD.test(text[end] ?? "")))) {
        i++;
        continue;
      }
      let start = i;
      if (match.lstrip) while (start > done && WHITESPACE.test(text[start - 1])) start--;
      if (match.rstrip) while (end < text.length && WHITESPACE.test(text[end])) end++;
      if (start > done) out.push(text.slice(done, start));
      out.push(match.id);
      done = i = end;
    }
    if (done < text.length) out.push(text.slice(done));
    return out;
  }
}
