import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { SeecError } from "../../runtime/errors.js";
import { evalNll } from "../eval/nll.js";
import { loadArtifact } from "./artifact.js";
import { integer, printJson } from "./options.js";

interface EvalFlags {
  nll?: string;
  limit?: number;
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command("eval")
    .summary("measure an artifact's quality on a text")
    .description(
      "--nll FILE: mean negative log-likelihood per token of a decoder over a text file (paragraphs separated by\n" +
        "blank lines, BOS per paragraph, cut at the context). Prints one number; --json for details.\n\n" +
        "Example:\n  seec eval out/stories --nll ../shared/eval/tinystories/val_a.txt",
    )
    .argument("<dir>", "the artifact directory")
    .option("--nll <textfile>", "score a text file")
    .option("--limit <n>", "only the first n paragraphs", integer(1))
    .option("--json", "print nll, tokens, paragraphs and perplexity as JSON")
    .action(async (dir: string, flags: EvalFlags) => {
      if (!flags.nll) throw new SeecError("usage.eval", "say what to evaluate", { at: "--nll", hint: "seec eval <dir> --nll text.txt" });
      const model = await loadArtifact(dir);
      let text: string;
      try {
        text = await readFile(flags.nll, "utf8");
      } catch (e) {
        throw new SeecError("io.not_found", `cannot read the text: ${(e as Error).message}`, { file: flags.nll });
      }
      const tty = process.stderr.isTTY && !flags.json;
      const result = evalNll(model, text, { limit: flags.limit, onParagraph: tty ? (d, n) => process.stderr.write(`\rseec: scoring paragraph ${d}/${n}${d === n ? "\n" : ""}`) : undefined });
      if (flags.json) printJson(result);
      else process.stdout.write(`${result.nll.toFixed(4)}\n`);
    });
}
