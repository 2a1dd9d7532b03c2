/**
 * A decoder's end tokens from the configuration its exporter writes beside the model: Hugging Face's
 * generation_config.json (Optimum; `eos_token_id`, one id or a list) or ONNX Runtime GenAI's
 * genai_config.json (the model builder; `model.eos_token_id`). `seec build --eos` overrides both.
 */
import { dirname, join } from "node:path";
import { readOptionalText } from "../../util/optional-file.js";
import { SeecError } from "../../../runtime/errors.js";

/** The files looked for beside model.onnx, and where each keeps the end tokens. */
const CONFIGS: readonly { file: string; eos: (json: Record<string, unknown>) => unknown }[] = [
  { file: "generation_config.json", eos: (json) => json.eos_token_id },
  { file: "genai_config.json", eos: (json) => (json.model as Record<string, unknown> | undefined)?.eos_token_id },
];

export interface GenerationEos {
  eosIds: number[];
  /** The file they came from: its name, and its path. */
  name: string;
  file: string;
}

export async function generationEos(modelFile: string): Promise<GenerationEos | undefined> {
  for (const { file: name, eos } of CONFIGS) {
    const file = join(dirname(modelFile), name);
    const text = await readOptionalText(file, `${name} beside the model`, "move it away and give --eos");
    if (text === undefined) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new SeecError("input.json", `${name} beside the model is not valid JSON: ${(e as Error).message}`, {
        file,
        hint: "fix the file, or move it away and give --eos",
      });
    }
    const value = json && typeof json === "object" ? eos(json as Record<string, unknown>) : undefined;
    if (value === undefined || value === null) continue;
    const ids = Array.isArray(value) ? value : [value];
    if (ids.length === 0 || !ids.every((id) => Number.isSafeInteger(id) && (id as number) >= 0))
      throw new SeecError("input.json", `${name}: eos_token_id must be a token id or a list of them, not ${JSON.stringify(value)}`, {
        file,
        at: "eos_token_id",
        hint: "fix the file, or give --eos",
      });
    return { eosIds: ids as number[], name, file };
  }
  return undefined;
}
