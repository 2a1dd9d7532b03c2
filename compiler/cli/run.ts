import { Command } from "commander";
import { loadArtifact } from "./artifact.js";
import { integer, printJson, real } from "./options.js";

interface RunFlags {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  json?: boolean;
}

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
    .option("--json", "print the text with token counts and speeds as JSON instead of streaming it")
    .action(async (dir: string, flags: RunFlags) => {
      const model = await loadArtifact(dir);
      let text = "";
      for (const piece of model.stream(flags.prompt, flags)) {
        text += piece;
        if (!flags.json) process.stdout.write(piece);
      }
      if (!flags.json) return void process.stdout.write("\n");
      const s = model.stats;
      printJson({ text, backend: model.backend, ...s, decodeTokensPerSecond: s.generatedTokens > 1 ? (s.generatedTokens - 1) / s.decodeSeconds : null });
    });
}
