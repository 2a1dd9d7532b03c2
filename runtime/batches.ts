/**
 * embed() on an encoder that packs texts (manifest.model.batch; compiler/passes/pack-texts.ts):
 * the texts' tokens end to end in one call's `tokens`, their counts in `lengths`, as many texts a
 * call as the module was planned for (`texts`, and `tokens` in all); its output has a row per text.
 */
import type { Feeds, Outputs } from "./feeds.js";
import { textTokens } from "./feeds.js";
import type { Manifest } from "./manifest.js";
import type { Tokenizer } from "./tokenizers/index.js";

/** One call's texts: its feeds, and each text's embedding from its outputs. */
export interface TextBatch {
  feeds: Feeds;
  vectors(outputs: Outputs): Float32Array[];
}

/** The texts in calls of as many as fit, in order; each is tokenized as its call is made. */
export function* textBatches(manifest: Manifest, tokenizer: Tokenizer | undefined, texts: readonly string[]): Generator<TextBatch> {
  const encode = textTokens(manifest, tokenizer);
  const { texts: most, tokens: room } = manifest.model.batch!;
  const output = manifest.outputs[0].name;
  let next = texts.length ? encode(texts[0]) : undefined;
  for (let i = 0; next;) {
    const ids: Int32Array[] = [];
    let total = 0;
    // A text is at most the model's maximum length, which the module has room for: every call takes one.
    while (next && (ids.length === 0 || (ids.length < most && total + next.length <= room))) {
      ids.push(next);
      total += next.length;
      next = ++i < texts.length ? encode(texts[i]) : undefined;
    }
    const tokens = new Int32Array(total);
    ids.reduce((at, t) => (tokens.set(t, at), at + t.length), 0);
    const width = manifest.outputs[0].shape.slice(1).reduce<number>((a, d) => a * (d as number), 1);
    yield {
      feeds: { tokens, lengths: Int32Array.from(ids, (t) => t.length) },
      vectors: (o) => ids.map((_, k) => (o[output] as Float32Array).slice(k * width, (k + 1) * width)),
    };
  }
}
