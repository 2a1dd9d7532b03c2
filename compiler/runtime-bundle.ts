/** Bundles runtime/ into the artifact's index.mjs (esbuild) and supplies its typings. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { packageFile } from "./util/paths.js";

const RUNTIME = packageFile("runtime/");

/**
 * What only some artifacts use, each replaced elsewhere by a stub that refuses by name, so that
 * other artifacts' index.mjs stays as small as before: the reader of a Hugging Face tokenizer.json
 * (runtime/tokenizers/hf/, 17 KB minified) and the pooling of an imported encoder's embed()
 * (runtime/pooling.ts, which tokenizes with it), in artifacts carrying a tokenizer.json; the chat
 * template engine (runtime/chat/, 25 KB), in those whose tokenizer carries a chat template (a
 * tokenizer.json's, or a GGUF file's tokenizer.chat_template).
 */
const CHAT_STUB = {
  dir: "",
  contents: `import { SeecError } from "./errors.js";
export class ChatTemplate {
  constructor(_spec: unknown, file?: string) {
    throw new SeecError("unsupported.chat_template", "this artifact's runtime renders no chat template", { file });
  }
}`,
};

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
  // The chat engine, as the Llama2c tokenizer (tokenizers/) and the Hugging Face one (tokenizers/hf/) import it.
  "../chat/index.js": CHAT_STUB,
  "../../chat/index.js": CHAT_STUB,
};

/** Resolves the imports named to their stubs. */
function stubbing(paths: string[]): esbuild.Plugin {
  const escaped = paths.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
  return {
    name: "stubs",
    setup(build) {
      build.onResolve({ filter: new RegExp(`^(${escaped.join("|")})$`) }, ({ path }) => ({ path, namespace: "stub" }));
      build.onLoad({ filter: /.*/, namespace: "stub" }, ({ path }) => ({
        resolveDir: fileURLToPath(new URL(STUBS[path].dir, RUNTIME)),
        loader: "ts",
        contents: STUBS[path].contents,
      }));
    },
  };
}

/** `hfTokenizer`: the artifact carries a Hugging Face tokenizer.json, and index.mjs its reader; `chat`: its tokenizer carries a chat template, and index.mjs its engine. */
export async function bundleRuntime({ hfTokenizer = false, chat = false } = {}): Promise<{ js: string; dts: string }> {
  const stubs = [...(hfTokenizer ? [] : ["./hf/index.js", "./pooling.js"]), ...(chat ? [] : ["../chat/index.js", "../../chat/index.js"])];
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
    plugins: stubs.length ? [stubbing(stubs)] : [],
  });
  const js = `// seec runtime: load(dir?) -> Model. Typings in index.d.mts.\n${result.outputFiles[0].text}`;
  const dts = await readFile(new URL("artifact.d.ts", RUNTIME), "utf8");
  return { js, dts };
}
