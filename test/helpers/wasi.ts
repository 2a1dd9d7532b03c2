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
  const wasi = new NodeWasi({ version: "preview1", args: ["model.wasm", ...args], env: {}, returnOnExit: true, stdout: out.fd, stderr: err.fd });
  const { instance } = await WebAssembly.instantiate(wasm as BufferSource, wasi.getImportObject() as WebAssembly.Imports);
  const code = wasi.start(instance);
  await Promise.all([out.close(), err.close()]);
  return { stdout: await readFile(join(dir, "out"), "utf8"), stderr: await readFile(join(dir, "err"), "utf8"), code };
}

export async function runShim(wasm: Uint8Array, args: string[]): Promise<WasiRun> {
  const { WASI, File, OpenFile, ConsoleStdout, PreopenDirectory } = await import("@bjorn3/browser_wasi_shim");
  const out = decoder(), err = decoder();
  let stdout = "", stderr = "";
  const wasi = new WASI(["model.wasm", ...args], [], [
    new OpenFile(new File([])),
    new ConsoleStdout((b: Uint8Array) => (stdout += out.decode(b, { stream: true }))),
    new ConsoleStdout((b: Uint8Array) => (stderr += err.decode(b, { stream: true }))),
    new PreopenDirectory("/", new Map()),
  ], { debug: false });
  const { instance } = await WebAssembly.instantiate(wasm as BufferSource, { wasi_snapshot_preview1: wasi.wasiImport });
  const code = wasi.start(instance as { exports: { memory: WebAssembly.Memory; _start: () => unknown } });
  return { stdout: stdout + out.decode(), stderr: stderr + err.decode(), code };
}
