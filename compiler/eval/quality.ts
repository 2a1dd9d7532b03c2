/**
 * A model's quality on a task, one home for what `--stsb` and `--nll` mean to `seec eval` and
 * `seec build`: STS-B Spearman for an encoder, NLL per token over a text for a decoder.
 * The task is read and checked before any work starts, so a missing file or a task the model
 * cannot do fails at once, not after a build.
 */
import { SeecError } from "../../runtime/errors.js";
import type { Model } from "../../runtime/model.js";
import { readTextInput } from "../frontends/load.js";
import { evalNll, paragraphs, type NllResult } from "./nll.js";
import { evalStsb, readStsb, type StsPair, type StsResult } from "./stsb.js";

export type QualityTask = { kind: "stsb"; file: string; pairs: StsPair[] } | { kind: "nll"; file: string; text: string; limit?: number };

export interface QualityFlags {
  stsb?: string;
  nll?: string;
  /** Only the first n sentence pairs or paragraphs. */
  limit?: number;
}

/** The task the flags name, its file read and parsed; undefined where they name none. */
export async function readQualityTask(flags: QualityFlags): Promise<QualityTask | undefined> {
  if (flags.stsb && flags.nll)
    throw new SeecError("usage.eval", "--stsb scores an encoder and --nll a decoder: give one of them", { at: "--stsb/--nll" });
  if (flags.stsb) {
    const pairs = readStsb(await readTextInput(flags.stsb, "STS-B file"), flags.stsb).slice(0, flags.limit);
    // A rank correlation needs gold scores to rank: one pair, or pairs all scored alike, have none.
    if (new Set(pairs.map((p) => p.score)).size < 2)
      throw new SeecError(
        "input.stsb",
        `${pairs.length} sentence pair${pairs.length === 1 ? "" : "s"}${flags.limit !== undefined ? ` (--limit ${flags.limit})` : ""}${pairs.length > 1 ? ", all with the same gold score," : ""} cannot be ranked: Spearman's correlation needs at least two different gold scores`,
        { file: flags.stsb, hint: flags.limit !== undefined ? "raise --limit" : "score a file of pairs with different gold scores" },
      );
    return { kind: "stsb", file: flags.stsb, pairs };
  }
  if (flags.nll) {
    const text = await readTextInput(flags.nll, "text to score");
    if (paragraphs(text).length === 0)
      throw new SeecError("input.eval_text", "the text to score holds no paragraph (it is empty, or blank lines only)", {
        file: flags.nll,
        hint: "give --nll a text file: paragraphs separated by blank lines",
      });
    return { kind: "nll", file: flags.nll, text, limit: flags.limit };
  }
  return undefined;
}

/** Fails, naming the model, where it cannot do the task: STS-B needs an encoder, NLL a decoder, both their tokenizer. */
export function checkQualityTask(task: QualityTask, model: { name: string; family: string; tokenizer: boolean }): void {
  const wanted = task.kind === "stsb" ? "encoder" : "decoder";
  const flag = `--${task.kind}`;
  if (model.family !== wanted) {
    const what =
      ({ encoder: "an encoder", decoder: "a decoder", graph: "a graph with no model family" } as Record<string, string>)[model.family] ??
      model.family;
    throw new SeecError(
      "usage.eval_family",
      `${flag} scores ${wanted === "encoder" ? "an encoder's embeddings" : "a decoder's next tokens"}, and ${model.name} is ${what}`,
      {
        at: flag,
        hint:
          model.family === "graph"
            ? "an ONNX encoder embeds text when built with --tokenizer tokenizer.json --pooling mean|cls|none"
            : `use --${task.kind === "stsb" ? "nll" : "stsb"}`,
      },
    );
  }
  if (!model.tokenizer)
    throw new SeecError("usage.tokenizer", `${flag} reads text, and ${model.name} has no tokenizer`, {
      at: flag,
      hint: "build it with --tokenizer",
    });
}

export interface Quality {
  /** "stsb-spearman" (higher is better) or "nll" (nats per token, lower is better). */
  metric: "stsb-spearman" | "nll";
  value: number;
  /** What was scored: sentence pairs, or tokens. */
  count: number;
  unit: "pairs" | "tokens";
  /** The evaluation's own figures (seec eval --json prints them). */
  details: StsResult | NllResult;
}

/** Scores a loaded artifact; `onProgress` hears how many pairs or paragraphs are done. */
export async function measureQuality(
  model: Model,
  task: QualityTask,
  onProgress?: (done: number, total: number) => void,
): Promise<Quality> {
  checkQualityTask(task, { name: model.manifest.name, family: model.manifest.model.family, tokenizer: model.tokenizer !== undefined });
  if (task.kind === "stsb") {
    const { cosines: _, ...details } = await evalStsb((t) => model.embed(t), task.pairs, { onBatch: onProgress });
    return { metric: "stsb-spearman", value: details.spearman, count: details.pairs, unit: "pairs", details };
  }
  const details = await evalNll(model, task.text, { limit: task.limit, onParagraph: onProgress, file: task.file });
  return { metric: "nll", value: details.nll, count: details.tokens, unit: "tokens", details };
}

/** "STS-B Spearman 0.6668" or "NLL 1.5543". */
export function formatQuality(metric: Quality["metric"], value: number): string {
  return `${metric === "stsb-spearman" ? "STS-B Spearman" : "NLL"} ${value.toFixed(4)}`;
}
