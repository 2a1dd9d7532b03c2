/**
 * The generation loop, written once for every engine: a generator that asks for logits (a "step":
 * tokens at positions pos..) and hands out text pieces, so a synchronous engine (wasm) and an
 * asynchronous one (WebGPU) drive the same loop. Text comes out as llama2.c's `run` prints it,
 * without the prompt: callers get only what the model wrote.
 */
import { SeecError } from "./errors.js";
import { checkOption, Sampler, type SampleOptions } from "./sampler.js";
import type { Tokenizer } from "./tokenizers/index.js";
import { Llama2cTokenizer } from "./tokenizers/llama2c-bpe.js";

export interface GenerateOptions extends SampleOptions {
  /** New tokens to generate after the prompt (default 256); generation also stops at BOS/EOS or the context's end. */
  maxTokens?: number;
  /** Stops the generation: the call rejects with the signal's reason (an AbortError for a plain abort()). */
  signal?: AbortSignal;
}

/** What the last stream()/generate() call did. */
export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  prefillSeconds: number;
  decodeSeconds: number;
}

export type GenerationEvent = { step: readonly number[]; pos: number } | { piece: string };

/**
 * Yields steps to run (answer each at once with next(logits)) and pieces of text; keeps `stats`,
 * timing each step from its request to its answer.
 */
export function* generation(
  tokenizer: Tokenizer | undefined,
  prompt: string,
  opts: GenerateOptions,
  contextLength: number,
  stats: GenerationStats,
): Generator<GenerationEvent, void, Float32Array> {
  if (!(tokenizer instanceof Llama2cTokenizer))
    throw new SeecError("runtime.family", "generation needs a decoder artifact with its tokenizer", {
      hint: tokenizer ? "an encoder embeds: use embed()" : "rebuild with --tokenizer",
    });
  const tok = tokenizer;
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
  // Merging is quadratic in the prompt: one that cannot fit is refused before it is encoded.
  const fewest = tok.minTokens(prompt);
  if (fewest > contextLength)
    throw new SeecError("runtime.context", `the prompt is at least ${fewest} tokens; the context holds ${contextLength}`, {
      hint: "shorten the prompt",
    });
  const prompted = tok.encode(prompt, { bos: true });
  if (prompted.length > contextLength)
    throw new SeecError("runtime.context", `the prompt is ${prompted.length} tokens; the context holds ${contextLength}`, {
      hint: "shorten the prompt",
    });
  const text = new TextDecoder();
  Object.assign(stats, { promptTokens: prompted.length, generatedTokens: 0, prefillSeconds: 0, decodeSeconds: 0 });
  // The prompt's pieces are not handed out; it ends on a character boundary, so the decoder starts clean.
  let logits = yield* step(prompted, 0, "prefillSeconds");
  let token = prompted[prompted.length - 1];
  for (let n = 0, pos = prompted.length; n < maxTokens; n++, pos++) {
    const next = sampler.sample(logits);
    if (next === tok.bosId || next === tok.eosId) break;
    stats.generatedTokens++;
    yield { piece: text.decode(tok.pieceBytes(token, next), { stream: true }) };
    token = next;
    if (n + 1 === maxTokens || pos >= contextLength) break;
    logits = yield* step([token], pos, "decodeSeconds");
  }
  const rest = text.decode();
  if (rest) yield { piece: rest };
}
