import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { load } from "../../runtime/index.js";
import { SeecError } from "../../runtime/errors.js";
import { build } from "../build.js";
import { formatBytes, progress } from "./options.js";

/** The shared data folder beside the project, where the llama2.c demo model lives. */
function sharedModels(): string {
  return resolve(process.env.SEEC_SHARED ?? resolve(process.cwd(), "../shared"), "models/llama2c");
}

export function demoCommand(): Command {
  return new Command("demo")
    .summary("build and run the demo model, to see seec work end to end")
    .description(
      "Build llama2.c's stories260K (from ../shared/models/llama2c, or $SEEC_SHARED) for wasm-simd into\n" +
        "out/demo, then generate a story greedily and report the artifact's bytes and the speed.",
    )
    .option("-o, --out <dir>", "where to write the artifact", "out/demo")
    .option("-p, --prompt <text>", "the story's start", "Once upon a time")
    .action(async (flags: { out: string; prompt: string }) => {
      const dir = sharedModels();
      const model = join(dir, "stories260K.bin");
      if (!existsSync(model))
        throw new SeecError("io.not_found", "the demo model stories260K.bin is not there", { file: model, hint: "set SEEC_SHARED to the shared data folder" });
      const result = await build({ model, tokenizer: join(dir, "tok512.bin"), target: "wasm-simd", out: flags.out, command: "seec demo", progress: progress(true) });
      const m = await load(resolve(flags.out));
      const text = m.generate(flags.prompt, { maxTokens: 200, temperature: 0 });
      const s = m.stats;
      const bytes = (f: string) => formatBytes(result.manifest.files[f].bytes);
      process.stdout.write(
        `${text}\n\n` +
          `artifact ${flags.out}: model.wasm ${bytes("model.wasm")}, index.mjs ${bytes("index.mjs")}, weights.bin ${bytes("weights.bin")}\n` +
          `built in ${Object.values(result.seconds).reduce((a, b) => a + b, 0).toFixed(2)} s; ${s.generatedTokens} tokens at ${((s.generatedTokens - 1) / s.decodeSeconds).toFixed(0)} tokens/s on ${m.backend}\n`,
      );
    });
}
