import { Command, InvalidArgumentError } from "commander";
import { SeecError } from "../../runtime/errors.js";
import type { Model } from "../../runtime/model.js";
import { cosine } from "../eval/stsb.js";
import { MAX_THREADS } from "../../runtime/validate-manifest.js";
import { loadArtifact } from "../artifact.js";
import { integer, printJson, real, refuseIdleOptions, similarityTable } from "./options.js";

interface RunFlags {
  text?: string[];
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  /** --stop, repeated rather than variadic, so that `--stop . dir` leaves dir to be the artifact. */
  stop?: string[];
  threads?: number;
  json?: boolean;
  chat?: boolean;
  system?: string;
}

export function runCommand(): Command {
  return new Command("run")
    .summary("run an artifact: generate from a prompt, or embed texts")
    .description(
      "Load an artifact with its own runtime (index.mjs) and run it.\n" +
        "A decoder generates: it prints the prompt and its continuation as llama2.c's `run` does, streaming.\n" +
        "An encoder embeds each --text and prints their cosine-similarity matrix (--json: the vectors too).\n\n" +
        'Examples:\n  seec run out/stories --prompt "Once upon a time" --max-tokens 64 --temperature 0\n' +
        '  seec run out/stories --prompt "Once upon a time" --temperature 0 --stop "." --stop "!"\n' +
        '  seec run out/qwen --chat --system "Answer briefly." --prompt "What is a cello?"\n' +
        '  seec run out/use --text "A man plays the cello." --text "Someone is playing music."',
    )
    .argument("<dir>", "the artifact directory (from seec build)")
    .option("-x, --text <text...>", "texts to embed (encoders); repeat the flag or list several")
    .option("-p, --prompt <text>", "the prompt; empty starts from BOS alone", "")
    .option("-n, --max-tokens <n>", "new tokens to generate (stops early at BOS/EOS or the context's end)", integer(0), 256)
    .option("--temperature <t>", "0 = greedy (argmax); higher = more random", real(0, 100), 1)
    .option("--top-p <p>", "nucleus sampling threshold; 0 or 1 samples from all tokens", real(0, 1), 0.9)
    .option("--seed <n>", "random seed (llama2.c's generator: same seed, same text)", integer(0), 42)
    .option(
      "--stop <text>",
      "end the text where this appears, printing what came before it; repeat for several (a newline: --stop $'\\n')",
      (text: string, stops: string[] = []) => {
        if (text === "") throw new InvalidArgumentError("expected text to stop at, not an empty string");
        return [...stops, text];
      },
    )
    .option(
      "--threads <n>",
      "an artifact built with --threads: how many threads split its matmuls (default: the cores, at most the build's)",
      integer(1, MAX_THREADS),
    )
    .option(
      "--chat",
      "the prompt is a user's message: the artifact's chat template (tokenizer_config.json beside the tokenizer.json it was built with, or the GGUF file's) opens the assistant's turn, and only the reply is printed",
    )
    .option("--system <text>", "with --chat: a system message before the user's")
    .option("--json", "print the text with token counts and speeds as JSON instead of streaming it")
    .action(async (dir: string, flags: RunFlags, cmd: Command) => {
      const model = await loadArtifact(dir, { webgpu: true, threads: flags.threads });
      const { family } = model.manifest.model;
      if (family === "graph")
        throw new SeecError("usage.family", `${model.manifest.name} is an imported graph: named tensors in and out, no text`, {
          hint: "call model.run(feeds) from JavaScript (index.mjs); an ONNX encoder embeds texts when built with --tokenizer tokenizer.json --pooling mean|cls|none",
        });
      // Before anything is printed: seec run reads and writes text.
      if (!model.tokenizer)
        throw new SeecError("usage.tokenizer", `${model.manifest.name} was built without a tokenizer: it takes token ids, not text`, {
          hint: "rebuild it with --tokenizer, or give it ids from JavaScript (index.mjs)",
        });
      if (family === "encoder") {
        refuseIdleOptions(cmd, (key) => (DECODER_ONLY.includes(key) ? "is for decoders; this artifact is an encoder" : undefined));
        return embedTexts(model, flags);
      }
      if (flags.text)
        throw new SeecError("usage.text", "--text is for encoders; this artifact is a decoder", {
          at: "--text",
          hint: "give a decoder its prompt with --prompt",
        });
      if (flags.system !== undefined && !flags.chat)
        throw new SeecError("usage.chat", "--system is a chat's system message: it needs --chat", { at: "--system" });
      const prompt = flags.chat
        ? [...(flags.system !== undefined ? [{ role: "system", content: flags.system }] : []), { role: "user", content: flags.prompt }]
        : flags.prompt;
      // The model streams only its continuation; the prompt is echoed first, as llama2.c's run does (a
      // chat prints the reply alone), once the stream has taken it: a prompt it refuses prints nothing.
      let text = flags.chat ? "" : flags.prompt;
      let echoed = flags.json === true;
      const echo = (piece = "") => {
        if (!echoed) process.stdout.write(text);
        echoed = true;
        text += piece;
        if (!flags.json) process.stdout.write(piece);
      };
      const { maxTokens, temperature, topP, seed, stop } = flags;
      for await (const piece of model.stream(prompt, { maxTokens, temperature, topP, seed, stop })) echo(piece);
      echo();
      if (!flags.json) return void process.stdout.write("\n");
      const s = model.stats;
      printJson({
        text,
        backend: model.backend,
        threads: model.threads,
        ...s,
        decodeTokensPerSecond: s.generatedTokens > 1 ? (s.generatedTokens - 1) / s.decodeSeconds : null,
      });
    });
}

/** What generation reads, and an encoder would ignore. */
const DECODER_ONLY = ["prompt", "maxTokens", "temperature", "topP", "seed", "stop", "chat", "system"];

async function embedTexts(model: Model, flags: RunFlags): Promise<void> {
  const texts = flags.text ?? [];
  if (texts.length === 0)
    throw new SeecError("usage.text", "an encoder needs texts to embed", {
      at: "--text",
      hint: 'seec run <dir> --text "first" --text "second"',
    });
  const t0 = performance.now();
  const vectors = await model.embed(texts);
  const seconds = (performance.now() - t0) / 1000;
  const matrix = vectors.map((a) => vectors.map((b) => cosine(a, b)));
  if (flags.json)
    return printJson({
      texts,
      similarity: matrix,
      embeddings: vectors.map((v) => Array.from(v)),
      secondsPerText: seconds / texts.length,
      backend: model.backend,
      threads: model.threads,
    });
  const label = (t: string, i: number) => `${i + 1}. ${t.length > 60 ? `${t.slice(0, 57)}...` : t}`;
  process.stdout.write(`${[...texts.map(label), "", ...similarityTable(matrix)].join("\n")}\n`);
}
