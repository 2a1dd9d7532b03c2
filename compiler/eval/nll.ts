/**
 * Mean negative log-likelihood per token of a decoder artifact over a text: paragraphs are
 * separated by blank lines, each starts with BOS and is cut at the model's context; every token
 * after BOS is scored from the logits of the tokens before it.
 */
import type { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { SeecError } from "../../runtime/errors.js";
import type { Model } from "../../runtime/model.js";

export interface NllResult {
  nll: number;
  tokens: number;
  paragraphs: number;
  /** exp(nll) */
  perplexity: number;
}

export function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean);
}

export async function evalNll(
  model: Model,
  text: string,
  opts: { limit?: number; onParagraph?: (done: number, total: number) => void; file?: string } = {},
): Promise<NllResult> {
  // By the manifest, not instanceof: the artifact's index.mjs bundles its own tokenizer classes.
  if (!model.tokenizer || model.manifest.tokenizer?.type !== "llama2c-bpe")
    throw new SeecError("usage.eval", "--nll needs a decoder artifact with its llama2.c tokenizer");
  const tok = model.tokenizer as Llama2cTokenizer;
  const paras = paragraphs(text).slice(0, opts.limit);
  let total = 0,
    count = 0;
  for (const [i, p] of paras.entries()) {
    const ids = tok.encode(p, { bos: true }).slice(0, model.contextLength);
    for (let pos = 0; pos + 1 < ids.length; pos++) {
      total -= logSoftmaxAt(await model.step([ids[pos]], pos), ids[pos + 1]);
      count++;
    }
    opts.onParagraph?.(i + 1, paras.length);
  }
  if (count === 0)
    throw new SeecError("input.eval_text", "the text has no token to score (each paragraph is one token or none)", { file: opts.file });
  return { nll: total / count, tokens: count, paragraphs: paras.length, perplexity: Math.exp(total / count) };
}

function logSoftmaxAt(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  return logits[target] - max - Math.log(sum);
}
