// seec build --threads in headless Chromium under seec serve, which makes the page cross-origin
// isolated: load() runs model.threads.wasm on the machine's cores with Web Workers over shared
// memory, and its logits equal Node's on one thread bit for bit; threads: 1 runs model.wasm.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { load } from "../../runtime/index.js";
import { HAS_CHROMIUM, servedBrowser } from "../helpers/browser.js";
import { tmpDir } from "../helpers/compile.js";
import { SPLIT_PROMPT, splitLogits, writeSplitCheckpoint } from "../helpers/threads.js";

const PAGE = `<!doctype html><meta charset="utf-8"><body data-state="loading"><script type="module">
import { load } from "./index.mjs";
const logits = async (model) => {
  const all = [(await model.run({ tokens: Int32Array.from(${JSON.stringify(Array.from(SPLIT_PROMPT))}), pos: Int32Array.of(0) })).logits];
  for (let pos = ${SPLIT_PROMPT.length}; pos < ${SPLIT_PROMPT.length + 24}; pos++)
    all.push((await model.run({ tokens: Int32Array.of((pos * 37) % 512), pos: Int32Array.of(pos) })).logits);
  return all.map((l) => Array.from(l));
};
const split = await load(undefined, { threads: 2 });
const one = await load(undefined, { threads: 1 });
const result = {
  isolated: crossOriginIsolated,
  backend: split.backend,
  threads: [split.threads, one.threads],
  split: await logits(split),
  one: await logits(one),
};
split.dispose();
document.body.textContent = "done";
Object.assign(document.body.dataset, { result: JSON.stringify(result), state: "done" });
</script>`;

/** A page whose Content-Security-Policy allows no workers: load() runs one thread, and refuses threads asked for. */
const NO_WORKERS = `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="worker-src 'none'">
<body data-state="loading"><script type="module">
import { load } from "./index.mjs";
// Four cores, so that by default load() would start a thread (a browser keeps one core of its own).
Object.defineProperty(navigator, "hardwareConcurrency", { get: () => 4 });
const model = await load();
const asked = await load(undefined, { threads: 2 }).then(() => "loaded", (e) => e.code);
document.body.textContent = "done";
Object.assign(document.body.dataset, { result: JSON.stringify({ threads: model.threads, asked }), state: "done" });
</script>`;

describe.skipIf(!HAS_CHROMIUM)("threads in headless Chromium", () => {
  let root: string, session: Awaited<ReturnType<typeof servedBrowser>>;

  beforeAll(async () => {
    root = await tmpDir();
    const model = join(root, "synthetic.bin");
    writeSplitCheckpoint(model);
    await build({ model, noTokenizer: true, target: "wasm-simd", quantize: "int8", threads: 2, out: join(root, "split") });
    await build({ model, noTokenizer: true, target: "wasm-relaxed", quantize: "q4", threads: 2, out: join(root, "relaxed") });
    writeFileSync(join(root, "split", "page.html"), PAGE);
    writeFileSync(join(root, "relaxed", "page.html"), PAGE);
    writeFileSync(join(root, "split", "no-workers.html"), NO_WORKERS);
    session = await servedBrowser(root);
  }, 60_000);

  afterAll(() => session?.close());

  it("a cross-origin isolated page splits the matmuls across two Web Workers' threads, with Node's logits", async () => {
    const page = await session.open("/split/page.html");
    const r = JSON.parse((await page.getAttribute("body", "data-result"))!);
    expect(r.isolated).toBe(true);
    expect(r.backend).toBe("wasm-simd");
    expect(r.threads).toEqual([2, 1]);
    const node = await load(join(root, "split"), { threads: 1 });
    const expected = (await splitLogits(node)).map((l) => Array.from(l));
    expect(r.split).toEqual(expected);
    expect(r.one).toEqual(expected);
  });

  it("wasm-relaxed with q4 weights: Chromium runs model.relaxed.threads.wasm, equal to model.relaxed.wasm", async () => {
    const page = await session.open("/relaxed/page.html");
    const r = JSON.parse((await page.getAttribute("body", "data-result"))!);
    expect([r.backend, r.threads]).toEqual(["wasm-relaxed", [2, 1]]);
    expect(r.split).toEqual(r.one);
    expect(r.split.map((l: number[]) => l.length)).toEqual(Array(25).fill(512));
  });

  it("a page that may start no workers runs one thread, and says why where threads were asked for", async () => {
    const page = await session.open("/split/no-workers.html");
    expect(JSON.parse((await page.getAttribute("body", "data-result"))!)).toEqual({ threads: 1, asked: "runtime.worker" });
  });
});
