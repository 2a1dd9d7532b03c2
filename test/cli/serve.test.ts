// seec serve: the artifact over HTTP with the content types browsers need, nothing outside it.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";

const BIN = fileURLToPath(new URL("../../bin/seec.mjs", import.meta.url));

describe("seec serve", () => {
  it("serves files with their content types on loopback, and refuses paths outside the directory", async () => {
    const dir = await tmpDir();
    writeFileSync(join(dir, "model.wasm"), new Uint8Array([0, 97, 115, 109]));
    writeFileSync(join(dir, "demo.html"), "<!doctype html>");
    const child = spawn(process.execPath, [BIN, "serve", dir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const line = await new Promise<string>((ok) => child.stdout.once("data", (d) => ok(String(d))));
      const base = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(line)![1];
      const wasm = await fetch(`${base}/model.wasm`);
      expect(wasm.headers.get("content-type")).toBe("application/wasm");
      expect((await fetch(`${base}/demo.html`)).headers.get("content-type")).toMatch(/^text\/html/);
      expect((await fetch(`${base}/missing.bin`)).status).toBe(404);
      expect((await fetch(`${base}/%2e%2e/%2e%2e/etc/passwd`)).status).not.toBe(200);
    } finally {
      child.kill();
    }
  });

  it("says so when the port is taken (io.listen, exit 8)", async () => {
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, "127.0.0.1", ok));
    const port = (blocker.address() as { port: number }).port;
    const r = await seec("serve", await tmpDir(), "--port", String(port));
    blocker.close();
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^seec: error\[io\.listen\] @ --port: cannot listen on 127\.0\.0\.1:\d+/);
  });
});
