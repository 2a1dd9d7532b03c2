#!/usr/bin/env node
// The seec command. The compiler is TypeScript: esbuild bundles it (packages stay external, so
// Node loads them natively) into a cache file named by its content hash, then it runs.
import { createHash } from "node:crypto";
import { mkdir, writeFile, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
globalThis.SEEC_ROOT = pathToFileURL(root + "/").href;

const { outputFiles } = await build({
  entryPoints: [join(root, "compiler/cli/main.ts")],
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

async function cached(dir) {
  const file = join(dir, `cli-${hash}.mjs`);
  if (
    !(await access(file).then(
      () => true,
      () => false,
    ))
  ) {
    await mkdir(dir, { recursive: true });
    await writeFile(`${file}.${process.pid}`, code);
    await import("node:fs/promises").then((fs) => fs.rename(`${file}.${process.pid}`, file));
  }
  return file;
}

// Inside the package, so the bundle resolves the package's own dependencies.
const file = await cached(join(root, "node_modules/.cache/seec"));
await import(pathToFileURL(file).href);
