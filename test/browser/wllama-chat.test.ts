// A GGUF file's chat template, against llama.cpp: stories260K exported by `seec export-gguf
// --chat-template` with Meta's Llama-2-chat template, then a conversation (system prompt, a turn
// answered, a new question) given to wllama's createChatCompletion (llama.cpp in wasm, headless
// Chromium: it renders the file's template and tokenizes the text with its special tokens parsed)
// and to the artifact seec builds from the same file. Greedy, both: the prompt must be the same
// number of tokens and the reply the same text, character for character. Skips, saying why, where Chromium, wllama or the
// shared model is absent.
import { cpSync, existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { HAS_CHROMIUM, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";
import { LLAMA2_CHAT } from "../helpers/chat-templates.js";

const WLLAMA = (() => {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@wllama/wllama/package.json")), "esm");
  } catch {
    return undefined;
  }
})();

const MESSAGES = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Tell me about a cat." },
  { role: "assistant", content: "Once upon a time, there was a cat." },
  { role: "user", content: "And then?" },
];
const TOKENS = 40;

const PAGE = `<!doctype html><html><body><p>wllama</p><script type="module">
import { Wllama } from "./esm/index.js";
const quiet = { debug() {}, log() {}, info() {}, warn() {}, error: console.error };
window.chat = async (file, messages, maxTokens) => {
  const wllama = new Wllama({ default: "./esm/wasm/wllama.wasm" }, { logger: quiet });
  await wllama.loadModelFromUrl(new URL(file, location.href).href, { n_threads: 1, n_ctx: 512, n_gpu_layers: 0 });
  const template = wllama.getChatTemplate();
  const r = await wllama.createChatCompletion({ messages, max_tokens: maxTokens, temperature: 0 });
  await wllama.exit();
  return { template, text: r.choices[0].message.content, promptTokens: r.usage.prompt_tokens, tokens: r.usage.completion_tokens };
};
document.body.dataset.state = "done";
</script></body></html>`;

const why = "Chromium, @wllama/wllama or ../shared/models/llama2c is absent";

describe.skipIf(!HAS_CHROMIUM || !WLLAMA || !LLAMA2C || !existsSync(join(WLLAMA ?? "", "index.js")))(
  `a GGUF file's chat template, against llama.cpp (skipped when ${why})`,
  () => {
    it("a conversation gives the same prompt length and the same greedy reply in wllama and in seec's build", async () => {
      const root = await tmpDir();
      cpSync(WLLAMA!, join(root, "esm"), { recursive: true });
      writeFileSync(join(root, "index.html"), PAGE);
      writeFileSync(join(root, "chat.jinja"), LLAMA2_CHAT);
      const gguf = join(root, "chat.gguf");
      const exported = await seec(
        "export-gguf",
        LLAMA2C!.model,
        "--tokenizer",
        LLAMA2C!.tokenizer,
        "--chat-template",
        join(root, "chat.jinja"),
        "-o",
        gguf,
      );
      expect(exported.code, exported.stderr).toBe(0);
      const art = join(root, "artifact");
      const built = await seec("build", gguf, "-o", art);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toContain("chat template from the GGUF file");

      const model = await loadWasm(art);
      const reply = await model.generate(MESSAGES, { maxTokens: TOKENS, temperature: 0 });
      const promptTokens = model.stats.promptTokens;

      const site = await servedBrowser(root);
      try {
        const page = await site.open("/index.html");
        const llama = await page.evaluate(
          ([file, messages, n]) =>
            (window as unknown as { chat(f: string, m: unknown, n: number): Promise<Record<string, unknown>> }).chat(file, messages, n),
          ["chat.gguf", MESSAGES, TOKENS] as const,
        );
        console.log(
          `llama.cpp: ${llama.promptTokens} prompt tokens, reply ${JSON.stringify(llama.text)}; seec: ${promptTokens}, ${JSON.stringify(reply)}`,
        );
        expect(llama.template).toBe(LLAMA2_CHAT);
        expect(promptTokens).toBe(llama.promptTokens);
        expect(reply).toBe(llama.text);
        expect(reply.length).toBeGreaterThan(20);
      } finally {
        await site.close();
      }
    }, 180_000);
  },
);
