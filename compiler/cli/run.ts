import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { SeecError } from "../../runtime/errors.js";
import { integer, printJson, real } from "./options.js";

interface RunFlags {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  json?: boolean;
}

type ArtifactModule = typeof import("../../runtime/index.js");

export function runCommand(): Command {
  return new Command("run")
    .summary("run an artifact: generate text from a prompt")
    .description(
      "Load an artifact with its own runtime (index.mjs) and generate text. Prints the prompt and its\n" +
        "continuation as llama2.c's `run` does, streaming as tokens come, and nothing else.\n\n" +
        "Example:\n  seec run out/stories --prompt \"Once upon a time\" --max-tokens 64 --temperature 0",
    )
    .argument("<dir>", "the artifact directory (from seec build)")
    .option("-p, --prompt <text>", "the prompt; empty starts from BOS alone", "")
    .option("-n, --max-tokens <n>", "new tokens to generate (stops early at BOS/EOS or the context's end)", integer(0), 256)
    .option("--temperature <t>", "0 = greedy (argmax); higher = more random", real(0, 100), 1)
    .option("--top-p <p>", "nucleus sampling threshold; 0 or 1 samples from all tokens", real(0, 1), 0.9)
    .option("--seed <n>", "random seed (llama2.c's generator: same seed, same text)", integer(0), 42)
    .option("--json", "print {text, tokens, seconds, tokensPerSecond} instead of streaming text")
    .action(async (dir: string, flags: RunFlags) => {
      const { load } = await importArtifact(dir);
      const model = await load(resolve(dir));
      const t0 = performance.now();
      let text = "";
      let pieces = 0;
      for (const piece of model.stream(flags.prompt, flags)) {
        text += piece;
        pieces++;
        if (!flags.json) process.stdout.write(piece);
      }
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) printJson({ text, pieces, seconds, piecesPerSecond: pieces / seconds, backend: model.backend });
      else process.stdout.write("\n");
    });
}

/** The artifact's own bundled runtime, so `seec run` exercises exactly what ships. */
async function importArtifact(dir: string): Promise<ArtifactModule> {
  const url = pathToFileURL(resolve(dir, "index.mjs")).href;
  try {
    return (await import(url)) as ArtifactModule;
  } catch (e) {
    throw new SeecError("io.read", `cannot load the artifact's runtime: ${(e as Error).message}`, { file: dir, hint: "is this a directory written by seec build?" });
  }
}
