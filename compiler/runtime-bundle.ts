/** Bundles runtime/ into the artifact's index.mjs (esbuild) and supplies its typings. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { packageFile } from "./util/paths.js";

const RUNTIME = packageFile("runtime/");

/**
 * The runtime's Hugging Face tokenizer.json reader (runtime/tokenizers/hf/, 17 KB minified) goes
 * only into the index.mjs of an artifact that carries one: elsewhere its place holds a class that
 * refuses the spec by name.
 */
const withoutHfTokenizer: esbuild.Plugin = {
  name: "without-hf-tokenizer",
  setup(build) {
    build.onResolve({ filter: /^\.\/hf\/index\.js$/ }, () => ({ path: "hf-tokenizer", namespace: "stub" }));
    build.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      resolveDir: fileURLToPath(new URL("tokenizers/", RUNTIME)),
      loader: "ts",
      contents: `import { SeecError } from "../errors.js";
export class HfTokenizer {
  constructor(_spec: unknown, file?: string) {
    throw new SeecError("unsupported.tokenizer", "this artifact's runtime reads no Hugging Face tokenizer.json", { file });
  }
}`,
    }));
  },
};

/** `hfTokenizer`: the artifact carries a Hugging Face tokenizer.json, and index.mjs its reader. */
export async function bundleRuntime({ hfTokenizer = false } = {}): Promise<{ js: string; dts: string }> {
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
    plugins: hfTokenizer ? [] : [withoutHfTokenizer],
  });
  const js = `// seec runtime: load(dir?) -> Model. Typings in index.d.mts.\n${result.outputFiles[0].text}`;
  const dts = await readFile(new URL("artifact.d.ts", RUNTIME), "utf8");
  return { js, dts };
}
