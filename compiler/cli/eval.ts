import { Command } from "commander";
import { SeecError } from "../../runtime/errors.js";
import { loadArtifact } from "../artifact.js";
import { measureQuality, readQualityTask, type QualityFlags } from "../eval/quality.js";
import { integer, printJson } from "./options.js";

interface EvalFlags extends QualityFlags {
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command("eval")
    .summary("measure an artifact's quality on a text")
    .description(
      "--nll FILE: mean negative log-likelihood per token of a decoder over a text file (paragraphs separated by blank lines, BOS per paragraph, cut at the context).\n" +
        "--stsb TSV: Spearman correlation between an encoder's embedding cosines and STS-B's gold scores.\n" +
        "Prints one number; --json for details.\n\n" +
        "Examples:\n  seec eval out/stories --nll ../shared/eval/tinystories/val_a.txt\n  seec eval out/use --stsb ../shared/eval/stsb/dev.tsv",
    )
    .argument("<dir>", "the artifact directory")
    .option("--nll <textfile>", "score a text file")
    .option("--stsb <tsv>", "score sentence similarity (STS-B format)")
    .option("--limit <n>", "only the first n paragraphs or pairs", integer(1))
    .option("--json", "print the figures as JSON (STS-B: spearman, pairs, secondsPerSentence; NLL: nll, tokens, paragraphs, perplexity)")
    .action(async (dir: string, flags: EvalFlags) => {
      const task = await readQualityTask(flags);
      if (!task)
        throw new SeecError("usage.eval", "say what to evaluate", {
          at: "--nll/--stsb",
          hint: "seec eval <dir> --nll text.txt, or --stsb dev.tsv",
        });
      const model = await loadArtifact(dir);
      const tty = process.stderr.isTTY && !flags.json;
      const what = task.kind === "stsb" ? "embedding pair" : "scoring paragraph";
      const quality = await measureQuality(
        model,
        task,
        tty ? (d, n) => process.stderr.write(`\rseec: ${what} ${d}/${n}${d === n ? "\n" : ""}`) : undefined,
      );
      if (!Number.isFinite(quality.value))
        // NaN or infinite outputs: damaged weights or factors, never a score to report (or script on).
        throw new SeecError("runtime.nonfinite", `the model's outputs gave a score of ${quality.value}`, {
          file: dir,
          hint: "its weights or factors hold values that are not finite numbers: rebuild it from good files",
        });
      if (flags.json) printJson(quality.details);
      else process.stdout.write(`${quality.value.toFixed(4)}\n`);
    });
}
