/**
 * A Hugging Face tokenizer.json, run as its Rust library runs it for one sequence: added tokens
 * cut out, normalizer, pre-tokenizer, model, post-processor's special tokens, truncation; and
 * decoding through its decoder. Ids equal `tokenizer.encode(text, add_special_tokens).ids`;
 * what a file asks for that is not implemented is refused by name (unsupported.tokenizer).
 */
import { type ChatMessage, type ChatOptions, type ChatSpec, ChatTemplate } from "../../chat/index.js";
import { SeecError } from "../../errors.js";
import { AddedTokenSplitter, addedTokens } from "./added-tokens.js";
import { type Json, malformed, unsupported } from "./config.js";
import { decoder, type Decoder } from "./decoders.js";
import { model, type Model } from "./models.js";
import { normalizer, type Normalizer } from "./normalizers.js";
import { postProcessor, type Specials } from "./post-processors.js";
import { preTokenizer, type PreTokenizer } from "./pre-tokenizers.js";

export interface HfTokenizerSpec {
  type: "hf-tokenizer-json";
  /** The tokenizer.json file's content, as Hugging Face wrote it. */
  tokenizer: Json;
  /** The chat template the build found beside it (tokenizer_config.json or chat_template.jinja). */
  chat?: ChatSpec;
}

export interface EncodeOptions {
  /** The post-processor's special tokens (BOS, [CLS] ... [SEP]), as add_special_tokens=True; default true. */
  addSpecialTokens?: boolean;
  /** At most this many ids, special tokens included: the text is cut as the file's truncation cuts it (from its end unless that says Left). */
  maxLength?: number;
}

export class HfTokenizer {
  /** Every token string by id, added tokens included. */
  readonly tokens: string[];
  private readonly model: Model;
  private readonly normalize?: Normalizer;
  private readonly preTokenize?: PreTokenizer;
  private readonly specials: Specials;
  private readonly decoder?: Decoder;
  private readonly raw: AddedTokenSplitter;
  private readonly normalized: AddedTokenSplitter;
  private readonly specialIds = new Set<number>();
  private readonly truncation?: { max: number; left: boolean };
  /** The decoder joins runs of <0xNN> tokens (a run decodes whole: a later byte can turn earlier ones into U+FFFD). */
  private readonly byteFallback: boolean;
  private readonly chat?: ChatTemplate;

  /** `file`: where the JSON came from, named in errors. */
  constructor(spec: HfTokenizerSpec, file?: string) {
    const json = spec.tokenizer;
    if (typeof json !== "object" || json === null || Array.isArray(json)) malformed("tokenizer", "must be a tokenizer.json object", file);
    this.model = model(json.model, file);
    this.normalize = normalizer(json.normalizer, file);
    this.preTokenize = preTokenizer(json.pre_tokenizer, file);
    this.specials = postProcessor(json.post_processor, file);
    this.decoder = decoder(json.decoder, file);
    this.byteFallback = usesByteFallback(json.decoder);
    const added = addedTokens(json.added_tokens, file);
    this.raw = new AddedTokenSplitter(added.filter((t) => !t.normalized));
    const norm = this.normalize ?? ((s: string) => s);
    this.normalized = new AddedTokenSplitter(
      added.filter((t) => t.normalized),
      (t) => norm(t.content),
    );
    this.tokens = this.model.tokens.slice();
    for (const t of added) {
      this.tokens[t.id] = t.content;
      if (t.special) this.specialIds.add(t.id);
    }
    this.truncation = truncation(json.truncation, file);
    // Padding a single sequence to the longest of its batch adds nothing; any other padding would.
    const pad = json.padding;
    if (pad && (pad.strategy !== "BatchLongest" || pad.pad_to_multiple_of)) unsupported("padding", pad.strategy, file);
    if (spec.chat) this.chat = new ChatTemplate(spec.chat, file);
  }

  get hasChatTemplate(): boolean {
    return this.chat !== undefined;
  }

  /**
   * A conversation as the prompt text the model was trained on (its chat template, as
   * apply_chat_template renders it), special tokens written out: encode it with
   * addSpecialTokens false. runtime.chat where the artifact carries no template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatOptions): string {
    if (!this.chat)
      throw new SeecError("runtime.chat", "this artifact carries no chat template", {
        hint: "build with --tokenizer pointing at a tokenizer.json that has tokenizer_config.json (with chat_template) or chat_template.jinja beside it",
      });
    return this.chat.apply(messages, options);
  }

  /**
   * Where a generation ends: the special tokens the post-processor puts after the text, and the
   * added special tokens named as ends of text or turns (</s>, <|endoftext|>, <|eot_id|>, ...).
   */
  get eosIds(): number[] {
    const ids = new Set(this.specials[1]);
    for (const id of this.specialIds) if (END_TOKENS.has(this.tokens[id])) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * Incremental decoding for a generation that continues `context` (the prompt's ids): push(id)
   * returns the text the new token adds, special tokens skipped, so that the pieces together equal
   * decode(context + generated).slice(decode(context).length). Text is held back while it ends
   * inside a character (U+FFFD) or inside a run of byte-fallback tokens; end() hands out the rest.
   * Each push decodes a short window (the tokens since the last text handed out and a few before).
   */
  textStream(context: readonly number[]): { push(id: number): string; end(): string } {
    const ids = [...context];
    // Decoding from a window's start, not the sequence's: what a decoder does to a first token
    // (Strip's leading space, Metaspace's prefix) falls on the window's text both times.
    let prefix = Math.max(0, ids.length - 4);
    let read = ids.length;
    const text = (from: number, to: number) => this.decode(ids.slice(from, to), { skipSpecialTokens: true });
    const take = (final: boolean): string => {
      if (read === ids.length) return "";
      const before = text(prefix, read);
      const now = text(prefix, ids.length);
      const last = this.tokens[ids[ids.length - 1]];
      if (!final && (now.endsWith("\uFFFD") || (this.byteFallback && BYTE_TOKEN.test(last)))) return "";
      [prefix, read] = [read, ids.length];
      return now.startsWith(before) ? now.slice(before.length) : now.slice(commonPrefix(before, now));
    };
    return {
      push: (id) => (ids.push(id), take(false)),
      end: () => take(true),
    };
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string, { addSpecialTokens = true, maxLength }: EncodeOptions = {}): number[] {
    let ids: number[] = [];
    this.raw.split(text).forEach((section, i) => {
      if (typeof section === "number") return ids.push(section);
      const normalized = this.normalize ? this.normalize(section) : section;
      this.normalized.split(normalized).forEach((piece, j) => {
        if (typeof piece === "number") return ids.push(piece);
        // An empty stretch has nothing to pre-tokenize: no prefix space of its own (encode("") is []).
        if (piece === "") return;
        // Metaspace's "first" scheme prepends only to the piece that starts the original text.
        const pieces = this.preTokenize ? this.preTokenize([piece], i === 0 && j === 0) : [piece];
        for (const p of pieces) for (const id of this.model.tokenize(p)) ids.push(id);
      });
    });
    const [before, after] = addSpecialTokens ? this.specials : [[], []];
    if (this.truncation || maxLength !== undefined) {
      // The limit counts the special tokens that will be added, as HF truncates one sequence.
      const limit = Math.min(this.truncation?.max ?? Infinity, maxLength ?? Infinity);
      const left = this.truncation?.left ?? false;
      const max = limit - before.length - after.length;
      if (max < 0) throw new SeecError("input.tokenizer", `truncation.max_length ${limit} leaves no room for the special tokens`);
      if (ids.length > max) ids = left ? ids.slice(ids.length - max) : ids.slice(0, max);
    }
    return [...before, ...ids, ...after];
  }

  decode(ids: readonly number[], { skipSpecialTokens = false } = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const token = this.tokens[id];
      if (token === undefined) throw new SeecError("runtime.token", `token id ${id} is outside the vocabulary [0, ${this.tokens.length})`);
      if (!(skipSpecialTokens && this.specialIds.has(id))) tokens.push(token);
    }
    return this.decoder ? this.decoder(tokens).join("") : tokens.join(" ");
  }
}

/** Added special tokens that end a text or a turn: a generation stops at them. */
const END_TOKENS = new Set([
  "</s>",
  "<eos>",
  "<|endoftext|>",
  "<|end_of_text|>",
  "<|eot_id|>",
  "<|eom_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
]);

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

function usesByteFallback(d: Json | null | undefined): boolean {
  return !!d && (d.type === "ByteFallback" || (Array.isArray(d.decoders) && d.decoders.some(usesByteFallback)));
}

/** How many UTF-16 units two strings share at their start. */
function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** A single sequence's limit (special tokens included) and the side it is cut from. */
function truncation(t: Json | null | undefined, file?: string): { max: number; left: boolean } | undefined {
  if (!t) return undefined;
  if (!Number.isSafeInteger(t.max_length) || t.max_length < 0) malformed("truncation.max_length", "must be a whole number", file);
  if (t.direction !== undefined && t.direction !== "Right" && t.direction !== "Left")
    unsupported("truncation direction", t.direction, file);
  return { max: t.max_length, left: t.direction === "Left" };
}
