/**
 * GGUF files (llama.cpp's format) -> the Llama graph. The llama architecture only: its
 * hyperparameters from `llama.*` metadata, its tensors dequantized to f32 (F32, F16, BF16, Q8_0,
 * Q4_0, and the Q4_K and Q6_K of llama.cpp's Q4_K_M files) into the same config and weights the llama2.c frontend reads, and its SentencePiece
 * vocabulary (tokenizer.ggml.model = "llama") into the same tokenizer spec llama2.c's tokenizer gives,
 * with the chat template (tokenizer.chat_template) where the file has one.
 */
import { ChatTemplate, type ChatSpec } from "../../runtime/chat/index.js";
import { SeecError } from "../../runtime/errors.js";
import type { Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import { readGgufContainer, type GgufFile, type GgufValue } from "./gguf/container.js";
import { LAYER_TENSORS, pieceFromGguf, TOKEN_TYPE } from "./gguf/llama-layout.js";
import { dequantize } from "./gguf/quant.js";
import { checkLlamaConfig, type LlamaConfig, type LlamaGraphOptions, type LlamaWeights } from "./llama-graph.js";

export interface GgufModel {
  config: LlamaConfig;
  weights: LlamaWeights;
  tokenizer?: Llama2cTokenizerSpec;
  /** What the Llama graph takes from the metadata besides the config. */
  options: Pick<LlamaGraphOptions, "rmsEpsilon" | "ropeTheta" | "bosId" | "eosId">;
}

export function readGguf(bytes: Uint8Array, file: string): GgufModel {
  const gguf = readGgufContainer(bytes, file);
  const meta = new Metadata(gguf, file);
  const arch = meta.string("general.architecture");
  if (arch !== "llama")
    throw new SeecError("unsupported.gguf_architecture", `general.architecture is "${arch}"; seec reads the llama architecture`, {
      file,
      at: "general.architecture",
    });
  // Llama 3.1's frequency factors come as a tensor; seec's RoPE tables have no place for them yet.
  if (gguf.tensors.has("rope_freqs.weight"))
    throw new SeecError("unsupported.gguf_rope", "rope_freqs.weight rescales RoPE's frequencies (Llama 3.1 style)", {
      file,
      at: "rope_freqs.weight",
    });
  const embd = tensorInfo(gguf, file, "token_embd.weight");
  const config: LlamaConfig = {
    dim: meta.int("llama.embedding_length"),
    hiddenDim: meta.int("llama.feed_forward_length"),
    nLayers: meta.int("llama.block_count"),
    nHeads: meta.int("llama.attention.head_count"),
    nKvHeads: meta.int("llama.attention.head_count_kv", meta.int("llama.attention.head_count")),
    vocabSize: embd.dims[1] ?? 0,
    seqLen: meta.int("llama.context_length"),
    sharedClassifier: !gguf.tensors.has("output.weight"),
  };
  checkLlamaConfig(config, (msg) => {
    throw new SeecError("input.gguf", msg, { file, at: "llama.* metadata" });
  });
  const rotary = meta.int("llama.rope.dimension_count", config.dim / config.nHeads);
  if (rotary !== config.dim / config.nHeads)
    throw new SeecError(
      "unsupported.gguf_rope",
      `llama.rope.dimension_count ${rotary} rotates part of each head of ${config.dim / config.nHeads}`,
      {
        file,
        at: "llama.rope.dimension_count",
      },
    );
  const scaling = meta.optional("llama.rope.scaling.type");
  if (scaling !== undefined && scaling !== "none")
    throw new SeecError("unsupported.gguf_rope", `RoPE scaling "${String(scaling)}" is not supported`, {
      file,
      at: "llama.rope.scaling.type",
    });

  const read = (name: string, shape: number[]): Float32Array => {
    const t = tensorInfo(gguf, file, name);
    const want = [...shape].reverse();
    if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i]))
      throw new SeecError(
        "input.gguf",
        `tensor ${name} is ${t.dims.join(" x ")}; the metadata makes it ${want.join(" x ")} (innermost first)`,
        {
          file,
          at: name,
        },
      );
    return dequantize(t.type, bytes.subarray(t.offset), t.count);
  };
  const { dim, vocabSize, nLayers } = config;
  const tokEmbeddings = read("token_embd.weight", [vocabSize, dim]);
  const layers = Object.fromEntries(
    LAYER_TENSORS.map(([suffix, key, shape]) => [
      key,
      Array.from({ length: nLayers }, (_, l) => read(`blk.${l}.${suffix}.weight`, shape(config))),
    ]),
  ) as Pick<LlamaWeights, (typeof LAYER_TENSORS)[number][1]>;
  const weights: LlamaWeights = {
    tokEmbeddings,
    ...layers,
    norm: read("output_norm.weight", [dim]),
    output: config.sharedClassifier ? tokEmbeddings : read("output.weight", [vocabSize, dim]),
  };
  const bosId = meta.int("tokenizer.ggml.bos_token_id", 1);
  const eosId = meta.int("tokenizer.ggml.eos_token_id", 2);
  return {
    config,
    weights,
    tokenizer: readTokenizer(meta, file, vocabSize, bosId, eosId),
    options: {
      rmsEpsilon: meta.float("llama.attention.layer_norm_rms_epsilon", 1e-5),
      ropeTheta: meta.float("llama.rope.freq_base", 10000),
      bosId,
      eosId,
    },
  };
}

function tensorInfo(gguf: GgufFile, file: string, name: string) {
  const t = gguf.tensors.get(name);
  if (!t)
    throw new SeecError("input.gguf", `tensor ${name} is missing`, { file, at: name, hint: "is this a llama-architecture GGUF file?" });
  return t;
}

/** The SentencePiece vocabulary, or none when the file has no tokenizer metadata. */
function readTokenizer(meta: Metadata, file: string, vocabSize: number, bosId: number, eosId: number): Llama2cTokenizerSpec | undefined {
  const model = meta.optional("tokenizer.ggml.model");
  if (model === undefined) return undefined;
  if (model !== "llama")
    throw new SeecError(
      "unsupported.gguf_tokenizer",
      `tokenizer.ggml.model is "${String(model)}"; seec reads SentencePiece ("llama") vocabularies`,
      {
        file,
        at: "tokenizer.ggml.model",
      },
    );
  const tokens = meta.array("tokenizer.ggml.tokens");
  const scores = meta.array("tokenizer.ggml.scores");
  const bad = (at: string, msg: string): never => {
    throw new SeecError("input.gguf", msg, { file, at });
  };
  if (tokens.length !== vocabSize) bad("tokenizer.ggml.tokens", `${tokens.length} tokens for a model of ${vocabSize}`);
  if (scores.length !== vocabSize) bad("tokenizer.ggml.scores", `${scores.length} scores for ${vocabSize} tokens`);
  if (bosId >= vocabSize || eosId >= vocabSize)
    bad("tokenizer.ggml.bos_token_id", `BOS ${bosId} or EOS ${eosId} is outside the ${vocabSize} tokens`);
  const pieces = tokens.map((t, i) =>
    typeof t === "string" ? pieceFromGguf(t, i, bosId, eosId) : bad("tokenizer.ggml.tokens", `token ${i} is not a string`),
  );
  const values = scores.map((s, i) =>
    typeof s === "number" && Number.isFinite(s) ? s : bad("tokenizer.ggml.scores", `score ${i} is not a finite number`),
  );
  const spec: Llama2cTokenizerSpec = { type: "llama2c-bpe", pieces, scores: values, bosId, eosId };
  const template = meta.optional("tokenizer.chat_template");
  if (template === undefined) return spec;
  if (typeof template !== "string") bad("tokenizer.chat_template", "is not a string");
  // The strings the template prints for bos_token and friends, as llama.cpp passes them: the tokens as the file spells them.
  const written = (id: number) => tokens[id] as string;
  const unkId = meta.int("tokenizer.ggml.unknown_token_id", 0);
  const printed: Record<string, string> = { bos_token: written(bosId), eos_token: written(eosId) };
  if (unkId < vocabSize) printed.unk_token = written(unkId);
  // llama.cpp's converter writes a tokenizer_config.json's named "tool_use" template beside the default one.
  const toolUse = meta.optional("tokenizer.chat_template.tool_use");
  if (toolUse !== undefined && typeof toolUse !== "string") bad("tokenizer.chat_template.tool_use", "is not a string");
  const chat: ChatSpec = {
    template: template as string,
    ...(toolUse !== undefined ? { toolUse: toolUse as string } : {}),
    tokens: printed,
  };
  new ChatTemplate(chat, file);
  spec.chat = chat;
  // What llama.cpp reads as special when it tokenizes a rendered conversation: control, user-defined and unknown tokens.
  const types = meta.optional("tokenizer.ggml.token_type");
  if (Array.isArray(types) && types.length === vocabSize)
    spec.specials = types.flatMap((t, id) => (SPECIAL_TYPES.has(Number(t)) ? [id] : []));
  return spec;
}

/** GGUF token types a chat template's text may write out: unknown, control, user-defined. */
const SPECIAL_TYPES = new Set<number>([TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.userDefined]);

/** Typed access to the metadata: a missing or mistyped key is an error naming it. */
class Metadata {
  constructor(
    private readonly gguf: GgufFile,
    private readonly file: string,
  ) {}

  optional(key: string): GgufValue | undefined {
    return this.gguf.metadata.get(key);
  }

  private need(key: string, fallback: number | undefined, want: string): GgufValue {
    const v = this.gguf.metadata.get(key) ?? fallback;
    if (v === undefined) throw new SeecError("input.gguf", `metadata ${key} is missing (${want})`, { file: this.file, at: key });
    return v;
  }

  private wrong(key: string, want: string, v: GgufValue): never {
    throw new SeecError("input.gguf", `metadata ${key} is ${Array.isArray(v) ? "an array" : JSON.stringify(String(v))}, not ${want}`, {
      file: this.file,
      at: key,
    });
  }

  int(key: string, fallback?: number): number {
    const raw = this.need(key, fallback, "an integer");
    const v = typeof raw === "bigint" && raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : raw;
    return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : this.wrong(key, "a non-negative integer", raw);
  }

  /** An f32 value is read as the shortest decimal that rounds to it: 1e-5 stays 1e-5, as llama2.c's constant. */
  float(key: string, fallback?: number): number {
    const v = this.need(key, fallback, "a number");
    if (typeof v !== "number" || !Number.isFinite(v)) return this.wrong(key, "a finite number", v);
    for (let digits = 1; digits < 17; digits++) {
      const short = Number(v.toPrecision(digits));
      if (Math.fround(short) === v) return short;
    }
    return v;
  }

  string(key: string): string {
    const v = this.need(key, undefined, "a string");
    return typeof v === "string" ? v : this.wrong(key, "a string", v);
  }

  array(key: string): GgufValue[] {
    const v = this.gguf.metadata.get(key);
    if (v === undefined) throw new SeecError("input.gguf", `metadata ${key} is missing`, { file: this.file, at: key });
    return Array.isArray(v) ? v : this.wrong(key, "an array", v);
  }
}
