/** Runs a WASI program under node:wasi or @bjorn3/browser_wasi_shim and returns what it printed. */
import { WASI as NodeWasi } from "node:wasi";

export interface WasiRun {
  stdout: string;
  stderr: string;
  code: number;
}

const decoder = () => new TextDecoder();

export async function runNodeWasi(wasm: Uint8Array, args: string[]): Promise<WasiRun> {
  const { mkdtemp, readFile, open } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(join(tmpdir(), "seec-wasi-"));
  const [out, err] = await Promise.all([open(join(dir, "out"), "w+"), open(join(dir, "err"), "w+")]);
  const wasi = new NodeWasi({
    version: "preview1",
    args: ["model.wasm", ...args],
    env: {},
    returnOnExit: true,
    stdout: out.fd,
    stderr: err.fd,
  });
  const { instance } = await WebAssembly.instantiate(wasm as BufferSource, wasi.getImportObject() as WebAssembly.Imports);
  const code = wasi.start(instance);
  await Promise.all([out.close(), err.close()]);
  return { stdout: await readFile(join(dir, "out"), "utf8"), stderr: await readFile(join(dir, "err"), "utf8"), code };
}

export async function runShim(wasm: Uint8Array, args: string[]): Promise<WasiRun> {
  const { WASI, File, OpenFile, ConsoleStdout, PreopenDirectory } = await import("@bjorn3/browser_wasi_shim");
  const out = decoder(),
    err = decoder();
  let stdout = "",
    stderr = "";
  const wasi = new WASI(
    ["model.wasm", ...args],
    [],
    [
      new OpenFile(new File([])),
      new ConsoleStdout((b: Uint8Array) => (stdout += out.decode(b, { stream: true }))),
      new ConsoleStdout((b: Uint8Array) => (stderr += err.decode(b, { stream: true }))),
      new PreopenDirectory("/", new Map()),
    ],
    { debug: false },
  );
  const { instance } = await WebAssembly.instantiate(wasm as BufferSource, { wasi_snapshot_preview1: wasi.wasiImport });
  const code = wasi.start(instance as { exports: { memory: WebAssembly.Memory; _start: () => unknown } });
  return { stdout: stdout + out.decode(), stderr: stderr + err.decode(), code };
}

/**
 * Runs a WASI program once per argument list under browser_wasi_shim in headless Chromium,
 * served from a temporary folder; returns each run's exit code and stdout.
 */
export async function runShimInChromium(wasmFile: string, runs: string[][], root: string): Promise<{ code: number; text: string }[]> {
  const { cpSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { servedBrowser } = await import("./browser.js");
  cpSync(new URL("../../node_modules/@bjorn3/browser_wasi_shim/dist/", import.meta.url).pathname, join(root, "shim"), { recursive: true });
  cpSync(wasmFile, join(root, "model.wasm"));
  writeFileSync(
    join(root, "index.html"),
    `<!doctype html><meta charset="utf-8"><pre id="out"></pre><script type="module">
import { WASI, File, OpenFile, ConsoleStdout, PreopenDirectory } from "./shim/index.js";
const runs = ${JSON.stringify(runs)};
const bytes = await (await fetch("model.wasm")).arrayBuffer();
const results = [];
for (const args of runs) {
  const decoder = new TextDecoder();
  let text = "";
  const wasi = new WASI(["model.wasm", ...args], [], [new OpenFile(new File([])), new ConsoleStdout((b) => (text += decoder.decode(b, { stream: true }))), ConsoleStdout.lineBuffered(() => {}), new PreopenDirectory("/", new Map())], { debug: false });
  const { instance } = await WebAssembly.instantiate(bytes, { wasi_snapshot_preview1: wasi.wasiImport });
  const code = wasi.start(instance);
  results.push({ code, text: text + decoder.decode() });
}
document.getElementById("out").textContent = JSON.stringify(results);
document.body.dataset.state = "done";
</script>`,
  );
  const served = await servedBrowser(root);
  try {
    const page = await served.open("/index.html");
    return JSON.parse((await page.textContent("#out"))!);
  } finally {
    await served.close();
  }
}
