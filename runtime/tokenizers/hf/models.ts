/**
 * tokenizer.json's models, each turning one pre-tokenized piece into ids: BPE (merges by rank,
 * byte fallback or unknown token for what the vocabulary lacks), WordPiece (greedy longest
 * prefix), Unigram (the best-scoring segmentation), as Hugging Face's Rust library runs them.
 */
import { type Json, malformed, unsupported } from "./config.js";
import { mergePairs } from "../merge-pairs.js";

export interface Model {
  tokenize(piece: string): number[];
  /** Every token string by id (holes where the vocabulary skips an id). */
  readonly tokens: string[];
}

const utf8 = new TextEncoder();
const byteToken = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;

/** Ids of the byte tokens <0x00>..<0xFF> for the UTF-8 of `s`, or undefined if one is missing. */
function byteFallback(vocab: Map<string, number>, s: string): number[] | undefined {
  const ids: number[] = [];
  for (const b of utf8.encode(s)) {
    const id = vocab.get(byteToken(b));
    if (id === undefined) return undefined;
    ids.push(id);
  }
  return ids;
}

function vocabulary(v: unknown, file?: string): Map<string, number> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return malformed("model.vocab", "must be an object of token: id", file);
  const map = new Map<string, number>();
  for (const [token, id] of Object.entries(v)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) malformed(`model.vocab[${JSON.stringify(token)}]`, "must be a token id", file);
    map.set(token, id as number);
  }
  return map;
}

function tokensOf(vocab: Map<string, number>): string[] {
  const tokens: string[] = [];
  for (const [t, id] of vocab) tokens[id] = t;
  return tokens;
}

export function model(m: Json | undefined, file?: string): Model {
  if (!m || typeof m !== "object") return malformed("model", "must be an object", file);
  // Files from before `type` was written are told apart by their fields, as the Rust library does.
  const type = m.type ?? (Array.isArray(m.vocab) ? "Unigram" : m.merges ? "BPE" : "WordPiece");
  if (type === "BPE") return bpe(m, file);
  if (type === "WordPiece") return wordPiece(m, file);
  if (type === "Unigram") return unigram(m, file);
  return unsupported("model", type, file);
}

function bpe(m: Json, file?: string): Model {
  if (m.dropout) unsupported("BPE dropout", m.dropout, file); // random merges: no two runs agree
  const vocab = vocabulary(m.vocab, file);
  const tokens = tokensOf(vocab);
  const prefix: string = m.continuing_subword_prefix ?? "";
  const suffix: string = m.end_of_word_suffix ?? "";
  // Without an unknown token, characters the vocabulary lacks are dropped (so does the Rust library).
  const unk = m.unk_token == null ? undefined : vocab.get(m.unk_token);
  if (m.unk_token != null && unk === undefined)
    malformed("model.unk_token", `${JSON.stringify(m.unk_token)} is not in the vocabulary`, file);
  if (!Array.isArray(m.merges)) malformed("model.merges", "must be a list", file);
  // The pair (left id, right id) as one number (ids stay far below 2^26) to its rank; the merged
  // token's id is looked up when a merge is first used (half the load time of a large vocabulary).
  const width = tokens.length + 1;
  const ranks = new Map<number, number>();
  const mergedIds = new Map<number, number>();
  (m.merges as unknown[]).forEach((merge, rank) => {
    let a: string, b: string;
    if (typeof merge === "string") {
      const space = merge.indexOf(" ");
      [a, b] = [merge.slice(0, space), merge.slice(space + 1)];
    } else [a, b] = merge as string[];
    const left = vocab.get(a);
    const right = vocab.get(b);
    if (left === undefined || right === undefined)
      malformed(`model.merges[${rank}]`, `${JSON.stringify(merge)} names a token outside the vocabulary`, file);
    ranks.set(left! * width + right!, rank);
  });
  const merged = (key: number): number => {
    let id = mergedIds.get(key);
    if (id === undefined) {
      const token = tokens[Math.floor(key / width)] + tokens[key % width].slice(prefix.length);
      id = vocab.get(token) ?? malformed("model.merges", `merge into ${JSON.stringify(token)}, a token outside the vocabulary`, file);
      mergedIds.set(key, id);
    }
    return id;
  };
  const cache = new Map<string, number[]>();

  const tokenize = (word: string): number[] => {
    if (m.ignore_merges && vocab.has(word)) return [vocab.get(word)!];
    const cached = cache.get(word);
    if (cached) return cached;
    const chars = [...word];
    const ids: number[] = [];
    let unkPending = false;
    chars.forEach((ch, i) => {
      const s = (i > 0 ? prefix : "") + ch + (i === chars.length - 1 ? suffix : "");
      const id = vocab.get(s);
      const bytes = id === undefined && m.byte_fallback ? byteFallback(vocab, s) : undefined;
      if (id !== undefined) {
        if (unkPending) ids.push(unk!);
        unkPending = false;
        ids.push(id);
      } else if (bytes) {
        // As the Rust library: byte tokens do not end a run of unknown characters (it comes after them, fused across them).
        ids.push(...bytes);
      } else if (unk !== undefined) {
        // Unknown characters in a row become one unknown token when fuse_unk is set.
        if (unkPending && !m.fuse_unk) ids.push(unk);
        unkPending = true;
      }
    });
    if (unkPending) ids.push(unk!);
    const out = mergePairs(
      ids,
      (left, right) => ranks.get(left * width + right),
      (left, right) => merged(left * width + right),
    );
    // Words repeat; whole texts (a BPE without pre-tokenizer sees one) do not, and would only fill memory.
    if (word.length <= 256) {
      if (cache.size >= 10000) cache.clear();
      cache.set(word, out);
    }
    return out;
  };
  return { tokens, tokenize };
}

function wordPiece(m: Json, file?: string): Model {
  const vocab = vocabulary(m.vocab, file);
  const prefix: string = m.continuing_subword_prefix ?? "##";
  const max: number = m.max_input_chars_per_word ?? 100;
  const unk = vocab.get(m.unk_token ?? "[UNK]");
  if (unk === undefined) malformed("model.unk_token", `${JSON.stringify(m.unk_token)} is not in the vocabulary`, file);
  return {
    tokens: tokensOf(vocab),
    tokenize(word) {
      const chars = [...word];
      if (chars.length > max) return [unk!];
      const ids: number[] = [];
      for (let start = 0; start < chars.length;) {
        let end = chars.length;
        let id: number | undefined;
        for (; end > start; end--) {
          id = vocab.get((start > 0 ? prefix : "") + chars.slice(start, end).join(""));
          if (id !== undefined) break;
        }
        if (id === undefined) return [unk!];
        ids.push(id);
        start = end;
      }
      return ids;
    },
  };
}

interface TrieNode {
  next: Map<string, TrieNode>;
  id: number;
}

function unigram(m: Json, file?: string): Model {
  if (!Array.isArray(m.vocab)) return malformed("model.vocab", "must be a list of [token, score]", file);
  const pieces = m.vocab as [string, number][];
  const tokens = pieces.map((p, i) =>
    Array.isArray(p) && typeof p[0] === "string" && typeof p[1] === "number"
      ? p[0]
      : malformed(`model.vocab[${i}]`, "must be [token, score]", file),
  );
  const unk: number | undefined = m.unk_id ?? undefined;
  if (unk !== undefined && !(Number.isSafeInteger(unk) && unk >= 0 && unk < pieces.length))
    malformed("model.unk_id", `must be a token id below ${pieces.length}`, file);
  const ids = new Map<string, number>();
  const root: TrieNode = { next: new Map(), id: -1 };
  let minScore = Infinity;
  pieces.forEach(([token, score], id) => {
    ids.set(token, id);
    minScore = Math.min(minScore, score);
    let node = root;
    for (const ch of token) {
      let child = node.next.get(ch);
      if (!child) node.next.set(ch, (child = { next: new Map(), id: -1 }));
      node = child;
    }
    node.id = id;
  });
  // An unknown character costs 10 below the worst piece, as SentencePiece charges it.
  const unkScore = minScore - 10;

  return {
    tokens,
    tokenize(text) {
      const chars = [...text];
      const n = chars.length;
      // best[end]: the score of the best segmentation of chars[0..end), its last piece's start and id.
      const score = new Float64Array(n + 1);
      const from = new Int32Array(n + 1).fill(-1);
      const chosen = new Int32Array(n + 1);
      const offer = (start: number, end: number, id: number, s: number) => {
        // Strictly better only: of equal scores, the piece starting first (offered first) stays.
        if (from[end] < 0 || s + score[start] > score[end]) [score[end], from[end], chosen[end]] = [s + score[start], start, id];
      };
      for (let start = 0; start < n; start++) {
        let node: TrieNode | undefined = root;
        let single = false;
        for (let end = start; end < n && (node = node.next.get(chars[end])); end++) {
          if (node.id < 0) continue;
          offer(start, end + 1, node.id, pieces[node.id][1]);
          single ||= end === start;
        }
        if (!single) {
          if (unk === undefined) unsupported("Unigram text outside the vocabulary without unk_id", text, file);
          offer(start, start + 1, unk!, unkScore);
        }
      }
      // Back from the end; unknown characters in a row become one piece (then one unknown id, or bytes).
      const out: number[] = [];
      let unknown = "";
      const flush = () => {
        if (!unknown) return;
        const bytes = m.byte_fallback ? byteFallback(ids, unknown) : undefined;
        out.push(...(bytes ? bytes.reverse() : [unk!]));
        unknown = "";
      };
      for (let end = n; end > 0; end = from[end]) {
        if (chosen[end] === unk) unknown = chars.slice(from[end], end).join("") + unknown;
        else {
          flush();
          out.push(chosen[end]);
        }
      }
      flush();
      return out.reverse();
    },
  };
}
