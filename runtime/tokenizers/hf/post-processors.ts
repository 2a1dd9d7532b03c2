/**
 * tokenizer.json's post-processors, for one sequence: the special tokens around the ids (when
 * encode is asked for them). ByteLevel and RobertaProcessing's trimming change only offsets.
 */
import { type Json, malformed, unsupported } from "./config.js";

/** [ids before the text, ids after it]. */
export type Specials = [number[], number[]];

export function postProcessor(p: Json | null | undefined, file?: string): Specials {
  if (!p) return [[], []];
  switch (p.type) {
    case "ByteLevel":
      return [[], []];
    case "BertProcessing":
    case "RobertaProcessing":
      return [[pair(p.cls, "cls", file)], [pair(p.sep, "sep", file)]];
    case "TemplateProcessing":
      return template(p, file);
    case "Sequence": {
      if (!Array.isArray(p.processors)) malformed("post_processor.processors", "must be a list", file);
      // Each processor wraps what the ones before it made.
      return (p.processors as Json[]).reduce<Specials>(
        ([before, after], x) => {
          const [b, a] = postProcessor(x, file);
          return [
            [...b, ...before],
            [...after, ...a],
          ];
        },
        [[], []],
      );
    }
    default:
      return unsupported("post_processor", p.type, file);
  }
}

function pair(x: unknown, at: string, file?: string): number {
  if (!Array.isArray(x) || !Number.isSafeInteger(x[1])) return malformed(`post_processor.${at}`, "must be [token, id]", file);
  return x[1];
}

/** The single-sequence template: special tokens (by their ids in special_tokens) around the one sequence. */
function template(p: Json, file?: string): Specials {
  if (!Array.isArray(p.single)) malformed("post_processor.single", "must be a list", file);
  const out: Specials = [[], []];
  let seen = 0;
  for (const item of p.single as Json[]) {
    if (item.Sequence) seen++;
    else if (item.SpecialToken) {
      const ids = p.special_tokens?.[item.SpecialToken.id]?.ids;
      if (!Array.isArray(ids)) malformed("post_processor.special_tokens", `has no ids for ${JSON.stringify(item.SpecialToken.id)}`, file);
      out[seen > 0 ? 1 : 0].push(...ids);
    } else unsupported("template item", item, file);
  }
  if (seen !== 1) unsupported("template with sequences", seen, file);
  return out;
}
