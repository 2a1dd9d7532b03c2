/**
 * The generation loop, written once for every engine: a generator that asks for logits (a "step":
 * tokens at positions pos..) and hands out text pieces, so a synchronous engine (wasm) and an
 * asynchronous one (WebGPU) drive the same loop. Text comes out as llama2.c's `run` prints it,
 * without the prompt: callers get only what the model wrote. A llama2.c tokenizer's pieces are
 * printed as llama2.c does; a Hugging Face tokenizer.json's text is decoded incrementally
 * (HfTokenizer.textStream), special tokens skipped. A prompt of token ids runs the same loop without
 * text: every generated id is handed out as it is sampled. A conversation (a list of { role, content }
 * messages) is rendered by the artifact's chat template and continued as text. Stop strings end a
 * text generation where one appears (StopText): text that may be the start of one is held back until
 * it is known not to be.
 */
import type { ChatMessage, ChatOptions } from "./chat/index.js";
import { SeecError } from "./errors.js";
import { checkOption, Sampler, type SampleOptions } from "./sampler.js";
import { HfTokenizer, type Tokenizer } from "./tokenizers/index.js";
import { Llama2cTokenizer } from "./tokenizers/llama2c-bpe.js";

export interface GenerateOptions extends SampleOptions {
  /** New tokens to generate after the prompt (default 256); generation also stops at EOS (BOS too for llama2.c tokenizers) or the context's end. */
  maxTokens?: number;
  /**
   * Text that ends the generation where it appears: the text returned (and streamed) stops just
   * before it. One string or several (the first one completed ends it); not for a prompt of ids.
   */
  stop?: string | readonly string[];
  /** Stops the generation: the call rejects with the signal's reason (an AbortError for a plain abort()). */
  signal?: AbortSignal;
  /** A conversation's tools and further template variables (its generation prompt is always added). */
  chat?: Omit<ChatOptions, "addGenerationPrompt">;
}

/** Text, token ids (taken as they are), or a conversation for the chat template. */
export type Prompt = string | readonly number[] | readonly ChatMessage[];

/** A prompt that is a conversation: a list whose items are objects (messages), not ids. */
export function isConversation(prompt: unknown): prompt is readonly ChatMessage[] {
  return Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] === "object" && prompt[0] !== null;
}

/** What the last stream()/generate() call did. */
export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  prefillSeconds: number;
  decodeSeconds: number;
}

export type GenerationEvent = { step: readonly number[]; pos: number } | { piece: string } | { token: number };

/** How a generation turns text into ids and ids into text, for one tokenizer kind. */
interface TextCodec {
  /** The prompt's ids, control tokens included (BOS). */
  prompt: number[];
  /** Ids that end the generation (not generated themselves). */
  stops: ReadonlySet<number>;
  /** The text a generated token adds (possibly empty: held back inside a character). */
  push(token: number): string;
  /** Text still held back when the generation ends. */
  end(): string;
}

/**
 * Yields steps to run (answer each at once with next(logits)) and pieces of text; keeps `stats`,
 * timing each step from its request to its answer, and each generated token's id. `eosIds` (the
 * manifest's, from build --eos) replaces the tokenizer's own end tokens. A prompt of ids is taken as
 * it is (no BOS added) and gives no text.
 */
export function* generation(
  tokenizer: Tokenizer | undefined,
  prompt: Prompt,
  opts: GenerateOptions,
  contextLength: number,
  stats: GenerationStats,
  eosIds?: readonly number[],
): Generator<GenerationEvent, void, Float32Array> {
  function* step(
    tokens: readonly number[],
    pos: number,
    phase: "prefillSeconds" | "decodeSeconds",
  ): Generator<GenerationEvent, Float32Array, Float32Array> {
    const t0 = performance.now();
    const logits = yield { step: tokens, pos };
    stats[phase] += (performance.now() - t0) / 1000;
    return logits;
  }
  const sampler = new Sampler(opts);
  const maxTokens = opts.maxTokens ?? 256;
  checkOption("maxTokens", maxTokens, Number.isSafeInteger(maxTokens) && maxTokens >= 0, "a whole number, 0 or more");
  const stopText = new StopText(stopStrings(opts.stop, prompt));
  const codec = isConversation(prompt)
    ? textCodec(tokenizer, chatText(tokenizer, prompt, opts.chat), contextLength, eosIds, false)
    : typeof prompt === "string"
      ? textCodec(tokenizer, prompt, contextLength, eosIds)
      : tokenCodec(tokenizer, prompt as readonly number[], eosIds);
  const prompted = codec.prompt;
  if (prompted.length > contextLength)
    throw new SeecError("runtime.context", `the prompt is ${prompted.length} tokens; the context holds ${contextLength}`, {
      hint: "shorten the prompt",
    });
  Object.assign(stats, { promptTokens: prompted.length, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 });
  // The prompt's pieces are not handed out; it ends on a character boundary, so the decoder starts clean.
  let logits = yield* step(prompted, 0, "prefillSeconds");
  for (let n = 0, pos = prompted.length; n < maxTokens; n++, pos++) {
    const next = sampler.sample(logits);
    if (codec.stops.has(next)) break;
    stats.generatedTokens++;
    yield { token: next };
    const { text: piece, stopped } = stopText.push(codec.push(next));
    if (piece || tokenizer instanceof Llama2cTokenizer) yield { piece };
    if (stopped) return;
    if (n + 1 === maxTokens || pos >= contextLength) break;
    logits = yield* step([next], pos, "decodeSeconds");
  }
  const { text: rest, stopped } = stopText.push(codec.end());
  const held = stopped ? "" : stopText.end();
  if (rest + held) yield { piece: rest + held };
}

/**
 * A generation's text with its stop strings applied: push() each piece, and show what it returns;
 * once it says stopped, a stop string has appeared and the text before it has all been returned.
 * A piece's end that may begin a stop string is held back (returned by a later push() or end()).
 */
export class StopText {
  private held = "";

  constructor(private readonly stops: readonly string[]) {}

  push(piece: string): { text: string; stopped: boolean } {
    const text = this.held + piece;
    // The stop string completed first (then the one that starts first): where the text ends does not
    // depend on where pieces break it, as it would if a longer stop that starts earlier but is not
    // complete yet could win over a shorter one completed before it.
    let cut = -1,
      end = Infinity;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at >= 0 && (at + stop.length < end || (at + stop.length === end && at < cut))) [cut, end] = [at, at + stop.length];
    }
    if (cut >= 0) {
      this.held = "";
      return { text: text.slice(0, cut), stopped: true };
    }
    const keep = this.startOfStop(text);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** What is still held back when the generation ends without a stop string. */
  end(): string {
    const held = this.held;
    this.held = "";
    return held;
  }

  /** The length of text's longest end that is the start of a stop string (shorter than it). */
  private startOfStop(text: string): number {
    let longest = 0;
    for (const stop of this.stops)
      for (let n = Math.min(stop.length - 1, text.length); n > longest; n--)
        if (text.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
    return longest;
  }
}

/** A UTF-16 surrogate without its other half: such a stop string could cut a character in two. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The stop option as a list, checked: non-empty strings of whole characters, and text to look in (a prompt of text). */
function stopStrings(stop: GenerateOptions["stop"], prompt: Prompt): string[] {
  if (stop === undefined) return [];
  // Array.from turns a sparse array's holes into undefined, which the check refuses (every() skips them).
  const stops = typeof stop === "string" ? [stop] : Array.isArray(stop) ? Array.from(stop) : undefined;
  checkOption(
    "stop",
    stop,
    stops !== undefined && stops.every((s) => typeof s === "string" && s.length > 0 && !LONE_SURROGATE.test(s)),
    "a non-empty string of whole characters or an array of them",
  );
  if (stops!.length && typeof prompt !== "string" && !isConversation(prompt))
    throw new SeecError("runtime.option", "stop strings end text: a prompt of ids is continued as ids, with no text to look in", {
      at: "stop",
      hint: "use generate() or stream() with a text prompt, or end on token ids (build --eos)",
    });
  return stops!;
}

/** Ids in, ids out: the prompt as given, the generation's end at --eos or the tokenizer's end tokens, no text. */
function tokenCodec(tokenizer: Tokenizer | undefined, prompt: readonly number[], eosIds?: readonly number[]): TextCodec {
  if (prompt.length === 0)
    throw new SeecError("runtime.prompt", "the prompt has no tokens: there is nothing to continue", { hint: "give at least one id (BOS)" });
  const ends =
    eosIds ??
    (tokenizer instanceof Llama2cTokenizer ? [tokenizer.bosId, tokenizer.eosId] : tokenizer instanceof HfTokenizer ? tokenizer.eosIds : []);
  return { prompt: [...prompt], stops: new Set(ends), push: () => "", end: () => "" };
}

/** A conversation as its chat template renders it, with the assistant's turn opened. */
function chatText(tokenizer: Tokenizer | undefined, messages: readonly ChatMessage[], chat: GenerateOptions["chat"]): string {
  if (!(tokenizer instanceof HfTokenizer || tokenizer instanceof Llama2cTokenizer))
    throw new SeecError("runtime.chat", "a conversation needs the artifact's chat template, which only a decoder's tokenizer carries", {
      at: "prompt",
      hint: "give the prompt as text",
    });
  return tokenizer.applyChatTemplate(messages, { ...chat, addGenerationPrompt: true });
}

/** `special`: the tokenizer adds its special tokens (BOS); a chat template's text has them written out already. */
function textCodec(
  tokenizer: Tokenizer | undefined,
  prompt: string,
  contextLength: number,
  eosIds?: readonly number[],
  special = true,
): TextCodec {
  if (tokenizer instanceof Llama2cTokenizer) {
    const tok = tokenizer;
    // Merging is quadratic in the prompt: one that cannot fit is refused before it is encoded.
    const fewest = tok.minTokens(prompt);
    if (fewest > contextLength)
      throw new SeecError("runtime.context", `the prompt is at least ${fewest} tokens; the context holds ${contextLength}`, {
        hint: "shorten the prompt",
      });
    const ids = special ? tok.encode(prompt, { bos: true }) : tok.encodeWritten(prompt);
    const text = new TextDecoder();
    let token = ids[ids.length - 1];
    return {
      prompt: ids,
      stops: new Set(eosIds ?? [tok.bosId, tok.eosId]),
      push(next) {
        const piece = text.decode(tok.pieceBytes(token, next), { stream: true });
        token = next;
        return piece;
      },
      end: () => text.decode(),
    };
  }
  if (tokenizer instanceof HfTokenizer) {
    // The post-processor's special tokens (Llama's BOS) open the prompt, as add_special_tokens=True does.
    const ids = tokenizer.encode(prompt, { addSpecialTokens: special });
    if (ids.length === 0)
      throw new SeecError("runtime.prompt", "the prompt is empty and this tokenizer adds no BOS: there is nothing to continue", {
        hint: "give a prompt",
      });
    const stream = tokenizer.textStream(ids);
    return { prompt: ids, stops: new Set(eosIds ?? tokenizer.eosIds), push: stream.push, end: stream.end };
  }
  throw new SeecError("runtime.family", "generation needs a decoder artifact with its tokenizer", {
    hint: tokenizer ? "an encoder embeds: use embed()" : "rebuild with --tokenizer",
  });
}
