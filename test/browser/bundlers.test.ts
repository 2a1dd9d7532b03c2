// A tiny web app that imports a seec artifact, bundled by esbuild and by Vite with no plugin, or
// served by Vite's dev server, runs in headless Chromium and generates what Node generates.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_CHROMIUM, launchChromium, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

const APP = `import { load } from "../stories/index.mjs";
const model = await load(new URL("/stories/", location.href));
document.body.textContent = await model.generate("One day", { maxTokens: 24, temperature: 0 });
document.body.dataset.state = "done";
`;

/** The same app with load()'s default: the directory index.mjs is served from (what a dev server keeps). */
const APP_DEFAULT_URL = APP.replace('new URL("/stories/", location.href)', "");

const PAGE = '<!doctype html><html><body data-state="loading"><script type="module" src="./main.js"></script></body></html>';

describe.skipIf(!HAS_CHROMIUM || !LLAMA2C)("bundling an artifact into a web app", () => {
  let root: string, session: Awaited<ReturnType<typeof servedBrowser>>, expected: string;

  beforeAll(async () => {
    root = await tmpDir();
    const built = await seec(
      "build",
      LLAMA2C!.model,
      "--tokenizer",
      LLAMA2C!.tokenizer,
      "--package",
      "stories-seec",
      "-o",
      join(root, "stories"),
    );
    expect(built.code, built.stderr).toBe(0);
    mkdirSync(join(root, "app"));
    writeFileSync(join(root, "app", "main.js"), APP);
    writeFileSync(join(root, "app", "index.html"), PAGE);
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

  it("Vite's dev server serves it as it is: the same text, with load()'s URL given or its default, in a worker, and installed as a package", async () => {
    const { createServer } = await import("vite");
    mkdirSync(join(root, "dev"));
    writeFileSync(join(root, "dev", "main.js"), APP_DEFAULT_URL.replace("../stories/", "/stories/"));
    writeFileSync(join(root, "dev", "index.html"), PAGE);
    mkdirSync(join(root, "dev-worker"));
    writeFileSync(join(root, "dev-worker", "main.js"), APP.replace("location.href)", "location.href), { worker: true }"));
    writeFileSync(join(root, "dev-worker", "index.html"), PAGE);
    // The artifact installed as a package (--package): Vite pre-bundles dependencies into
    // node_modules/.vite/deps/, away from the artifact's files, unless told not to.
    for (const name of ["stories-seec", "stories-prebundled"]) {
      cpSync(join(root, "stories"), join(root, "node_modules", name), { recursive: true });
      const pkg = JSON.parse(readFileSync(join(root, "stories", "package.json"), "utf8"));
      writeFileSync(join(root, "node_modules", name, "package.json"), JSON.stringify({ ...pkg, name }));
      mkdirSync(join(root, name));
      writeFileSync(
        join(root, name, "main.js"),
        APP_DEFAULT_URL.replace("../stories/index.mjs", name).replace(
          "const model = await load();",
          'const model = await load().catch((e) => { document.body.textContent = e.toLine(); document.body.dataset.state = "done"; throw e; });',
        ),
      );
      writeFileSync(join(root, name, "index.html"), PAGE);
    }
    const server = await createServer({
      root,
      configFile: false,
      logLevel: "silent",
      server: { host: "127.0.0.1", port: 0, strictPort: false, hmr: false, watch: null },
      optimizeDeps: { exclude: ["stories-seec"], include: ["stories-prebundled"] },
    });
    await server.listen();
    const browser = await launchChromium();
    try {
      const base = `http://127.0.0.1:${(server.httpServer!.address() as { port: number }).port}`;
      const textOn = async (app: string) => {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(base + app);
        await page.waitForSelector("body[data-state=done]", { timeout: 60_000 }).catch(() => {
          throw new Error(`${app}: ${errors.join("; ") || "never done"}`);
        });
        return page.evaluate(() => document.body.textContent);
      };
      for (const app of ["/app/", "/dev/", "/dev-worker/", "/stories-seec/"]) expect(await textOn(app), app).toBe(expected);
      // Pre-bundled, the runtime looks for its files in node_modules/.vite/deps/ and says what to do.
      expect(await textOn("/stories-prebundled/")).toMatch(
        /^error\[(io\.read|input\.json)\] \S+\/node_modules\/\.vite\/deps\/manifest\.json: .*hint: .*optimizeDeps\.exclude/,
      );
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
