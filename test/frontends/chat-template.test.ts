// The chat template a build finds beside a tokenizer.json (compiler/frontends/chat-template.ts):
// chat_template.jinja before tokenizer_config.json's chat_template; a list of named templates gives
// "default", and "tool_use" for conversations given tools, as apply_chat_template chooses; the
// special token strings as tokenizer_config.json writes them (a string or an AddedToken object).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readChatTemplate } from "../../compiler/frontends/chat-template.js";
import { ChatTemplate } from "../../runtime/chat/index.js";
import { tmpDir } from "../helpers/compile.js";

async function dirWith(files: Record<string, unknown>): Promise<string> {
  const dir = await tmpDir();
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  return join(dir, "tokenizer.json");
}

const USER = [{ role: "user", content: "hi" }];
const TOOLS = [{ type: "function", function: { name: "f" } }];

describe("the chat template beside tokenizer.json", () => {
  it("reads tokenizer_config.json's template and special tokens, strings or AddedToken objects", async () => {
    const file = await dirWith({
      "tokenizer_config.json": {
        chat_template: "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}{{ pad_token }}",
        bos_token: { content: "<s>", lstrip: false, special: true },
        eos_token: "</s>",
        pad_token: null,
        model_max_length: 2048,
      },
    });
    const { chat, note } = await readChatTemplate(file);
    expect(chat).toEqual({
      template: "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}{{ pad_token }}",
      tokens: { bos_token: "<s>", eos_token: "</s>" },
    });
    expect(note).toBe("chat template from tokenizer_config.json: generate() takes a conversation");
    expect(new ChatTemplate(chat!).apply(USER)).toBe("<s>hi</s>");
  });

  it("takes chat_template.jinja over tokenizer_config.json's, with that file's special tokens", async () => {
    const file = await dirWith({
      "tokenizer_config.json": { chat_template: "config", eos_token: "<|im_end|>" },
      "chat_template.jinja": "jinja {{ eos_token }}",
    });
    const { chat, note } = await readChatTemplate(file);
    expect(chat).toEqual({ template: "jinja {{ eos_token }}", tokens: { eos_token: "<|im_end|>" } });
    expect(note).toContain("chat_template.jinja");
  });

  it("carries default and tool_use of named templates, and uses tool_use when tools are given", async () => {
    const file = await dirWith({
      "tokenizer_config.json": {
        chat_template: [
          { name: "rag", template: "rag" },
          { name: "tool_use", template: "tools: {{ tools | length }}" },
          { name: "default", template: "plain {{ tools }}" },
        ],
      },
    });
    const { chat } = await readChatTemplate(file);
    expect(chat).toEqual({ template: "plain {{ tools }}", toolUse: "tools: {{ tools | length }}", tokens: {} });
    const t = new ChatTemplate(chat!);
    expect(t.apply(USER)).toBe("plain None");
    expect(t.apply(USER, { tools: TOOLS })).toBe("tools: 1");
  });

  it("carries nothing where there is no template, and refuses a malformed one, naming the file", async () => {
    expect(await readChatTemplate(await dirWith({}))).toEqual({});
    expect(await readChatTemplate(await dirWith({ "tokenizer_config.json": { eos_token: "</s>" } }))).toEqual({});
    const noDefault = await dirWith({ "tokenizer_config.json": { chat_template: [{ name: "tool_use", template: "x" }] } });
    await expect(readChatTemplate(noDefault)).rejects.toMatchObject({
      code: "input.chat_template",
      at: "chat_template",
      message: 'chat_template lists named templates but none named "default"',
      file: join(noDefault, "..", "tokenizer_config.json"),
    });
    const notJson = await dirWith({ "tokenizer_config.json": "{ nope" });
    await expect(readChatTemplate(notJson)).rejects.toMatchObject({
      code: "input.chat_template",
      message: expect.stringMatching(/^tokenizer_config.json is not JSON/),
    });
    const wrongType = await dirWith({ "tokenizer_config.json": { chat_template: 7 } });
    await expect(readChatTemplate(wrongType)).rejects.toMatchObject({ code: "input.chat_template", at: "chat_template" });
    const badToolUse = await dirWith({
      "tokenizer_config.json": {
        chat_template: [
          { name: "default", template: "ok" },
          { name: "tool_use", template: "{% if %}" },
        ],
      },
    });
    await expect(readChatTemplate(badToolUse)).rejects.toMatchObject({
      code: "input.chat_template",
      file: join(badToolUse, "..", "tokenizer_config.json"),
    });
  });
});

describe("the chat template beside tokenizer.json: what mutation testing found untested", () => {
  it("carries all seven special tokens apply_chat_template passes, and only string contents", async () => {
    const names = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];
    const file = await dirWith({
      "tokenizer_config.json": {
        chat_template: names.map((n) => `{{ ${n} }}`).join("|"),
        ...Object.fromEntries(names.map((n, i) => [n, i % 2 ? { content: `<${n}>` } : `<${n}>`])),
        additional_special_tokens: ["<extra>"],
      },
    });
    const { chat } = await readChatTemplate(file);
    expect(chat!.tokens).toStrictEqual(Object.fromEntries(names.map((n) => [n, `<${n}>`])));
    expect(new ChatTemplate(chat!).apply(USER)).toBe(names.map((n) => `<${n}>`).join("|"));
    const odd = await dirWith({
      "tokenizer_config.json": {
        chat_template: "t",
        bos_token: 7,
        eos_token: { content: 5 },
        unk_token: { lstrip: true },
        pad_token: ["<pad>"],
      },
    });
    expect((await readChatTemplate(odd)).chat).toStrictEqual({ template: "t", tokens: {} });
  });

  it("a list of named templates: entries that are not objects are skipped, a default that is not a string is none", async () => {
    const file = await dirWith({
      "tokenizer_config.json": { chat_template: [null, "default", 3, { name: "default", template: "d" }] },
    });
    expect((await readChatTemplate(file)).chat).toStrictEqual({ template: "d", tokens: {} });
    const notString = await dirWith({ "tokenizer_config.json": { chat_template: [{ name: "default", template: 5 }] } });
    await expect(readChatTemplate(notString)).rejects.toMatchObject({
      code: "input.chat_template",
      message: 'chat_template lists named templates but none named "default"',
      at: "chat_template",
      hint: "save the template to use as chat_template.jinja beside tokenizer.json",
      file: join(notString, "..", "tokenizer_config.json"),
    });
    const toolNotString = await dirWith({
      "tokenizer_config.json": {
        chat_template: [
          { name: "default", template: "d" },
          { name: "tool_use", template: 1 },
        ],
      },
    });
    expect((await readChatTemplate(toolNotString)).chat).toStrictEqual({ template: "d", tokens: {} });
  });

  it("a chat_template of null is none; one of another type and a config that is not an object are refused, naming the file", async () => {
    expect(await readChatTemplate(await dirWith({ "tokenizer_config.json": { chat_template: null, eos_token: "</s>" } }))).toStrictEqual(
      {},
    );
    const wrongType = await dirWith({ "tokenizer_config.json": { chat_template: true } });
    await expect(readChatTemplate(wrongType)).rejects.toMatchObject({
      code: "input.chat_template",
      message: "chat_template must be a string or a list of { name, template }, got boolean",
      at: "chat_template",
      file: join(wrongType, "..", "tokenizer_config.json"),
    });
    for (const config of ["[]", "null", '"text"', "7"]) {
      const file = await dirWith({ "tokenizer_config.json": config });
      await expect(readChatTemplate(file), config).rejects.toMatchObject({
        code: "input.chat_template",
        message: "tokenizer_config.json must hold an object",
        file: join(file, "..", "tokenizer_config.json"),
      });
    }
    const notJson = await dirWith({ "tokenizer_config.json": "{ nope" });
    await expect(readChatTemplate(notJson)).rejects.toMatchObject({ file: join(notJson, "..", "tokenizer_config.json") });
  });
});
