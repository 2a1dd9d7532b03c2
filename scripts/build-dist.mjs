#!/usr/bin/env node
// dist/ for the package (npm pack runs this as prepack): the command, the programmatic API and the
// distillation worker compiled once, so an installed seec bundles nothing at start-up and writes
// nothing into its own directory; and the API's type declarations.
//
//   dist/cli.mjs              what bin/seec.mjs runs when the TypeScript sources are not there
//   dist/api.mjs              the package's "." export (compiler/api.ts)
//   dist/distill-worker.mjs   a distillation thread's script (compiler/util/worker-script.ts)
//   dist/chunk-*.mjs          code they share
//   dist/types/               declarations; dist/types/compiler/api.d.ts is the package's "types"
//                             (tsc writes them; runtime/artifact.d.ts, written by hand, is copied)
//
// Packages stay external: Node loads them from the package's dependencies. Every file sets
// SEEC_ROOT (compiler/util/paths.ts) to the package root, the folder above dist/, before its code.
import { execFileSync } from "node:child_process";
import { copyFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}dist`;
await rm(dist, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: "compiler/cli/main.ts", api: "compiler/api.ts", "distill-worker": "compiler/see/distill-worker.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunk-[hash]",
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  banner: { js: `globalThis.SEEC_ROOT ??= new URL("../", import.meta.url).href;` },
  logLevel: "warning",
});
execFileSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-p", "tsconfig.dist.json"], {
  cwd: root,
  stdio: "inherit",
});
await copyFile(`${root}runtime/artifact.d.ts`, `${dist}/types/runtime/artifact.d.ts`);
