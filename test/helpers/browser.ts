/**
 * Headless Chromium from Debian's `chromium` package, driven by playwright-core (never a browser
 * that Playwright downloads). Tests skip, saying why, where it is not installed; CI installs it.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CHROMIUM = process.env.SEEC_CHROMIUM ?? "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`skipping browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set SEEC_CHROMIUM)`);

/**
 * Where a page's screenshot goes: the run's temporary directory, or with SEEC_SCREENSHOTS=update
 * test/screenshots/, the pictures the README shows (a test run never rewrites tracked files).
 */
export function screenshotPath(name: string): string {
  const dir = process.env.SEEC_SCREENSHOTS === "update" ? fileURLToPath(new URL("../screenshots/", import.meta.url)) : tmpdir();
  return join(dir, name);
}

/** Chromium's flags for WebGPU in a headless container: SwiftShader then gives an adapter. */
export const WEBGPU_FLAGS = ["--enable-unsafe-webgpu"];

export async function launchChromium(extraArgs: string[] = []) {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      ...extraArgs,
    ],
  });
}

/** A directory served on loopback and a browser to look at it with. */
export async function servedBrowser(root: string, extraArgs: string[] = []) {
  const { serveDirectory } = await import("../../compiler/serve.js");
  const server = await serveDirectory(root, 0);
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const browser = await launchChromium(extraArgs);
  return {
    base,
    /** Opens a page, waits until it marks itself done (or `state`), and fails on any uncaught page error. */
    async open(path: string, viewport = { width: 900, height: 700 }, timeout = 60_000, state = "done") {
      const page = await browser.newPage({ viewport });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${base}${path}`);
      await page.waitForSelector(`body[data-state=${state}]`, { timeout });
      if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
      return page;
    },
    async close() {
      await browser.close();
      server.close();
    },
  };
}
