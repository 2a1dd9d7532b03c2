/**
 * llama2.c's tokenizer: SentencePiece-style BPE driven by piece scores. Encoding looks up each
 * UTF-8 character (byte-fallback tokens <0xXX> = byte + 3 when a character has no piece), then
 * repeatedly merges the adjacent pair whose merged piece has the highest score.
 */
import { type ChatMessage, type ChatOptions, type ChatSpec, ChatTemplate } from "../chat/index.js";
import { SeecError } from "../errors.js";
import { mergePairs } from "./merge-pairs.js";

export interface Llama2cTokenizerSpec {
  type: "llama2c-bpe";
  pieces: string[];
  scores: number[];
  bosId: number;
  eosId: number;
  /** A GGUF file's tokenizer.chat_template, with the special token strings it prints. */
  chat?: ChatSpec;
  /**
   * The ids a chat template's text may write out as their pieces (a GGUF file's control,
   * user-defined and unknown tokens); by default BOS and EOS.
   */
  specials?: number[];
}

const BYTE_FALLBACK_OFFSET = 3;
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

/** The bytes each piece prints: a byte-fallback piece <0xNN> is the byte itself, any other its UTF-8. */
export function printedPieces(pieces: readonly string[]): Uint8Array[] {
  return pieces.map((p) => {
    const byte = BYTE_PIECE.exec(p);
    return byte ? Uint8Array.of(parseInt(byte[1], 16)) : utf8.encode(p);
  });
}

export class Llama2cTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  private readonly ids = new Map<string, number>();
  private readonly bytes: Uint8Array[];
  private readonly chat?: ChatTemplate;
  /** The special tokens' written forms by their first character, longest first (BOS and EOS without llama2.c's newlines). */
  private readonly written = new Map<string, [string, number][]>();

  constructor(private readonly spec: Llama2cTokenizerSpec) {
    this.bosId = spec.bosId;
    this.eosId = spec.eosId;
    spec.pieces.forEach((p, i) => {
      if (!this.ids.has(p)) this.ids.set(p, i);
    });
    this.bytes = printedPieces(spec.pieces);
    if (spec.chat) this.chat = new ChatTemplate(spec.chat);
    const written = (spec.specials ?? [spec.bosId, spec.eosId])
      .map((id): [string, number] => [id === spec.bosId || id === spec.eosId ? spec.pieces[id].trim() : spec.pieces[id], id])
      .filter(([text]) => text.length > 0)
      .sort((a, b) => b[0].length - a[0].length);
    for (const w of written) this.written.set(w[0][0], [...(this.written.get(w[0][0]) ?? []), w]);
  }

  get hasChatTemplate(): boolean {
    return this.chat !== undefined;
  }

  /**
   * A conversation as the prompt text the model was trained on (the GGUF file's chat template),
   * special tokens written out: encode it with encodeWritten(). runtime.chat where the artifact
   * carries no template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatOptions): string {
    if (!this.chat)
      throw new SeecError("runtime.chat", "this artifact carries no chat template", {
        hint: "a GGUF file's tokenizer.chat_template comes with it; a llama2.c tokenizer has none: give the prompt as text",
      });
    return this.chat.apply(messages, options);
  }

  /**
   * The ids of a text whose special tokens are written out (a chat template's), as llama.cpp
   * tokenizes it with special tokens parsed and none added: each special token's text is its id,
   * and each run of text between them encodes as encode() does, without BOS, with its leading space.
   */
  encodeWritten(text: string): number[] {
    const ids: number[] = [];
    let start = 0;
    for (let i = 0; i < text.length;) {
      const hit = this.written.get(text[i])?.find(([w]) => text.startsWith(w, i));
      if (!hit) {
        i++;
        continue;
      }
      if (i > start) ids.push(...this.encode(text.slice(start, i), { bos: false }));
      ids.push(hit[1]);
      i += hit[0].length;
      start = i;
    }
    if (start < text.length) ids.push(...this.encode(text.slice(start), { bos: false }));
    return ids;
  }

  get vocabSize(): number {
    return this.spec.pieces.length;
  }

  /** The fewest tokens `text` can encode to (every token covers at most the longest piece's bytes), without encoding it. */
  minTokens(text: string, { bos = true } = {}): number {
    this.longest ??= this.bytes.reduce((m, b) => Math.max(m, b.length), 1);
    const bytes = utf8.encode(text).length + (text.length > 0 ? 1 : 0); // the leading space
    return (bos ? 1 : 0) + Math.ceil(bytes / this.longest);
  }

  private longest?: number;

  encode(text: string, { bos = true, eos = false } = {}): number[] {
    const tokens: number[] = [];
    if (bos) tokens.push(this.bosId);
    if (text.length > 0) tokens.push(this.lookup(" "));
    for (const ch of text) {
      const id = this.ids.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const b of utf8.encode(ch)) tokens.push(b + BYTE_FALLBACK_OFFSET);
    }
    const merged = this.merge(tokens);
    if (eos) merged.push(this.eosId);
    return merged;
  }

  /**
   * llama2.c's merge loop: while some adjacent pair's concatenation is a piece, merge the pair whose
   * piece scores highest (the leftmost of equals; a score must pass -1e10), as run.c's loop that
   * rescans every pair after each merge chooses.
   */
  private merge(tokens: number[]): number[] {
    const piece = (left: number, right: number) => this.ids.get(this.spec.pieces[left] + this.spec.pieces[right]);
    return mergePairs(
      tokens,
      (left, right) => {
        const id = piece(left, right);
        return id !== undefined && this.spec.scores[id] > -1e10 ? -this.spec.scores[id] : undefined;
      },
      (left, right) => piece(left, right)!,
    );
  }

  /**
   * The bytes `token` prints when it follows `prev`, as llama2.c's decode() and safe_printf():
   * a piece after BOS loses its leading space; a lone control byte prints nothing.
   */
  pieceBytes(prev: number, token: number): Uint8Array {
    if (token < 0 || token >= this.bytes.length)
      throw new SeecError("runtime.token", `token id ${token} is outside the vocabulary [0, ${this.bytes.length})`);
    let b = this.bytes[token];
    if (prev === this.bosId && b[0] === 0x20) b = b.subarray(1);
    if (b.length === 1 && (b[0] < 0x20 || b[0] === 0x7f) && !(b[0] >= 0x09 && b[0] <= 0x0d)) return new Uint8Array(0);
    return b;
  }

  decode(tokens: readonly number[], prev = this.bosId): string {
    const out = new TextDecoder();
    let text = "";
    for (const t of tokens) {
      text += out.decode(this.pieceBytes(prev, t), { stream: true });
      prev = t;
    }
    return text + out.decode();
  }

  private lookup(piece: string): number {
    const id = this.ids.get(piece);
    if (id === undefined) throw new SeecError("input.tokenizer", `the tokenizer has no piece for ${JSON.stringify(piece)}`);
    return id;
  }
}
