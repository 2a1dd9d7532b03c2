/** tokenizer.json's normalizers, each a function of the text, as Hugging Face's Rust library applies them. */
import { type Json, malformed, unsupported, WHITESPACE } from "./config.js";
import { pattern } from "./regex.js";

export type Normalizer = (text: string) => string;

/** Per character, as Rust's char::to_lowercase: no final-sigma rule (String#toLowerCase has one). */
const lowercase: Normalizer = (text) => {
  let out = "";
  for (const ch of text) out += ch.toLowerCase();
  return out;
};
/** Combining marks (Mn, Mc, Me) removed, as the StripAccents normalizer does after NFD. */
const stripMarks: Normalizer = (text) => text.replace(/\p{M}/gu, "");

export function normalizer(n: Json | null | undefined, file?: string): Normalizer | undefined {
  if (!n) return undefined;
  switch (n.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = n.type;
      return (t) => t.normalize(form);
    }
    case "Lowercase":
      return lowercase;
    case "StripAccents":
      return stripMarks;
    case "Strip": {
      const { strip_left: left, strip_right: right } = n;
      return (t) => {
        const chars = [...t];
        let s = 0;
        let e = chars.length;
        while (left && s < e && WHITESPACE.test(chars[s])) s++;
        while (right && e > s && WHITESPACE.test(chars[e - 1])) e--;
        return chars.slice(s, e).join("");
      };
    }
    case "Prepend": {
      const prefix = String(n.prepend ?? "");
      return (t) => (t.length > 0 ? prefix + t : t);
    }
    case "Replace": {
      const re = pattern(n.pattern, file);
      const content = String(n.content ?? "");
      return (t) => t.replace(re, () => content);
    }
    case "BertNormalizer":
      return bert(n);
    case "Sequence": {
      if (!Array.isArray(n.normalizers)) malformed("normalizer.normalizers", "must be a list", file);
      const steps = (n.normalizers as Json[]).map((x) => normalizer(x, file)).filter((x): x is Normalizer => !!x);
      return (t) => steps.reduce((s, f) => f(s), t);
    }
    default:
      // Precompiled (T5, ALBERT, XLM-R) needs SentencePiece's compiled character map read exactly; NFKC is close but not it.
      return unsupported("normalizer", n.type, file);
  }
}

/** The CJK ideograph blocks BERT pads with spaces, as the Rust library lists them (from U+2B920 where Python BERT says U+2B820). */
function isChinese(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** BERT's cleanup: controls dropped, whitespace to spaces, CJK padded, accents stripped, lowercased. */
function bert(n: Json): Normalizer {
  const lower = n.lowercase ?? true;
  const strip = n.strip_accents ?? lower; // null means "as lowercase"
  return (text) => {
    let out = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (n.clean_text ?? true) {
        // Control, format, private-use and surrogate characters go; unassigned ones stay (Rust's is_control).
        if (cp === 0 || cp === 0xfffd || (/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u.test(ch) && !"\t\n\r".includes(ch))) continue;
        if (WHITESPACE.test(ch)) {
          out += " ";
          continue;
        }
      }
      out += (n.handle_chinese_chars ?? true) && isChinese(cp) ? ` ${ch} ` : ch;
    }
    if (strip) out = out.normalize("NFD").replace(/\p{Mn}/gu, "");
    return lower ? lowercase(out) : out;
  };
}
