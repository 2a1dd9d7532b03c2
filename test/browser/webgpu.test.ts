// --target webgpu in headless Chromium (SwiftShader's adapter, --enable-unsafe-webgpu): stories260K
// generates llama2.c's documented greedy text on WebGPU, with every step's logits within 1e-3 of
// the reference interpreter; without WebGPU the same artifact runs on its wasm module and says why.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontends/load.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { HAS_CHROMIUM, servedBrowser, WEBGPU_FLAGS } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

const STEPS = 256;
const SCREENSHOTS = fileURLToPath(new URL("../screenshots/", import.meta.url));

/** The page: greedy text through generate(), then every step's logits through step(). */
const PAGE = `<!doctype html><meta charset="utf-8"><pre id="out"></pre><script type="module">
import { load } from "./index.mjs";
const out = {};
try {
  const m = await load();
  Object.assign(out, { backend: m.backend, adapter: m.adapter, fallback: m.fallback });
  const gpu = m.backend === "webgpu";
  out.text = gpu ? await m.generate("", { temperature: 0, maxTokens: ${STEPS} }) : m.generate("", { temperature: 0, maxTokens: ${STEPS} });
  if (gpu) {
    out.tokens = [];
    out.logits = [];
    let token = 1;
    for (let pos = 0; pos < ${STEPS}; pos++) {
      const logits = await m.step([token], pos);
      out.tokens.push(token);
      out.logits.push(Array.from(logits));
      token = logits.indexOf(Math.max(...logits));
    }
  }
} catch (e) {
  out.error = String(e);
}
document.getElementById("out").textContent = JSON.stringify(out);
document.body.dataset.state = "done";
</script>`;

interface PageResult { backend: string; adapter?: string; fallback?: string; text: string; tokens?: number[]; logits?: number[][]; error?: string }

describe.skipIf(!LLAMA2C || !HAS_CHROMIUM)("the webgpu target in headless Chromium", () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(await tmpDir(), "gpu");
    const m = LLAMA2C!;
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "--target", "webgpu", "-o", dir)).code).toBe(0);
    writeFileSync(join(dir, "page.html"), PAGE);
  }, 60_000);

  async function runPage(flags: string[]): Promise<PageResult> {
    const served = await servedBrowser(dir, flags);
    try {
      return JSON.parse((await (await served.open("/page.html")).textContent("#out"))!);
    } finally {
      await served.close();
    }
  }

  it("runs on WebGPU: llama2.c's greedy text, and logits within 1e-3 of the reference interpreter at every step", async () => {
    const r = await runPage(WEBGPU_FLAGS);
    expect(r.error).toBeUndefined();
    expect(r.backend).toBe("webgpu");
    expect(`${r.text}\n`).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
    const { graph } = await loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer });
    const ref = new Interpreter(graph);
    let worst = 0;
    r.tokens!.forEach((token, pos) => {
      const want = ref.run({ tokens: Int32Array.of(token), pos: Int32Array.of(pos) }).logits.data;
      const got = r.logits![pos];
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    });
    console.log(`WebGPU (${r.adapter}): largest logit difference from the reference over ${STEPS} steps ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-3);
  }, 240_000);

  it("the demo page runs on WebGPU, says so, and generates what Node generates on wasm", async () => {
    const m = LLAMA2C!;
    const demo = join(dir, "..", "demo");
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "--target", "webgpu", "--demo", "-o", demo)).code).toBe(0);
    const served = await servedBrowser(join(dir, ".."), WEBGPU_FLAGS);
    try {
      const page = await served.open("/demo/demo.html");
      const result = await page.evaluate(() => (window as unknown as { seecResult: { text: string; backend: string } }).seecResult);
      expect(result.backend).toBe("webgpu");
      expect(await page.textContent("#backend")).toBe("webgpu");
      const node = await loadWasm(demo);
      expect(result.text).toBe(node.generate("Once upon a time", { maxTokens: 64, temperature: 0 }));
      await page.screenshot({ path: join(SCREENSHOTS, "demo-stories260K-webgpu.png") });
    } finally {
      await served.close();
    }
  }, 120_000);

  it("unsupported.webgpu: a model with ops the WebGPU backend lacks is refused at build, naming the op", async () => {
    const { USE_DIR } = await import("../helpers/use-lite.js");
    const r = await seec("build", USE_DIR, "--target", "webgpu", "-o", join(dir, "..", "use"));
    expect(r.stderr).toContain("error[unsupported.webgpu]");
    expect(r.code).toBe(4);
  }, 60_000);

  it("without WebGPU runs the same artifact on wasm-simd, saying why", async () => {
    const r = await runPage([]);
    expect(r.error).toBeUndefined();
    expect(r.backend).toBe("wasm-simd");
    console.log(`fallback: ${r.fallback}`);
    expect(r.fallback).toMatch(/^(runtime\.webgpu: WebGPU gives no adapter|this engine has no WebGPU)/);
    expect(`${r.text}\n`).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
  }, 120_000);
});
