// seec serve: the artifact over HTTP with the content types browsers need, nothing outside it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";

const BIN = fileURLToPath(new URL("../../bin/seec.mjs", import.meta.url));

/** seec serve on a free loopback port; resolves with the child and its base URL. */
async function serve(dir: string): Promise<{ child: ChildProcess; base: string; port: number }> {
  const child = spawn(process.execPath, [BIN, "serve", dir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  const line = await new Promise<string>((ok, fail) => {
    child.stdout!.once("data", (d) => ok(String(d)));
    child.once("exit", (code) => fail(new Error(`seec serve exited with ${code}`)));
  });
  const base = /at (http:\/\/127\.0\.0\.1:(\d+))\//.exec(line)!;
  return { child, base: base[1], port: Number(base[2]) };
}

/** Sends `request` verbatim (no URL normalization on the way) and returns the status the server answered, or 0 for none (closed, or 5 s). */
function raw(port: number, request: string | Buffer): Promise<number> {
  return new Promise((ok) => {
    const socket = connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\r\n")) socket.destroy(); // the status line is all this needs
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      ok(Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1] ?? 0));
    });
    socket.write(request);
  });
}

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
      const page = await fetch(`${base}/demo.html`);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      // Cross-origin isolated, so a --threads build may share memory with its workers.
      expect([page.headers.get("cross-origin-opener-policy"), page.headers.get("cross-origin-embedder-policy")]).toEqual([
        "same-origin",
        "require-corp",
      ]);
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

  it("blames --host for an address that is not this machine's", async () => {
    const r = await seec("serve", await tmpDir(), "--port", "0", "--host", "999.1.1.1");
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^seec: error\[io\.listen\] @ --host: cannot listen on 999\.1\.1\.1:0/);
  });

  it("prints an IPv6 host in brackets, and the demo's address only where there is a demo", async () => {
    const dir = await tmpDir();
    const child = spawn(process.execPath, [BIN, "serve", dir, "--port", "0", "--host", "::1"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const line = await new Promise<string>((ok, fail) => {
        child.stdout!.once("data", (d) => ok(String(d)));
        child.once("exit", (code) => fail(new Error(`seec serve exited with ${code}`)));
      }).catch(() => undefined);
      if (line === undefined) return; // no IPv6 loopback on this machine
      expect(line).toMatch(/^serving \S+ at http:\/\/\[::1\]:\d+\/; Ctrl-C stops\n$/);
    } finally {
      child.kill();
    }
  });

  it("survives a storm of malformed requests, then still answers", async () => {
    const dir = await tmpDir();
    writeFileSync(join(dir, "demo.html"), "<!doctype html>");
    const { child, base, port } = await serve(dir);
    try {
      const paths = [
        "/%ff",
        "/%",
        "/%%",
        "/%zz",
        "/%e0%a4%a",
        "/%c0%af",
        "/%ed%a0%80",
        "/a%",
        "/%2",
        "/%00",
        "/demo.html%00.png",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/../../etc/passwd",
        "//etc/passwd",
        "/%5c..%5c..%5cetc%5cpasswd",
        `/${"a".repeat(5000)}`,
        `/${"%ff".repeat(500)}`,
        "*",
        "http://x/%ff",
        "/\u00ff\u00fe",
        "/demo.html%",
        "/demo.html%ff?x=%ff",
        "/dir/",
        "/%2f%2f",
      ];
      const requests: (string | Buffer)[] = [];
      for (let i = 0; requests.length < 200; i++) {
        const p = paths[i % paths.length];
        const method = ["GET", "HEAD", "POST", "BREW"][Math.floor(i / paths.length) % 4];
        requests.push(`${method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        if (i % 10 === 0)
          requests.push(
            "GARBAGE\r\n\r\n",
            Buffer.from([0x47, 0x45, 0x54, 0x20, 0x2f, 0xff, 0x00, 0x20, 0x0d, 0x0a, 0x0d, 0x0a]),
            `GET /${"%".repeat(i)} HTTP/1.1\r\n\r\n`,
          );
      }
      const statuses: number[] = [];
      for (let i = 0; i < requests.length; i += 20)
        statuses.push(...(await Promise.all(requests.slice(i, i + 20).map((r) => raw(port, r)))));
      expect(statuses.length).toBeGreaterThanOrEqual(200);
      // Each is answered, and with a 4xx: a malformed path is the client's error, and nothing outside is served.
      expect(statuses.filter((s) => s < 400 || s > 499)).toEqual([]);
      expect(await raw(port, "GET /%ff HTTP/1.1\r\nConnection: close\r\n\r\n")).toBe(400);
      expect(await raw(port, "GET /% HTTP/1.1\r\nConnection: close\r\n\r\n")).toBe(400);
      expect(child.exitCode).toBeNull();
      const good = await fetch(`${base}/demo.html`);
      expect(good.status).toBe(200);
      expect(await good.text()).toBe("<!doctype html>");
    } finally {
      child.kill();
    }
  }, 60_000);

  it("refuses (403) what a symbolic link leads to outside the directory", async () => {
    const dir = await tmpDir(),
      outside = await tmpDir();
    writeFileSync(join(outside, "secret.txt"), "secret");
    writeFileSync(join(dir, "model.json"), "{}");
    symlinkSync(outside, join(dir, "outlink"));
    symlinkSync(join(outside, "secret.txt"), join(dir, "secret.txt"));
    mkdirSync(join(dir, "sub"));
    symlinkSync(join(dir, "model.json"), join(dir, "sub", "inside.json"));
    const { child, base } = await serve(dir);
    try {
      expect((await fetch(`${base}/outlink/secret.txt`)).status).toBe(403);
      expect((await fetch(`${base}/secret.txt`)).status).toBe(403);
      expect((await fetch(`${base}/sub/inside.json`)).status).toBe(200); // a link that stays inside is fine
      expect((await fetch(`${base}/model.json`)).status).toBe(200);
    } finally {
      child.kill();
    }
  });

  it("refuses a missing directory, or a file, at start", async () => {
    const dir = await tmpDir();
    const missing = await seec("serve", join(dir, "absent"), "--port", "0");
    expect(missing.code).toBe(8);
    expect(missing.stderr).toMatch(/^seec: error\[io\.not_found\] .*absent: cannot serve .*absent: no such directory\n$/);
    writeFileSync(join(dir, "f.txt"), "x");
    const file = await seec("serve", join(dir, "f.txt"), "--port", "0");
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/^seec: error\[usage\.not_a_directory\] .*f\.txt: cannot serve .*: it is not a directory/);
    expect(file.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("seec serve's caching and ranges", () => {
  it("answers a request with the file's ETag by 304, and a Range by its bytes (206) or 416", async () => {
    const { serveDirectory } = await import("../../compiler/serve.js");
    const dir = await tmpDir();
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
    writeFileSync(join(dir, "weights.bin"), bytes);
    const server = await serveDirectory(dir, 0);
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/weights.bin`;
    try {
      const first = await fetch(url);
      const etag = first.headers.get("etag")!;
      expect([first.status, first.headers.get("cache-control"), (await first.arrayBuffer()).byteLength]).toEqual([200, "no-cache", 100]);
      const again = await fetch(url, { headers: { "if-none-match": etag } });
      expect([again.status, (await again.arrayBuffer()).byteLength]).toEqual([304, 0]);
      const ranged = async (range: string) => {
        const r = await fetch(url, { headers: { range } });
        return [r.status, r.headers.get("content-range"), Array.from(new Uint8Array(await r.arrayBuffer()))];
      };
      expect(await ranged("bytes=2-4")).toEqual([206, "bytes 2-4/100", [2, 3, 4]]);
      expect(await ranged("bytes=98-")).toEqual([206, "bytes 98-99/100", [98, 99]]);
      expect(await ranged("bytes=-2")).toEqual([206, "bytes 98-99/100", [98, 99]]);
      expect(await ranged("bytes=100-")).toEqual([416, "bytes */100", []]);
      // An invalid range (last before first) is ignored, as RFC 7233 asks: the whole file.
      expect(await ranged("bytes=5-2")).toEqual([200, null, Array.from(bytes)]);
      writeFileSync(join(dir, "weights.bin"), bytes.subarray(0, 50)); // rebuilt: the old ETag no longer matches
      expect((await fetch(url, { headers: { "if-none-match": etag } })).status).toBe(200);
    } finally {
      server.close();
    }
  });
});
