/**
 * A worker thread's TypeScript entry as a script Node runs: esbuild bundles it (packages stay
 * external, resolved from the package's node_modules) into the cache beside the command's own
 * bundle (bin/seec.mjs does the same for the CLI), named by its content hash. The bundle sets
 * SEEC_ROOT first, as bin/seec.mjs does, so that package files resolve from the worker too.
 * An installed package has no TypeScript sources but the script compiled before packing
 * (dist/<name>.mjs, scripts/build-dist.mjs): that one runs, and nothing is bundled or written.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { packageFile } from "./paths.js";

const made = new Map<string, Promise<URL>>();

/** The script for the package file `entry` (e.g. "compiler/see/distill-worker.ts"), bundled once a process. */
export function workerScript(entry: string): Promise<URL> {
  let script = made.get(entry);
  if (!script) made.set(entry, (script = bundle(entry)));
  return script;
}

async function bundle(entry: string): Promise<URL> {
  const compiled = packageFile(`dist/${basename(entry).replace(/\.ts$/, "")}.mjs`);
  if (!existsSync(packageFile(entry)) && existsSync(compiled)) return compiled;
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(packageFile(entry))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    write: false,
    logLevel: "error",
    banner: { js: `globalThis.SEEC_ROOT ??= ${JSON.stringify(packageFile("").href)};` },
  });
  const code = result.outputFiles[0].contents;
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const dir = packageFile("node_modules/.cache/seec/");
  const file = new URL(`${basename(entry).replace(/\.ts$/, "")}-${hash}.mjs`, dir);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    // Written whole under another name first: a concurrent process never runs half a script.
    const part = new URL(`${file.href}.${process.pid}`);
    await writeFile(part, code);
    await rename(part, file);
  }
  return file;
}
