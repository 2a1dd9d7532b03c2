/**
 * llama2.c tokenizer files (tokenizer.bin, tok512.bin): int32 max_token_length, then per token
 * a float32 score, an int32 byte length and the piece's bytes. The file does not store the
 * vocabulary size: it must match the model's.
 */
import { SeecError } from "../../runtime/errors.js";
import type { Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";
import { ByteReader } from "./byte-reader.js";

export function readLlama2cTokenizer(bytes: Uint8Array, file: string, vocabSize: number): Llama2cTokenizerSpec {
  const r = new ByteReader(bytes, file);
  const maxLen = r.i32("max_token_length");
  if (maxLen < 1 || maxLen > 1024)
    throw new SeecError("input.tokenizer", `max_token_length ${maxLen} is out of range [1, 1024]`, {
      file,
      at: "byte 0",
      hint: "is this a llama2.c tokenizer file?",
    });
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const pieces: string[] = [],
    scores: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    const at = r.offset;
    if (r.remaining === 0)
      throw new SeecError("mismatch.tokenizer", `the tokenizer ends after ${i} tokens; the model has ${vocabSize}`, {
        file,
        at: `byte ${at}`,
        hint: "this tokenizer belongs to another model",
      });
    const score = r.f32(`the score of token ${i}`);
    const len = r.i32(`the length of token ${i}`);
    if (len < 0 || len > maxLen || !Number.isFinite(score))
      throw new SeecError(
        "input.tokenizer",
        `token ${i} has ${Number.isFinite(score) ? `length ${len} (max_token_length is ${maxLen})` : `score ${score}`}`,
        { file, at: `byte ${at}` },
      );
    try {
      pieces.push(utf8.decode(r.bytesOf(len, `the bytes of token ${i}`)));
    } catch (e) {
      if (e instanceof SeecError) throw e;
      throw new SeecError("input.tokenizer", `token ${i} is not valid UTF-8`, { file, at: `byte ${at + 8}` });
    }
    scores.push(score);
  }
  if (r.remaining !== 0)
    throw new SeecError("mismatch.tokenizer", `the tokenizer holds more than the model's ${vocabSize} tokens (${r.remaining} bytes left)`, {
      file,
      at: `byte ${r.offset}`,
      hint: "this tokenizer belongs to another model",
    });
  return { type: "llama2c-bpe", pieces, scores, bosId: 1, eosId: 2 };
}
