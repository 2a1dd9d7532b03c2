// load(dir, { cache: true }) in a real browser: the files go into the Cache API keyed by their
// sha256, so a second page load fetches no weights; an aborted load leaves nothing there, and an
// earlier build's version of a file goes when this one's is kept.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_CHROMIUM, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

/** Aborts a cached load mid-weights, lists what the cache then holds, then loads (cached) and generates. */
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { load } from "./index.mjs";
// What an earlier build left: the load that keeps this build's weights.bin removes it.
await (await caches.open("seec")).put(new URL("weights.bin?sha256=" + "0".repeat(64), location.href).href, new Response("old"));
const controller = new AbortController();
const aborted = await load(undefined, {
  cache: true,
  signal: controller.signal,
  onProgress: (p) => p.file === "weights.bin" && p.loaded > 0 && controller.abort(),
}).then(() => "loaded", (e) => e.name);
const keys = async () => (await (await caches.open("seec")).keys()).map((r) => r.url.split("/").pop());
const afterAbort = await keys();
const model = await load(undefined, { cache: true });
const text = await model.generate("Once", { maxTokens: 16, temperature: 0 });
document.body.textContent = text;
Object.assign(document.body.dataset, { result: JSON.stringify({ aborted, afterAbort, cached: await keys(), text }), state: "done" });
</script>`;

describe.skipIf(!HAS_CHROMIUM || !LLAMA2C)("the Cache API in headless Chromium", () => {
  let root: string, session: Awaited<ReturnType<typeof servedBrowser>>;
  beforeAll(async () => {
    root = await tmpDir();
    const r = await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "-o", join(root, "stories"));
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(join(root, "stories", "page.html"), PAGE);
    session = await servedBrowser(root);
  });
  afterAll(() => session?.close());

  it("keeps the files whole and checked, and a reload fetches no weights", async () => {
    const page = await session.open("/stories/page.html");
    const first = JSON.parse((await page.getAttribute("body", "data-result"))!);
    expect(first.aborted).toBe("AbortError");
    const stale = `weights.bin?sha256=${"0".repeat(64)}`;
    expect(first.afterAbort.filter((k: string) => k.startsWith("weights.bin"))).toEqual([stale]); // nothing half-kept
    expect(first.cached.filter((k: string) => /^(model\.wasm|weights\.bin|tokenizer\.json)\?sha256=[0-9a-f]{64}$/.test(k))).toHaveLength(3);
    expect(first.text).toBe(await (await loadWasm(join(root, "stories"))).generate("Once", { maxTokens: 16, temperature: 0 }));

    const fetched: string[] = [];
    page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
    await page.reload();
    await page.waitForSelector("body[data-state=done]");
    const second = JSON.parse((await page.getAttribute("body", "data-result"))!);
    expect(second.text).toBe(first.text);
    expect(fetched).toContain("/stories/manifest.json");
    expect(fetched.filter((p) => /weights\.bin|model\.wasm|tokenizer\.json/.test(p))).toEqual([]);
  }, 120_000);
});
