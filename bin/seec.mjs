#!/usr/bin/env node
// The seec command. An installed package runs dist/cli.mjs, compiled before packing (npm run
// prepack, scripts/build-dist.mjs): nothing is bundled at start-up and nothing written.
// In a checkout (the TypeScript sources are here, so a dist/ left by npm pack may be stale) esbuild
// bundles the compiler (packages stay external, so Node loads them natively) into a cache file
// named by its content hash, then it runs.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
globalThis.SEEC_ROOT = pathToFileURL(root + "/").href;

const source = join(root, "compiler/cli/main.ts");
const compiled = join(root, "dist/cli.mjs");
if (!existsSync(source) && existsSync(compiled)) await import(pathToFileURL(compiled).href);
else await import(pathToFileURL(await bundled()).href);

/** The command bundled from its sources, in the package's own node_modules/.cache/seec (so it resolves the package's dependencies). */
async function bundled() {
  const { build } = await import("esbuild");
  const { outputFiles } = await build({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    write: false,
    sourcemap: "inline",
    logLevel: "error",
  });
  const code = outputFiles[0].contents;
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const dir = join(root, "node_modules/.cache/seec");
  const file = join(dir, `cli-${hash}.mjs`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    // Written whole under another name first: a concurrent process never runs half a script.
    await writeFile(`${file}.${process.pid}`, code);
    await rename(`${file}.${process.pid}`, file);
  }
  return file;
}
