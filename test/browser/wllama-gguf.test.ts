// llama.cpp reads what `seec export-gguf` writes: wllama (llama.cpp in wasm, @wllama/wllama) runs the
// exported stories260K in headless Chromium and prints llama2.c's greedy text. Skips, saying why, where
// wllama is not installed (a devDependency of seec, so npm ci brings it; or
// SEEC_WLLAMA names an installed package's folder).
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { HAS_CHROMIUM, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

const WLLAMA = (() => {
  try {
    const dir = process.env.SEEC_WLLAMA ?? dirname(createRequire(import.meta.url).resolve("@wllama/wllama/package.json"));
    return join(dir, "esm");
  } catch {
    console.warn("skipping the wllama test: @wllama/wllama is not installed");
    return undefined;
  }
})();

/** Loads each GGUF in wllama, one thread, CPU only, and generates 256 greedy tokens from BOS. */
const PAGE = `<!doctype html><html><body><p>wllama</p><script type="module">
import { Wllama } from "./esm/index.js";
const quiet = { debug() {}, log() {}, info() {}, warn() {}, error: console.error };
window.generate = async (file) => {
  const wllama = new Wllama({ default: "./esm/wasm/wllama.wasm" }, { logger: quiet });
  await wllama.loadModelFromUrl(new URL(file, location.href).href, { n_threads: 1, n_ctx: 512, n_gpu_layers: 0 });
  const r = await wllama.createCompletion({ prompt: "", max_tokens: 256, temperature: 0 });
  await wllama.exit();
  return r.choices[0].text;
};
document.body.dataset.state = "done";
</script></body></html>`;

describe.skipIf(!HAS_CHROMIUM || !WLLAMA || !LLAMA2C || !existsSync(join(WLLAMA ?? "", "index.js")))("wllama reads seec's GGUF", () => {
  it("f32 and f16 exports generate llama2.c's greedy_256.txt in llama.cpp", async () => {
    const root = await tmpDir();
    cpSync(WLLAMA!, join(root, "esm"), { recursive: true });
    writeFileSync(join(root, "index.html"), PAGE);
    for (const type of ["f32", "f16"])
      expect(
        (await seec("export-gguf", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--type", type, "-o", join(root, `${type}.gguf`)))
          .code,
      ).toBe(0);
    const site = await servedBrowser(root);
    try {
      const page = await site.open("/index.html");
      for (const type of ["f32", "f16"]) {
        const text = await page.evaluate(
          (file) => (window as unknown as { generate(f: string): Promise<string> }).generate(file),
          `${type}.gguf`,
        );
        // llama-server keeps SentencePiece's space before the first word; llama2.c's run drops it and ends the line
        expect(`${text.replace(/^ /, "")}\n`, type).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
      }
    } finally {
      await site.close();
    }
  }, 120_000);
});
