/** Reads a model given on the command line into the IR, choosing the frontend by the file's format. */
import { readFile, stat } from "node:fs/promises";
import { SeecError } from "../../runtime/errors.js";
import type { Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import type { Graph } from "../ir/graph.js";
import { llama2cGraph, readLlama2cCheckpoint } from "./llama2c.js";
import { readLlama2cTokenizer } from "./llama2c-tokenizer.js";

export interface ModelSource {
  /** The model file. */
  model: string;
  /** A tokenizer file, where the model format keeps it apart (llama2.c). */
  tokenizer?: string;
  /** Most tokens per call (prompt chunk); sizes the activation memory. */
  maxChunk?: number;
  /** Context length (KV cache rows); at most the model's own. */
  context?: number;
}

export interface LoadedModel {
  graph: Graph;
  tokenizer?: Llama2cTokenizerSpec;
  format: "llama2c" | "graph";
}

export const DEFAULT_MAX_CHUNK = 32;

export async function loadModel(src: ModelSource): Promise<LoadedModel> {
  const bytes = await readInput(src.model, "model");
  const { config, weights } = readLlama2cCheckpoint(bytes, src.model);
  const name = src.model.split(/[\\/]/).pop()!.replace(/\.[^.]*$/, "");
  const graph = llama2cGraph(name, config, weights, { maxChunk: src.maxChunk ?? DEFAULT_MAX_CHUNK, context: src.context });
  const tokenizer = src.tokenizer ? readLlama2cTokenizer(await readInput(src.tokenizer, "tokenizer"), src.tokenizer, config.vocabSize) : undefined;
  return { graph, tokenizer, format: "llama2c" };
}

/** Reads a whole input file, with errors that say which argument named it. */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new SeecError("usage.not_a_file", `the ${what} ${path} is not a file`, { file: path });
    size = s.size;
  } catch (e) {
    if (e instanceof SeecError) throw e;
    throw new SeecError("io.not_found", `cannot read the ${what}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, { file: path });
  }
  if (size > 4 * 1024 ** 3) throw new SeecError("unsupported.too_large", `the ${what} is ${size} bytes; seec reads files up to 4 GiB`, { file: path });
  return new Uint8Array(await readFile(path));
}
