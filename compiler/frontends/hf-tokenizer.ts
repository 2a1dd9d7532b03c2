/** A Hugging Face tokenizer.json given with --tokenizer, read and checked at build time as the artifact's runtime will read it. */
import { SeecError } from "../../runtime/errors.js";
import { readChatTemplate } from "./chat-template.js";
import { readTokenizerJson } from "./tokenizer-json.js";
import { HfTokenizer, type HfTokenizerSpec } from "../../runtime/tokenizers/hf/index.js";

/**
 * Every part of the file checked now (unsupported.tokenizer, input.tokenizer name the part), not when
 * the artifact first tokenizes. A padding block (several sentence-transformers files carry
 * `{"strategy": {"Fixed": 128}}`) is dropped, with a note: the artifact's encode() gives a text's own
 * ids, as Python's Tokenizer.no_padding() does, and embed() pads to the built length and masks it.
 * A chat template saved beside the file (chat-template.ts) goes with it.
 */
export async function readHfTokenizer(file: string): Promise<{ spec: HfTokenizerSpec; notes: string[] }> {
  const json = await readTokenizerJson(file, "the tokenizer", {
    at: "--tokenizer",
    hint: "an ONNX model takes its Hugging Face tokenizer.json",
  });
  if (typeof json !== "object" || json === null || Array.isArray(json) || !("model" in json))
    throw new SeecError("input.tokenizer", "is not a Hugging Face tokenizer.json (an object with a model)", {
      file,
      at: "--tokenizer",
      hint: "an ONNX model takes the tokenizer.json saved beside it (tokenizer.save_pretrained, or the Hub's repository)",
    });
  const tokenizer = json as HfTokenizerSpec["tokenizer"];
  const notes: string[] = [];
  const pad = tokenizer.padding;
  if (pad) {
    // Padding one sequence to the longest of its batch changes nothing: only other padding is worth a note.
    if (pad.strategy !== "BatchLongest" || pad.pad_to_multiple_of)
      notes.push(`tokenizer.json's padding (${JSON.stringify(pad.strategy)}) dropped: encode() gives a text's own ids`);
    tokenizer.padding = null;
  }
  const spec: HfTokenizerSpec = { type: "hf-tokenizer-json", tokenizer };
  const { chat, note } = await readChatTemplate(file);
  if (chat) spec.chat = chat;
  if (note) notes.push(note);
  new HfTokenizer(spec, file);
  return { spec, notes };
}

/**
 * The tokenizer's ids index the model's embedding: none may lie past its last row, and an embedding
 * larger than the tokenizer may only be padded to a round size (exporters pad to multiples of 64 or
 * 128, e.g. Qwen2.5's 151,936 rows for 151,665 tokens), not be another model's.
 */
export function checkTokenizerVocabulary(spec: HfTokenizerSpec, rows: number, embedding: string, file: string): void {
  const tokens = new HfTokenizer(spec, file).vocabSize;
  const padded = Math.ceil(tokens / PAD_TO) * PAD_TO;
  if (tokens > rows || rows > padded)
    throw new SeecError("mismatch.tokenizer", `the tokenizer has ${tokens} tokens; the model's embedding ${embedding} has ${rows} rows`, {
      file,
      at: "--tokenizer",
      hint:
        tokens > rows
          ? "ids past the embedding's last row would read outside it: give the tokenizer.json of this model"
          : `more rows than the tokenizer's ${tokens} padded to a multiple of ${PAD_TO}: give the tokenizer.json of this model`,
    });
}

/** The largest rounding an embedding's rows may show over its tokenizer's count. */
const PAD_TO = 1024;
