/**
 * The patterns of tokenizer.json (Oniguruma's syntax, as Hugging Face's Rust library compiles
 * them) as JavaScript regular expressions. Only the differences that real tokenizers use are
 * rewritten: inline case-insensitive groups `(?i:...)` (which Node 20's RegExp lacks) and the
 * Unicode meaning of \s, \S, \d, \w. Anything else JavaScript's "u" mode does not read the same
 * way (atomic groups, possessive quantifiers, \A, \z, \h...) is a syntax error there, and so a
 * refused file, never a pattern that matches differently.
 */
import { unsupported } from "./config.js";

const WORD = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
const IN_CLASS: Record<string, string> = { s: "\\p{White_Space}", S: "\\P{White_Space}", d: "\\p{Nd}", D: "\\P{Nd}", w: WORD };
const OUTSIDE: Record<string, string> = { ...IN_CLASS, w: `[${WORD}]`, W: `[^${WORD}]` };

/** A global, Unicode-aware RegExp for an Oniguruma pattern. */
export function oniguruma(pattern: string, file: string | undefined): RegExp {
  let out = "";
  let inClass = false;
  // One entry per open group: whether the group (or one around it) ignores ASCII case.
  const folding: boolean[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const fold = folding.length > 0 && folding[folding.length - 1];
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      const braced = /^\\([pPx])\{[^}]*\}/.exec(pattern.slice(i));
      if (braced) {
        // \p{L} whole (its name is not letters to fold); Oniguruma's \x{263A} is JavaScript's \u{263A}.
        out += braced[1] === "x" ? "\\u" + braced[0].slice(2) : braced[0];
        i += braced[0].length - 1;
        continue;
      }
      const rewrite = (inClass ? IN_CLASS : OUTSIDE)[next];
      if (inClass && next === "W") unsupported("regex", pattern, file);
      out += rewrite ?? c + next;
      i++;
    } else if (inClass) {
      if (c === "]") inClass = false;
      // Oniguruma nests classes and intersects them with &&; JavaScript's "u" mode reads both as literals.
      else if (c === "[" || pattern.startsWith("&&", i)) unsupported("regex", pattern, file);
      // A letter in a class that ignores case would need its ranges folded too: not done, so refused.
      else if (fold && /[a-z]/i.test(c)) unsupported("regex", pattern, file);
      out += c;
    } else if (c === "[") {
      inClass = true;
      out += c;
      if (pattern[i + 1] === "^") out += pattern[++i];
      if (pattern[i + 1] === "]") out += "\\" + pattern[++i]; // a leading ] is a literal one
    } else if (c === "(") {
      if (pattern.startsWith("(?i:", i)) {
        folding.push(true);
        out += "(?:";
        i += 3;
      } else {
        folding.push(fold);
        out += c;
      }
    } else if (c === ")") {
      folding.pop();
      out += c;
    } else out += fold && /[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
  }
  try {
    // "m": Oniguruma's ^ and $ are line anchors (JavaScript's also take \r, U+2028 and U+2029 as line ends).
    return new RegExp(out, "gmu");
  } catch {
    return unsupported("regex", pattern, file);
  }
}

/** A global RegExp for a tokenizer.json pattern: {"String": literal} or {"Regex": oniguruma}. */
export function pattern(p: unknown, file: string | undefined): RegExp {
  const spec = p as { String?: unknown; Regex?: unknown } | null;
  if (typeof spec?.String === "string") return new RegExp(spec.String.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"), "gu");
  if (typeof spec?.Regex === "string") return oniguruma(spec.Regex, file);
  return unsupported("pattern", p, file);
}
