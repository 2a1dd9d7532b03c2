// load(dir, { worker: true }) in headless Chromium: the model runs in a Web Worker on the
// artifact's own index.mjs, so a requestAnimationFrame loop keeps running while USE-Lite embeds
// 32 texts (the same embedding on the main thread holds frames back for whole windows of texts),
// with the same results as the main thread and as Node; a decoder generates, streams and aborts
// through it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_CHROMIUM, servedBrowser } from "../helpers/browser.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

const TEXTS = Array.from(
  { length: 32 },
  (_, i) => `Sentence ${i}: a man is playing the cello while the market falls ${i * 7} points today.`,
);

/** Embeds TEXTS in a worker, then on the main thread, timing the animation frames around each. */
const EMBED_PAGE = `<!doctype html><meta charset="utf-8"><body data-state="loading"><script type="module">
import { load } from "./index.mjs";
const texts = ${JSON.stringify(TEXTS)};
let frames = [];
(function frame() { frames.push(performance.now()); requestAnimationFrame(frame); })();
const settle = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
/** The longest time between two frames from the call's start to the first frame after its end. */
async function timed(model) {
  await settle();
  frames = [];
  const start = performance.now();
  const vectors = await model.embed(texts);
  const end = performance.now();
  await settle();
  const ticks = [start, ...frames.filter((t) => t > start)];
  const upTo = ticks.findIndex((t) => t > end);
  const gaps = ticks.slice(1, upTo + 1).map((t, i) => t - ticks[i]);
  return { vectors: vectors.map((v) => Array.from(v)), maxGap: Math.max(...gaps), frames: upTo, ms: end - start };
}
const inWorker = await load(undefined, { worker: true });
const worker = await timed(inWorker);
const weightsOnPage = performance.getEntriesByType("resource").some((r) => r.name.endsWith("/weights.bin"));
const main = await timed(await load());
// seec serve compresses text for a browser that accepts it: the bytes over the wire and the file's.
const tokenizer = performance.getEntriesByType("resource").find((r) => r.name.endsWith("/tokenizer.json"));
const wire = { encoded: tokenizer.encodedBodySize, decoded: tokenizer.decodedBodySize };
inWorker.dispose();
document.body.textContent = "done";
Object.assign(document.body.dataset, { result: JSON.stringify({ worker, main, weightsOnPage, backend: inWorker.backend, wire }), state: "done" });
</script>`;

/** A decoder in a worker: greedy text, a stream left early, an abort, an error from the worker, and run(). */
const GENERATE_PAGE = `<!doctype html><meta charset="utf-8"><body data-state="loading"><script type="module">
import { load } from "./index.mjs";
const progress = {};
const model = await load(undefined, { worker: true, cache: true, onProgress: (p) => (progress[p.file] = [p.loaded, p.total]) });
const asked = [];
const viaFetch = await load(undefined, { worker: true, fetch: (url, init) => (asked.push(url.split("/").pop()), fetch(url, init)) });
const fetchedText = await viaFetch.generate("Once upon a time", { maxTokens: 48, temperature: 0 });
viaFetch.dispose();
const cached = (await (await caches.open("seec")).keys()).map((r) => r.url.split("/").pop().split("?")[0]).sort();
const greedy = await model.generate("Once upon a time", { maxTokens: 48, temperature: 0 });
let early = "";
for await (const piece of model.stream("One day", { maxTokens: 64, seed: 5 })) if ((early += piece).length > 12) break;
const seeded = await model.generate("One day", { maxTokens: 24, seed: 5 });
const controller = new AbortController();
const aborted = model.generate("Once", { maxTokens: 256, signal: controller.signal });
controller.abort();
const abortedName = await aborted.then(() => "resolved", (e) => e.name);
const bad = await model.generate("Once", { temperature: -1 }).catch((e) => ({ name: e.name, code: e.code, line: e.toLine() }));
const logits = (await model.run({ tokens: Int32Array.of(1), pos: Int32Array.of(0) })).logits;
document.body.textContent = "done";
Object.assign(document.body.dataset, {
  result: JSON.stringify({ progress, cached, asked, fetchedText, greedy, early, seeded, abortedName, bad, logits: Array.from(logits.slice(0, 8)), stats: model.stats, vocab: model.tokenizer.vocabSize }),
  state: "done",
});
</script>`;

describe.skipIf(!HAS_CHROMIUM || !LLAMA2C)("worker mode in headless Chromium", () => {
  let root: string, session: Awaited<ReturnType<typeof servedBrowser>>;

  beforeAll(async () => {
    root = await tmpDir();
    const builds = await Promise.all([
      seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "-o", join(root, "stories")),
      seec("build", USE_DIR, "-o", join(root, "use")),
    ]);
    for (const b of builds) expect(b.code, b.stderr).toBe(0);
    writeFileSync(join(root, "use", "page.html"), EMBED_PAGE);
    writeFileSync(join(root, "stories", "page.html"), GENERATE_PAGE);
    session = await servedBrowser(root);
  });

  afterAll(() => session?.close());

  it("USE-Lite embeds 32 texts in a worker while the page keeps its frames, as the main thread and Node embed them", async () => {
    const page = await session.open("/use/page.html", undefined, 120_000);
    const { worker, main, weightsOnPage, backend, wire } = JSON.parse((await page.getAttribute("body", "data-result"))!);
    console.log(
      `USE-Lite, 32 texts: worker ${worker.ms.toFixed(0)} ms, ${worker.frames} frames, longest gap ${worker.maxGap.toFixed(1)} ms; ` +
        `main thread ${main.ms.toFixed(0)} ms, ${main.frames} frames, longest gap ${main.maxGap.toFixed(1)} ms`,
    );
    expect(backend).toBe("wasm-simd");
    console.log(`tokenizer.json over seec serve: ${wire.encoded} bytes on the wire for ${wire.decoded}`);
    expect(wire.encoded).toBeLessThan(wire.decoded / 2);
    expect(weightsOnPage).toBe(false); // the worker fetched the weights, not the page
    expect(worker.maxGap).toBeLessThan(100);
    expect(worker.frames).toBeGreaterThan(worker.ms / 100);
    expect(worker.vectors).toEqual(main.vectors);
    const node = await (await loadWasm(join(root, "use"))).embed(TEXTS);
    expect(worker.vectors).toEqual(node.map((v) => Array.from(v)));
  }, 180_000);

  it("stories260K generates, streams, aborts and runs in a worker as Node does", async () => {
    const page = await session.open("/stories/page.html");
    const r = JSON.parse((await page.getAttribute("body", "data-result"))!);
    const node = await loadWasm(join(root, "stories"));
    expect(r.greedy).toBe(await node.generate("Once upon a time", { maxTokens: 48, temperature: 0 }));
    expect(r.seeded).toBe(await node.generate("One day", { maxTokens: 24, seed: 5 }));
    const { promptTokens, generatedTokens } = node.stats;
    expect(r.early.length).toBeGreaterThan(12);
    expect((await node.generate("One day", { maxTokens: 64, seed: 5 })).startsWith(r.early)).toBe(true);
    expect(r.abortedName).toBe("AbortError");
    expect(r.bad).toMatchObject({ name: "SeecError", code: "runtime.option" });
    expect(r.bad.line).toMatch(/temperature/);
    const logits = (await node.run({ tokens: Int32Array.of(1), pos: Int32Array.of(0) })).logits as Float32Array;
    expect(r.logits).toEqual(Array.from(logits.slice(0, 8)));
    expect(r.stats).toMatchObject({ promptTokens, generatedTokens });
    expect(r.vocab).toBe(512);
    // Progress came from the worker's downloads, and the page's Cache API holds what the worker kept.
    const manifest = JSON.parse(readFileSync(join(root, "stories", "manifest.json"), "utf8"));
    for (const f of ["model.wasm", "tokenizer.json", "weights.bin"])
      expect(r.progress[f]).toEqual([manifest.files[f].bytes, manifest.files[f].bytes]);
    expect(r.cached).toEqual(["model.wasm", "tokenizer.json", "weights.bin"]);
    // The page's own fetch served the worker's reads.
    expect(r.asked.sort()).toEqual(["manifest.json", "model.wasm", "tokenizer.json", "weights.bin"]);
    expect(r.fetchedText).toBe(r.greedy);
  });
});
