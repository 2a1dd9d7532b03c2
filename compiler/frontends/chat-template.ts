/**
 * The chat template saved beside a Hugging Face tokenizer.json, carried into the artifact for
 * generate() on a conversation: chat_template.jinja (how recent transformers versions save it) or else tokenizer_config.json's chat_template (one string, or named templates:
 * "default", and "tool_use" for a conversation given tools), with the special token strings
 * tokenizer_config.json names (bos_token, eos_token, ...), which templates print.
 */
import { dirname, join } from "node:path";
import { type ChatSpec, ChatTemplate } from "../../runtime/chat/index.js";
import { SeecError } from "../../runtime/errors.js";
import { readOptionalText } from "../util/optional-file.js";

/** The special tokens apply_chat_template passes to a template (its special_tokens_map). */
const SPECIAL_TOKENS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

export async function readChatTemplate(tokenizerFile: string): Promise<{ chat?: ChatSpec; note?: string }> {
  const dir = dirname(tokenizerFile);
  const configFile = join(dir, "tokenizer_config.json");
  const jinjaFile = join(dir, "chat_template.jinja");
  const configText = await readOptionalText(configFile, configFile);
  let config: Record<string, unknown> = {};
  if (configText !== undefined) {
    try {
      config = JSON.parse(configText);
    } catch (e) {
      throw new SeecError("input.chat_template", `tokenizer_config.json is not JSON: ${(e as Error).message}`, { file: configFile });
    }
    if (typeof config !== "object" || config === null || Array.isArray(config))
      throw new SeecError("input.chat_template", "tokenizer_config.json must hold an object", { file: configFile });
  }
  const jinja = await readOptionalText(jinjaFile, jinjaFile);
  const named = jinja !== undefined ? { template: jinja } : configTemplate(config.chat_template, configFile);
  const file = jinja !== undefined ? jinjaFile : configFile;
  if (named === undefined) return {};
  const tokens: Record<string, string> = {};
  for (const key of SPECIAL_TOKENS) {
    const v = config[key] as unknown;
    const content = typeof v === "string" ? v : typeof v === "object" && v !== null ? (v as { content?: unknown }).content : undefined;
    if (typeof content === "string") tokens[key] = content;
  }
  const chat: ChatSpec = { ...named, tokens };
  new ChatTemplate(chat, file);
  return {
    chat,
    note: `chat template from ${file === jinjaFile ? "chat_template.jinja" : "tokenizer_config.json"}: generate() takes a conversation`,
  };
}

/**
 * tokenizer_config.json's chat_template: a string, or a list of { name, template } of which
 * apply_chat_template uses "default", and "tool_use" when tools are given (the others, such as
 * "rag", are not carried).
 */
function configTemplate(value: unknown, file: string): { template: string; toolUse?: string } | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return { template: value };
  if (Array.isArray(value)) {
    const named = (name: string) => {
      const t = value.find((t) => typeof t === "object" && t !== null && t.name === name)?.template;
      return typeof t === "string" ? t : undefined;
    };
    const [template, toolUse] = [named("default"), named("tool_use")];
    if (template !== undefined) return { template, ...(toolUse !== undefined ? { toolUse } : {}) };
    throw new SeecError("input.chat_template", 'chat_template lists named templates but none named "default"', {
      file,
      at: "chat_template",
      hint: "save the template to use as chat_template.jinja beside tokenizer.json",
    });
  }
  throw new SeecError("input.chat_template", `chat_template must be a string or a list of { name, template }, got ${typeof value}`, {
    file,
    at: "chat_template",
  });
}
