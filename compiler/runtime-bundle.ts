/** Bundles runtime/ into the artifact's index.mjs (esbuild) and supplies its typings. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { packageFile } from "./util/paths.js";

const RUNTIME = packageFile("runtime/");

/**
 * What only an artifact carrying a Hugging Face tokenizer.json uses: its reader
 * (runtime/tokenizers/hf/, 17 KB minified) and the pooling of an imported encoder's embed()
 * (runtime/pooling.ts, which tokenizes with it). Elsewhere each import resolves to a stub that
 * refuses by name, so other artifacts' index.mjs stays as small as before.
 */
const STUBS: Record<string, { dir: string; contents: string }> = {
  "./hf/index.js": {
    dir: "tokenizers/",
    contents: `import { SeecError } from "../errors.js";
export class HfTokenizer {
  constructor(_spec: unknown, file?: string) {
    throw new SeecError("unsupported.tokenizer", "this artifact's runtime reads no Hugging Face tokenizer.json", { file });
  }
}`,
  },
  "./pooling.js": {
    dir: "",
    contents: `import { SeecError } from "./errors.js";
export function pooledEmbedding(): never {
  throw new SeecError("runtime.family", "this artifact's runtime pools no embedding: it carries no Hugging Face tokenizer.json");
}`,
  },
};

const withoutHfTokenizer: esbuild.Plugin = {
  name: "without-hf-tokenizer",
  setup(build) {
    build.onResolve({ filter: /^\.\/(hf\/index|pooling)\.js$/ }, ({ path }) => ({ path, namespace: "stub" }));
    build.onLoad({ filter: /.*/, namespace: "stub" }, ({ path }) => ({
      resolveDir: fileURLToPath(new URL(STUBS[path].dir, RUNTIME)),
      loader: "ts",
      contents: STUBS[path].contents,
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
