// A GGUF file's chat template (tokenizer.chat_template): written by `seec export-gguf
// --chat-template`, carried into the artifact, rendered for generate() on a conversation, and the
// rendered text encoded with its special tokens parsed (the prompt llama.cpp builds from it:
// test/browser/wllama-chat.test.ts checks the two agree). Skips where ../shared/models/llama2c is absent.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readGguf } from "../../compiler/frontends/gguf.js";
import { llamaToGguf } from "../../compiler/frontends/gguf/export-llama.js";
import type { GgufEntry } from "../../compiler/frontends/gguf/write.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import type { Model } from "../../runtime/model.js";
import { Llama2cTokenizer, type Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import { createTokenizer } from "../../runtime/tokenizers/index.js";
import { LLAMA2_CHAT } from "../helpers/chat-templates.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

const MESSAGES = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Tell me about a cat." },
  { role: "assistant", content: "Once upon a time, there was a cat." },
  { role: "user", content: "And then?" },
];
const RENDERED =
  "<s>[INST] <<SYS>>\nYou tell short stories.\n<</SYS>>\n\nTell me about a cat. [/INST] Once upon a time, there was a cat. </s><s>[INST] And then? [/INST]";

describe.skipIf(!LLAMA2C)("a GGUF file's chat template (stories260K through seec export-gguf --chat-template)", () => {
  const S = LLAMA2C!;
  let work: string, chat: Model, plain: Model;
  beforeAll(async () => {
    work = await tmpDir();
    writeFileSync(join(work, "chat.jinja"), LLAMA2_CHAT);
    for (const [name, extra] of [
      ["chat", ["--chat-template", join(work, "chat.jinja")]],
      ["plain", []],
    ] as const) {
      const gguf = join(work, `${name}.gguf`);
      expect((await seec("export-gguf", S.model, "--tokenizer", S.tokenizer, ...extra, "-o", gguf)).code).toBe(0);
      const r = await seec("build", gguf, "-o", join(work, name));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.includes("chat template from the GGUF file (tokenizer.chat_template)"), name).toBe(name === "chat");
    }
    [chat, plain] = await Promise.all([loadWasm(join(work, "chat")), loadWasm(join(work, "plain"))]);
  }, 120_000);

  it("renders the conversation with the GGUF's special tokens as bos_token and eos_token", () => {
    const tokenizer = chat.tokenizer as Llama2cTokenizer;
    expect(tokenizer.hasChatTemplate).toBe(true);
    expect(tokenizer.applyChatTemplate(MESSAGES, { addGenerationPrompt: true })).toBe(RENDERED);
  });

  it("encodes the rendered text with <s> and </s> as their ids, and each run between them as llama2.c encodes it", () => {
    const tokenizer = chat.tokenizer as Llama2cTokenizer;
    const ids = tokenizer.encodeWritten(RENDERED);
    const runs = RENDERED.split(/(<s>|<\/s>)/).filter(Boolean);
    expect(runs.length).toBe(5);
    const expected = runs.flatMap((run) =>
      run === "<s>" ? [tokenizer.bosId] : run === "</s>" ? [tokenizer.eosId] : tokenizer.encode(run, { bos: false }),
    );
    expect(ids).toEqual(expected);
    expect(ids.filter((id) => id === tokenizer.bosId).length).toBe(2);
    expect(ids.filter((id) => id === tokenizer.eosId).length).toBe(1);
    // Each run keeps SentencePiece's leading space: "[INST]" right after <s> is " [INST]".
    expect(tokenizer.decode(ids.slice(1, 4), 0).startsWith(" [")).toBe(true);
  });

  it("generate() on the conversation continues exactly those ids, and stream() adds up to it", async () => {
    const tokenizer = chat.tokenizer as Llama2cTokenizer;
    const ids = tokenizer.encodeWritten(RENDERED);
    const generated = await chat.generateTokens(ids, { maxTokens: 24, temperature: 0 });
    const reply = await chat.generate(MESSAGES, { maxTokens: 24, temperature: 0 });
    expect(chat.stats.promptTokens).toBe(ids.length);
    expect(reply).toBe(tokenizer.decode(generated, ids[ids.length - 1]));
    expect(reply.length).toBeGreaterThan(10);
    const pieces: string[] = [];
    for await (const piece of chat.stream(MESSAGES, { maxTokens: 24, temperature: 0 })) pieces.push(piece);
    expect(pieces.join("")).toBe(reply);
  }, 60_000);

  it("an artifact without a template refuses a conversation by name, and its runtime carries no template engine", async () => {
    const e = await rejectsSeec(() => plain.generate(MESSAGES, { maxTokens: 4 }));
    expect(e.code).toBe("runtime.chat");
    expect(e.hint).toContain("give the prompt as text");
    const size = (name: string) => statSync(join(work, name, "index.mjs")).size;
    expect(size("chat") - size("plain")).toBeGreaterThan(20_000);
    expect(JSON.parse(readFileSync(join(work, "plain", "tokenizer.json"), "utf8")).chat).toBeUndefined();
  });

  it("export-gguf refuses a template that does not parse, naming the file and line, and writes nothing", async () => {
    writeFileSync(join(work, "bad.jinja"), "{% for m in messages %}\n{{ m.content }\n{% endfor %}");
    const out = join(work, "bad.gguf");
    const r = await seec("export-gguf", S.model, "--tokenizer", S.tokenizer, "--chat-template", join(work, "bad.jinja"), "-o", out);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("input.chat_template");
    expect(r.stderr).toContain("bad.jinja");
    expect(() => statSync(out)).toThrow();
  });

  it("reads the named tool_use template beside the default one, and refuses a template that is not a string, naming the key", () => {
    const { config, weights } = readLlama2cCheckpoint(new Uint8Array(readFileSync(S.model)), S.model);
    const tokenizer = readLlama2cTokenizer(new Uint8Array(readFileSync(S.tokenizer)), S.tokenizer, config.vocabSize);
    const gguf = (chatTemplate: string | undefined, metadata: [string, GgufEntry][]) =>
      llamaToGguf(config, weights, tokenizer, { name: "t", type: "f32", chatTemplate, metadata }).bytes;
    const tools = "{{ bos_token }}tools: {{ tools | length }}";
    const both = readGguf(gguf("{{ bos_token }}plain", [["tokenizer.chat_template.tool_use", { type: "string", value: tools }]]), "t.gguf");
    const spec = both.tokenizer!;
    expect(spec.chat).toEqual({
      template: "{{ bos_token }}plain",
      toolUse: tools,
      tokens: { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" },
    });
    const t = new Llama2cTokenizer(spec);
    expect(t.applyChatTemplate([{ role: "user", content: "x" }])).toBe("<s>plain");
    expect(t.applyChatTemplate([{ role: "user", content: "x" }], { tools: [{}, {}] })).toBe("<s>tools: 2");
    for (const [key, entry] of [
      ["tokenizer.chat_template", { type: "u32", value: 7 }],
      ["tokenizer.chat_template.tool_use", { type: "u32", value: 7 }],
    ] as [string, GgufEntry][]) {
      const e = catchSeec(() => readGguf(gguf(key === "tokenizer.chat_template" ? undefined : "x", [[key, entry]]), "t.gguf"));
      expect([e.code, e.at, e.message]).toEqual(["input.gguf", key, "is not a string"]);
    }
  });

  it("a tokenizer spec's specials must be ids of its vocabulary", () => {
    const spec = JSON.parse(readFileSync(join(work, "chat", "tokenizer.json"), "utf8")) as Llama2cTokenizerSpec;
    expect(spec.specials).toEqual([0, 1, 2]); // <unk>, <s>, </s>: what tok512's GGUF types mark unknown and control
    const e = catchSeec(() => createTokenizer({ ...spec, specials: [0, spec.pieces.length] }));
    expect(e.code).toBe("input.tokenizer");
    expect(e.message).toContain("specials[1]");
  });
});
