/**
 * Splitting a piece of text around matches, with the five behaviours of Hugging Face's
 * SplitDelimiterBehavior (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous),
 * folded exactly as its NormalizedString::split folds them. Pieces that end up empty are dropped.
 */
export type Behavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";
export const BEHAVIORS: readonly string[] = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

/** [start, end) of each match, in order, not overlapping. */
export type Matches = Iterable<readonly [number, number]>;

/** The matches of a global RegExp; an empty one splits the text where it stands, as in Hugging Face's Rust library ("x*" splits "ab" into "a", "b"). */
export function regexMatches(text: string, re: RegExp): Matches {
  const out: [number, number][] = [];
  for (const m of text.matchAll(re)) out.push([m.index!, m.index! + m[0].length]);
  return out;
}

/** Each character for which `test` holds is a match of its own (Rust's char-predicate pattern). */
export function charMatches(text: string, test: (ch: string) => boolean): Matches {
  const out: [number, number][] = [];
  let at = 0;
  for (const ch of text) {
    if (test(ch)) out.push([at, at + ch.length]);
    at += ch.length;
  }
  return out;
}

export function split(text: string, matches: Matches, behavior: Behavior, invert = false): string[] {
  // Every stretch of the text, each marked as a match or not.
  const parts: [number, number, boolean][] = [];
  let prev = 0;
  for (const [start, end] of matches) {
    if (prev < start) parts.push([prev, start, invert]);
    parts.push([start, end, !invert]);
    prev = end;
  }
  if (prev < text.length) parts.push([prev, text.length, invert]);

  let kept: [number, number, boolean][] = [];
  if (behavior === "Removed") kept = parts.filter((p) => !p[2]);
  else if (behavior === "Isolated") kept = parts;
  else if (behavior === "Contiguous") {
    for (const p of parts) {
      const last = kept[kept.length - 1];
      if (last && last[2] === p[2]) last[1] = p[1];
      else kept.push([...p]);
    }
  } else if (behavior === "MergedWithPrevious") {
    let previousMatch = false;
    for (const p of parts) {
      const last = kept[kept.length - 1];
      if (p[2] && !previousMatch && last) last[1] = p[1];
      else kept.push([...p]);
      previousMatch = p[2];
    }
  } else {
    let previousMatch = false;
    for (let i = parts.length - 1; i >= 0; i--) {
      const p = parts[i];
      const last = kept[kept.length - 1];
      if (p[2] && !previousMatch && last) last[0] = p[0];
      else kept.push([...p]);
      previousMatch = p[2];
    }
    kept.reverse();
  }
  return kept.filter(([s, e]) => e > s).map(([s, e]) => text.slice(s, e));
}
