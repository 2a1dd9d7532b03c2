import { basename } from "node:path";
import { Command, Option } from "commander";
import { ChatTemplate } from "../../runtime/chat/index.js";
import { SeecError } from "../../runtime/errors.js";
import { readLlama2cCheckpoint } from "../frontends/llama2c.js";
import { readLlama2cTokenizer } from "../frontends/llama2c-tokenizer.js";
import { llamaToGguf, type GgufWeightType } from "../frontends/gguf/export-llama.js";
import { isGguf, readInput, readTextInput } from "../frontends/load.js";
import { checkFileOutput, writeFileAtomic } from "../output.js";
import { formatBytes } from "../util/units.js";
import { printJson } from "./options.js";

interface ExportGgufFlags {
  tokenizer: string;
  out: string;
  type: GgufWeightType;
  chatTemplate?: string;
  json?: boolean;
}

export function exportGgufCommand(): Command {
  return new Command("export-gguf")
    .summary("write a llama2.c model as GGUF, for llama.cpp and wllama")
    .description(
      "Write a llama2.c checkpoint and its tokenizer as a GGUF version-3 file of the llama architecture, as llama.cpp's converters write it, " +
        "so llama.cpp, wllama and seec can run the same model. Norms stay F32; with q8_0 or q4_0, matrices whose rows are not a multiple " +
        "of 32 values are written as F16 (llama.cpp does the same).\n\n" +
        "Example:\n  seec export-gguf stories260K.bin --tokenizer tok512.bin --type q8_0 -o stories260K.q8_0.gguf",
    )
    .argument("<model>", "the llama2.c checkpoint (.bin)")
    .requiredOption("--tokenizer <file>", "its llama2.c tokenizer (tokenizer.bin); required")
    .addOption(new Option("--type <type>", "the weights' type").choices(["f32", "f16", "q8_0", "q4_0"]).default("f32"))
    .option(
      "--chat-template <file>",
      "a Jinja chat template (as chat_template.jinja), written as tokenizer.chat_template: seec's and llama.cpp's builds then take a conversation",
    )
    .option("-o, --out <file>", "the GGUF file to write", "model.gguf")
    .option("--json", "print what was written as JSON")
    .action(async (model: string, flags: ExportGgufFlags) => {
      const inputs = [model, flags.tokenizer, ...(flags.chatTemplate ? [flags.chatTemplate] : [])];
      await checkFileOutput(flags.out, inputs);
      const chatTemplate = flags.chatTemplate
        ? chatTemplateFile(await readTextInput(flags.chatTemplate, "chat template"), flags.chatTemplate)
        : undefined;
      const checkpoint = await readInput(model, "model");
      if (isGguf(checkpoint))
        throw new SeecError("usage.model", "this is a GGUF file already; export-gguf writes GGUF from a llama2.c checkpoint", {
          file: model,
          hint: `seec build ${model} takes it as it is`,
        });
      const { config, weights } = readLlama2cCheckpoint(checkpoint, model);
      const tokenizer = readLlama2cTokenizer(await readInput(flags.tokenizer, "tokenizer"), flags.tokenizer, config.vocabSize);
      const name = basename(model).replace(/\.[^.]*$/, "");
      const { bytes, fallbacks } = llamaToGguf(config, weights, tokenizer, { name, type: flags.type, chatTemplate });
      // Written beside the target and renamed into place: never a half-written file.
      await writeFileAtomic(flags.out, bytes);
      if (flags.json) printJson({ out: flags.out, bytes: bytes.byteLength, type: flags.type, f16Fallbacks: fallbacks });
      else {
        process.stdout.write(`wrote ${flags.out} (${formatBytes(bytes.byteLength)}): ${name}, llama architecture, ${flags.type}\n`);
        if (fallbacks.length)
          process.stdout.write(`  ${fallbacks.length} matrices as F16 (rows not a multiple of 32): ${fallbacks.join(", ")}\n`);
      }
    });
}

/** A chat template file's text, checked as seec's builds will read it (input.chat_template at its line). */
function chatTemplateFile(template: string, file: string): string {
  new ChatTemplate({ template, tokens: {} }, file);
  return template;
}
