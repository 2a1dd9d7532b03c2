/** tokenizer.json's decoders: each maps the token strings of a sequence to strings, joined at the end. */
import { type Json, malformed, unsupported } from "./config.js";
import { CHAR_BYTE } from "./byte-level.js";
import { prependScheme } from "./pre-tokenizers.js";
import { pattern } from "./regex.js";

export type Decoder = (tokens: string[]) => string[];

const utf8 = new TextEncoder();
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** A token's bytes in the byte-level alphabet; a token with a character outside it (an added token) as its own UTF-8. */
function byteLevelBytes(token: string): number[] {
  const bytes: number[] = [];
  for (const ch of token) {
    const b = CHAR_BYTE.get(ch);
    if (b === undefined) return [...utf8.encode(token)];
    bytes.push(b);
  }
  return bytes;
}

/** Hugging Face's cleanup of spaces before punctuation and contractions. */
const cleanup = (s: string) =>
  s
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" do not", " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");

export function decoder(d: Json | null | undefined, file?: string): Decoder | undefined {
  if (!d) return undefined;
  switch (d.type) {
    case "ByteLevel":
      // Lossy as Rust's String::from_utf8_lossy: a token may end inside a character.
      return (tokens) => [new TextDecoder("utf-8", { ignoreBOM: true }).decode(Uint8Array.from(tokens.flatMap(byteLevelBytes)))];
    case "ByteFallback":
      return byteFallback;
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Strip": {
      const { content, start = 0, stop = 0 } = d;
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let s = 0;
          let e = chars.length;
          while (s < start && s < e && chars[s] === content) s++;
          while (chars.length - e < stop && e > s && chars[e - 1] === content) e--;
          return chars.slice(s, e).join("");
        });
    }
    case "Replace": {
      const re = pattern(d.pattern, file);
      const content = String(d.content ?? "");
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case "Metaspace": {
      const rep = String(d.replacement ?? "\u2581");
      const strip = prependScheme(d, file) !== "never";
      // As the Rust library: in the first token every replacement goes (not only a leading one).
      return (tokens) => tokens.map((t, i) => t.replaceAll(rep, i === 0 && strip ? "" : " "));
    }
    case "WordPiece": {
      const prefix = String(d.prefix ?? "##");
      const clean = d.cleanup ?? true;
      return (tokens) =>
        tokens.map((t, i) => {
          if (i > 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : " " + t;
          return clean ? cleanup(t) : t;
        });
    }
    case "BPEDecoder": {
      const suffix = String(d.suffix ?? "</w>");
      return (tokens) => tokens.map((t, i) => t.replaceAll(suffix, i === tokens.length - 1 ? "" : " "));
    }
    case "Sequence": {
      if (!Array.isArray(d.decoders)) malformed("decoder.decoders", "must be a list", file);
      const steps = (d.decoders as Json[]).map((x) => decoder(x, file)).filter((x): x is Decoder => !!x);
      return (tokens) => steps.reduce((ts, f) => f(ts), tokens);
    }
    default:
      return unsupported("decoder", d.type, file);
  }
}

/** Runs of <0xNN> tokens as the UTF-8 they spell; a run that is not valid UTF-8 prints U+FFFD per byte. */
const byteFallback: Decoder = (tokens) => {
  const out: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    try {
      out.push(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes)));
    } catch {
      out.push(...bytes.map(() => "\uFFFD"));
    }
    bytes = [];
  };
  for (const t of tokens) {
    const byte = BYTE_TOKEN.exec(t);
    if (byte) bytes.push(parseInt(byte[1], 16));
    else {
      flush();
      out.push(t);
    }
  }
  flush();
  return out;
};
