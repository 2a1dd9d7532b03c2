#!/usr/bin/env node
// Runs a TypeScript benchmark script: esbuild bundles it (packages stay external) next to the
// CLI's cache, then it runs. Usage: node bench/run.mjs bench/kernels.ts
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
globalThis.SEEC_ROOT = pathToFileURL(root + "/").href;
const script = resolve(process.argv[2] ?? "");
const { outputFiles } = await build({
  entryPoints: [script],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  write: false,
  logLevel: "error",
});
const dir = join(root, "node_modules/.cache/seec");
await mkdir(dir, { recursive: true });
const file = join(dir, `bench-${process.pid}.mjs`);
await writeFile(file, outputFiles[0].contents);
try {
  await import(pathToFileURL(file).href);
} finally {
  await rm(file, { force: true });
}
