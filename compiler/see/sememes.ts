/**
 * Sememes: a token's basic units of meaning (SEE.md §4). From a user's file
 * (`word<TAB>sememe sememe ...`, as OpenHowNet exports), or by default derived from WordNet:
 * the lexicographer category of each of the word's most frequent senses and its hypernyms to a
 * fixed depth.
 */
import { SeecError } from "../../runtime/errors.js";
import type { WordNet } from "./wordnet.js";

export interface SememeSource {
  readonly name: string;
  sememesOf(word: string): string[];
}

export const NO_SEMEME = "[NO-SEM]";

/** Function words: WordNet only knows them as abbreviations ("was" -> Washington), which are not their meaning. */
const FUNCTION_WORDS = new Set(
  (
    "a an the and or but if so as at by for from in into of on onto to with without was were is are am be been being " +
    "do does did has have had having it its he him his she her hers they them their we us our you your i me my mine this " +
    "that these those there here then than not no yes all any each some such what which who whom whose when where why how " +
    "can could will would shall should may might must up down out off over very too also just"
  ).split(" "),
);

export class WordNetSememes implements SememeSource {
  readonly name = "wordnet-3.1";

  constructor(
    private readonly wn: WordNet,
    private readonly senses = 3,
    private readonly depth = 2,
    private readonly max = 6,
  ) {}

  sememesOf(word: string): string[] {
    if (!/^[a-z][a-z'-]*$/i.test(word) || word.length < 3 || FUNCTION_WORDS.has(word.toLowerCase())) return [];
    const units = new Set<string>();
    for (const s of this.wn.senses(word).slice(0, this.senses)) {
      units.add(s.lexname);
      let level = [s];
      for (let d = 0; d < this.depth && level.length; d++) {
        level = level.flatMap((x) => x.hypernyms.slice(0, 1).map((h) => this.wn.synset(x.pos, h)));
        for (const h of level) units.add(`${h.pos}:${h.words[0]}`);
      }
    }
    return [...units].slice(0, this.max);
  }
}

export class FileSememes implements SememeSource {
  private readonly map = new Map<string, string[]>();

  constructor(
    readonly name: string,
    text: string,
  ) {
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim() || line.startsWith("#")) return;
      const tab = line.indexOf("\t");
      if (tab < 1)
        throw new SeecError("input.sememes", `line ${i + 1} is not "word<TAB>sememe sememe ..."`, { file: name, at: `line ${i + 1}` });
      this.map.set(
        line.slice(0, tab).trim().toLowerCase(),
        line
          .slice(tab + 1)
          .trim()
          .split(/\s+/)
          .filter(Boolean),
      );
    });
    if (this.map.size === 0)
      throw new SeecError("input.sememes", 'the file has no "word<TAB>sememe sememe ..." line', {
        file: name,
        hint: "one word a line, a tab, then its sememes separated by spaces (e.g. an OpenHowNet export)",
      });
  }

  sememesOf(word: string): string[] {
    return this.map.get(word.toLowerCase()) ?? [];
  }
}
