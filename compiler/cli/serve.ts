import { Command } from "commander";
import { existsSync } from "node:fs";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { SeecError } from "../../runtime/errors.js";
import { serveDirectory } from "../serve.js";
import { integer } from "./options.js";

export function serveCommand(): Command {
  return new Command("serve")
    .summary("serve an artifact directory over HTTP (for demo.html)")
    .description(
      "Serve a directory (on loopback unless --host says otherwise) with the right content types (application/wasm for streaming compilation).\n\nExample:\n  seec build model.json --demo -o out/use && seec serve out/use",
    )
    .argument("<dir>", "the directory to serve (nothing outside it, symbolic links included, is served)")
    .option("--port <n>", "port (0 picks a free one)", integer(0, 65535), 8080)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .action(async (dir: string, flags: { port: number; host: string }) => {
      const server = await serveDirectory(dir, flags.port, flags.host).catch((e: Error) => {
        if (e instanceof SeecError) throw e;
        // An address this machine does not have is the host's fault; anything else (a port in use, one that needs root) the port's.
        const at = /ENOTFOUND|EADDRNOTAVAIL|EAI_AGAIN/.test(`${(e as { code?: string }).code} ${e.message}`) ? "--host" : "--port";
        throw new SeecError("io.listen", `cannot listen on ${flags.host}:${flags.port}: ${e.message}`, { at });
      });
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : flags.port;
      const origin = `http://${isIPv6(flags.host) ? `[${flags.host}]` : flags.host}:${port}`;
      const demo = existsSync(join(dir, "demo.html")) ? ` (demo: ${origin}/demo.html)` : "";
      process.stdout.write(`serving ${dir} at ${origin}/${demo}; Ctrl-C stops\n`);
    });
}
