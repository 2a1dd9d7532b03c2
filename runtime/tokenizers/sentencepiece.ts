/**
 * SentencePiece unigram tokenization as the Universal Sentence Encoder's TF.js tokenizer does
 * it: NFKC, "▁" for spaces and at the start, then the best-scoring segmentation into vocabulary
 * pieces (Viterbi over a lattice of the pieces that start at each character). Characters no
 * piece covers become id 0 (runs of them merged into one). Ties go to the later candidate, and
 * the backtrack steps back by the chosen piece's length, both as the reference does.
 */
export interface SentencePieceSpec {
  type: "sentencepiece-unigram";
  /** [piece, score] for every id. */
  pieces: [string, number][];
  /** Ids below this (control symbols) are never produced by segmentation. */
  reserved: number;
}

interface TrieNode {
  children: Map<string, TrieNode>;
  /** The id of the piece ending here, or -1. */
  id: number;
}

const SEPARATOR = "\u2581";
const UNKNOWN = 0;

export class SentencePieceTokenizer {
  private readonly root: TrieNode = { children: new Map(), id: -1 };

  constructor(private readonly spec: SentencePieceSpec) {
    for (let id = spec.reserved; id < spec.pieces.length; id++) {
      let node = this.root;
      for (const ch of spec.pieces[id][0]) {
        let next = node.children.get(ch);
        if (!next) node.children.set(ch, (next = { children: new Map(), id: -1 }));
        node = next;
      }
      node.id = id;
    }
  }

  get vocabSize(): number {
    return this.spec.pieces.length;
  }

  encode(text: string): number[] {
    const normalized = text.normalize("NFKC");
    const symbols = normalized.length > 0 ? [...(SEPARATOR + normalized.replace(/ /g, SEPARATOR))] : [];
    const n = symbols.length;
    // candidates[end] lists (start, id, score) of every piece ending at `end`, by start then length.
    const candidates: { start: number; id: number; score: number; length: number }[][] = Array.from({ length: n + 1 }, () => []);
    for (let start = 0; start < n; start++) {
      let node = this.root.children.get(symbols[start]);
      let found = false;
      for (let i = start; i < n && node; i++) {
        if (node.id >= 0) {
          candidates[i + 1].push({ start, id: node.id, score: this.spec.pieces[node.id][1], length: i + 1 - start });
          found = true;
        }
        node = node.children.get(symbols[i + 1]);
      }
      if (!found) candidates[start + 1].push({ start, id: UNKNOWN, score: 0, length: 1 });
    }
    const best = new Float64Array(n + 1);
    const chosen = new Int32Array(n + 1);
    for (let end = 0; end <= n; end++) {
      const byStart = candidates[end].slice().sort((a, b) => a.start - b.start);
      for (const c of byStart) {
        const score = c.score + best[end - c.length];
        if (best[end] === 0 || score >= best[end]) {
          best[end] = score;
          chosen[end] = c.id;
        }
      }
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= this.spec.pieces[chosen[at]][0].length) reversed.push(chosen[at]);
    const ids: number[] = [];
    let previousUnknown = false;
    for (const id of reversed) {
      if (!(previousUnknown && id === UNKNOWN)) ids.push(id);
      previousUnknown = id === UNKNOWN;
    }
    return ids.reverse();
  }
}
