import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { SeecError } from "../../runtime/errors.js";
import { evalNll } from "../eval/nll.js";
import { evalStsb, readStsb } from "../eval/stsb.js";
import { loadArtifact } from "./artifact.js";
import { integer, printJson } from "./options.js";

interface EvalFlags {
  nll?: string;
  stsb?: string;
  limit?: number;
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
    .option("--json", "print nll, tokens, paragraphs and perplexity as JSON")
    .action(async (dir: string, flags: EvalFlags) => {
      if (!flags.nll && !flags.stsb) throw new SeecError("usage.eval", "say what to evaluate", { at: "--nll/--stsb", hint: "seec eval <dir> --nll text.txt, or --stsb dev.tsv" });
      const model = await loadArtifact(dir);
      if (flags.stsb) {
        const file = flags.stsb;
        const pairs = readStsb(await readText(file), file).slice(0, flags.limit);
        const tty = process.stderr.isTTY && !flags.json;
        const { cosines: _, ...result } = evalStsb((t) => model.embed(t), pairs, { onBatch: tty ? (d, n) => process.stderr.write(`\rseec: embedding pair ${d}/${n}${d === n ? "\n" : ""}`) : undefined });
        return flags.json ? printJson(result) : void process.stdout.write(`${result.spearman.toFixed(4)}\n`);
      }
      const text = await readText(flags.nll!);
      const tty = process.stderr.isTTY && !flags.json;
      const result = evalNll(model, text, { limit: flags.limit, onParagraph: tty ? (d, n) => process.stderr.write(`\rseec: scoring paragraph ${d}/${n}${d === n ? "\n" : ""}`) : undefined });
      if (flags.json) printJson(result);
      else process.stdout.write(`${result.nll.toFixed(4)}\n`);
    });
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new SeecError("io.not_found", `cannot read ${file}: ${(e as Error).message}`, { file });
  }
}
