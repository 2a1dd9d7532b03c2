// A tiny web app that imports a seec artifact, bundled by esbuild and by Vite with no plugin, runs
// in headless Chromium and generates what Node generates.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_CHROMIUM, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

const APP = `import { load } from "../stories/index.mjs";
const model = await load(new URL("/stories/", location.href));
document.body.textContent = await model.generate("One day", { maxTokens: 24, temperature: 0 });
document.body.dataset.state = "done";
`;

describe.skipIf(!HAS_CHROMIUM || !LLAMA2C)("bundling an artifact into a web app", () => {
  let root: string, session: Awaited<ReturnType<typeof servedBrowser>>, expected: string;

  beforeAll(async () => {
    root = await tmpDir();
    expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "-o", join(root, "stories"))).code).toBe(0);
    mkdirSync(join(root, "app"));
    writeFileSync(join(root, "app", "main.js"), APP);
    writeFileSync(
      join(root, "app", "index.html"),
      '<!doctype html><html><body data-state="loading"><script type="module" src="./main.js"></script></body></html>',
    );
    expected = await (await loadWasm(join(root, "stories"))).generate("One day", { maxTokens: 24, temperature: 0 });
    session = await servedBrowser(root);
  });

  afterAll(() => session?.close());

  async function textOf(path: string): Promise<string> {
    return (await session.open(path)).evaluate(() => document.body.textContent ?? "");
  }

  it("esbuild (platform browser, bundled) needs nothing special", async () => {
    const esbuild = await import("esbuild");
    mkdirSync(join(root, "esbuild"));
    await esbuild.build({
      entryPoints: [join(root, "app", "main.js")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outfile: join(root, "esbuild", "main.js"),
      logLevel: "silent",
    });
    writeFileSync(
      join(root, "esbuild", "index.html"),
      '<!doctype html><html><body data-state="loading"><script type="module" src="./main.js"></script></body></html>',
    );
    expect(await textOf("/esbuild/")).toBe(expected);
  });

  it("Vite builds it with no plugin", async () => {
    const { build } = await import("vite");
    await build({
      root: join(root, "app"),
      base: "/vite/",
      logLevel: "silent",
      build: { outDir: join(root, "vite"), target: "es2022", emptyOutDir: true },
    });
    expect(await textOf("/vite/")).toBe(expected);
  });
});
