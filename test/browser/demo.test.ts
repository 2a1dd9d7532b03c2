// The artifacts in a real browser: each demo page, served over HTTP, must show what Node computes
// for the same input. Screenshots of the pages go to the run's temporary directory, or with
// SEEC_SCREENSHOTS=update to test/screenshots/ (the README shows them).
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cosine } from "../../compiler/eval/stsb.js";
import { HAS_CHROMIUM, screenshotPath, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

describe.skipIf(!HAS_CHROMIUM || !LLAMA2C)("demo pages in headless Chromium", () => {
  let root: string, session: Awaited<ReturnType<typeof servedBrowser>>;

  beforeAll(async () => {
    root = await tmpDir();
    const builds = await Promise.all([
      seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--demo", "-o", join(root, "stories")),
      seec("build", USE_DIR, "--demo", "--package", "use-lite-seec", "-o", join(root, "use")),
      seec(
        "build",
        LLAMA2C!.model,
        "--tokenizer",
        LLAMA2C!.tokenizer,
        "--target",
        "wasm-relaxed",
        "--demo",
        "-o",
        join(root, "stories-relaxed"),
      ),
    ]);
    for (const b of builds) expect(b.code, b.stderr).toBe(0);
    session = await servedBrowser(root);
  });

  afterAll(() => session?.close());

  async function openDemo(name: string) {
    const page = await session.open(`/${name}/demo.html`);
    return { page, result: await page.evaluate(() => (window as unknown as { seecResult: Record<string, unknown> }).seecResult) };
  }

  it("--package writes a package.json whose entry points are the runtime and its typings", async () => {
    const { readFileSync, existsSync } = await import("node:fs");
    const pkg = JSON.parse(readFileSync(join(root, "use", "package.json"), "utf8"));
    expect(pkg).toMatchObject({ name: "use-lite-seec", type: "module", main: "index.mjs", types: "index.d.mts" });
    for (const f of pkg.files) expect(existsSync(join(root, "use", f)), f).toBe(true);
    expect(pkg.files).toContain("model.wasm");
  });

  it("stories260K: the page generates the same greedy text as Node", async () => {
    const { page, result } = await openDemo("stories");
    const node = await loadWasm(join(root, "stories"));
    expect(result.text).toBe(await node.generate("Once upon a time", { maxTokens: 64, temperature: 0 }));
    expect(result.backend).toBe("wasm-simd");
    expect(result.bytes as number).toBeGreaterThan(1_000_000); // the weights came over the wire
    expect(await page.isEnabled("#go")).toBe(true);
    expect(await page.isHidden("#loading")).toBe(true); // the progress bar, once loaded
    await page.screenshot({ path: screenshotPath("demo-stories260K.png") });
  });

  it("a page whose weights.bin is missing says so on the page, its button left disabled", async () => {
    cpSync(join(root, "stories"), join(root, "broken"), { recursive: true });
    rmSync(join(root, "broken", "weights.bin"));
    const page = await session.open("/broken/demo.html", undefined, 60_000, "error");
    expect(await page.textContent("#error")).toMatch(/error\[io\.read\].*weights\.bin/);
    expect(await page.isDisabled("#go")).toBe(true);
  });

  it("wasm-relaxed: Chromium runs the relaxed-SIMD module, and it generates the same greedy text", async () => {
    const { result } = await openDemo("stories-relaxed");
    expect(result.backend).toBe("wasm-relaxed");
    const node = await loadWasm(join(root, "stories"));
    expect(result.text).toBe(await node.generate("Once upon a time", { maxTokens: 64, temperature: 0 }));
  });

  it("USE-Lite: the page's similarity matrix equals Node's", async () => {
    const { page, result } = await openDemo("use");
    const node = await loadWasm(join(root, "use"));
    const texts = result.texts as string[];
    const vectors = await node.embed(texts);
    const similarity = result.similarity as number[][];
    similarity.forEach((row, i) => row.forEach((c, j) => expect(c).toBeCloseTo(cosine(vectors[i], vectors[j]), 5)));
    await page.screenshot({ path: screenshotPath("demo-use-lite.png") });
  });
});
