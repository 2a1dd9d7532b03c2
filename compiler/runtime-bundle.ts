/** Bundles runtime/ into the artifact's index.mjs (esbuild) and supplies its typings. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { packageFile } from "./util/paths.js";

const RUNTIME = packageFile("runtime/");

export async function bundleRuntime(): Promise<{ js: string; dts: string }> {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("index.ts", RUNTIME))],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: true,
    legalComments: "none",
    external: ["node:*"],
    logLevel: "silent",
  });
  const js = `// seec runtime: load(dir?) -> Model. Typings in index.d.mts.\n${result.outputFiles[0].text}`;
  const dts = await readFile(new URL("artifact.d.ts", RUNTIME), "utf8");
  return { js, dts };
}
