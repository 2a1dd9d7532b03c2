// `_start` for an encoder under WASI: seec run's --text flags in; each text, then the cosine
// similarity of every pair, out — byte for byte what `seec run` prints for the same texts.
import { formatFixed3, formatInteger } from "./numbers";
import { encodeUnigram, UnigramVocabulary } from "./unigram";
import { decodeUtf8, encodeUtf8, utf16Units } from "./utf8";
import { argAt, cstrEquals, cstrLength, EXIT_USAGE, fail, mark, readArgs, release, STDOUT, take, writeBytes, writeText } from "./wasi";

/** Where the compiled model keeps what the driver reads and writes. */
export class EncoderModel {
  tokens: usize = 0;
  /** The embedding (dim f32). */
  output: usize = 0;
  dim: i32 = 0;
  /** Most tokens one text keeps (the rest are clipped, as the runtime clips them). */
  maxLength: i32 = 0;
  /** The tokenizer table embedded in the module. */
  tokenizer: usize = 0;
  /**
   * An encoder that takes several texts a call (compiler/passes/pack-texts.ts): where their token
   * counts go (0: one text a call), and the most texts and tokens a call takes.
   */
  lengths: usize = 0;
  maxTexts: i32 = 1;
  maxTokens: i32 = 0;
}

const USAGE =
  "usage: <program> --text TEXT [TEXT...] [--text TEXT...]\n" +
  "Embeds each text and prints the cosine similarity of every pair.\n" +
  "  -x, --text TEXT...     texts to embed; repeat the flag or list several\n";

/** Longest label text before it is cut to 57 UTF-16 units and "..." (seec run's rule). */
const LABEL_UNITS = 60;
const LABEL_CUT = 57;

/** `forward(T, B)`: runs the model on the B texts of T tokens in all that the driver wrote. */
export function runEncoder(model: EncoderModel, forward: (T: i32, B: i32) => void): void {
  const args = readArgs();
  const texts = take(<usize>args.count * 4);
  let count = 0;
  for (let i = 1; i < args.count; i++) {
    const flag = argAt(args, i);
    if (cstrEquals(flag, "--help") || cstrEquals(flag, "-h")) {
      writeText(STDOUT, USAGE);
      return;
    }
    if (!(cstrEquals(flag, "--text") || cstrEquals(flag, "-x"))) fail(EXIT_USAGE, "usage.flag", "unknown flag or argument ", flag);
    if (i + 1 >= args.count || load<u8>(argAt(args, i + 1)) == 45) fail(EXIT_USAGE, "usage.argument", "a flag without its value: ", flag);
    // Like the CLI's variadic flag: every following argument up to the next flag is a text.
    while (i + 1 < args.count && load<u8>(argAt(args, i + 1)) != 45) {
      store<usize>(texts + <usize>count * 4, argAt(args, ++i));
      count++;
    }
  }
  if (count == 0) fail(EXIT_USAGE, "usage.text", "an encoder needs texts to embed (--text)");

  const vocab = new UnigramVocabulary(model.tokenizer);
  const vectors = take(<usize>count * <usize>model.dim * 4);
  // Texts packed into calls as the JavaScript runtime packs them (runtime/batches.ts): in order, as
  // many as fit, so that both sum in the same order and print the same digits.
  const ids = take(<usize>model.maxLength * 4);
  let t = 0;
  let n = encodeText(vocab, texts, t, ids, model.maxLength);
  while (t < count) {
    let inCall = 0, total = 0;
    while (t < count && (inCall == 0 || (inCall < model.maxTexts && total + n <= model.maxTokens))) {
      memory.copy(model.tokens + <usize>total * 4, ids, <usize>n * 4);
      if (model.lengths) store<i32>(model.lengths + <usize>inCall * 4, n);
      total += n;
      inCall++;
      if (++t < count) n = encodeText(vocab, texts, t, ids, model.maxLength);
    }
    forward(total, inCall);
    memory.copy(vectors + <usize>(t - inCall) * <usize>model.dim * 4, model.output, <usize>inCall * <usize>model.dim * 4);
  }

  for (let t = 0; t < count; t++) writeLabel(t, load<usize>(texts + <usize>t * 4));
  const text = memory.data(32);
  writeText(STDOUT, "\n     ");
  for (let j = 0; j < count; j++) writePadded(text, formatInteger(j + 1, text), 7);
  writeText(STDOUT, "\n");
  for (let i = 0; i < count; i++) {
    writePadded(text, formatInteger(i + 1, text), 4);
    writeText(STDOUT, " ");
    for (let j = 0; j < count; j++) {
      const a = vectors + <usize>i * <usize>model.dim * 4, b = vectors + <usize>j * <usize>model.dim * 4;
      writePadded(text, formatFixed3(cosine(a, b, model.dim), text), 7);
    }
    writeText(STDOUT, "\n");
  }
}

/** Text t's token ids (at most `most`) at `ids`; returns how many. */
function encodeText(vocab: UnigramVocabulary, texts: usize, t: i32, ids: usize, most: i32): i32 {
  const text = load<usize>(texts + <usize>t * 4);
  return encodeUnigram(vocab, text, cstrLength(text), ids, most);
}

/** "<n>. <text>", the text cut at 57 UTF-16 units plus "..." when it is longer than 60. */
function writeLabel(t: i32, text: usize): void {
  const buffer = memory.data(24);
  writeBytes(STDOUT, buffer, formatInteger(t + 1, buffer));
  writeText(STDOUT, ". ");
  const length = cstrLength(text);
  const scratch = mark();
  const cps = take(<usize>length * 4);
  const n = decodeUtf8(text, length, cps);
  let total = 0;
  for (let i = 0; i < n; i++) total += utf16Units(load<u32>(cps + <usize>i * 4));
  const keep = total > LABEL_UNITS ? LABEL_CUT : total;
  let units = 0;
  for (let i = 0; i < n && units < keep; i++) {
    const cp = load<u32>(cps + <usize>i * 4);
    units += utf16Units(cp);
    // A surrogate pair cut in half: JavaScript prints the lone half as U+FFFD.
    writeBytes(STDOUT, buffer, encodeUtf8(units > keep ? 0xfffd : cp, buffer));
  }
  if (total > LABEL_UNITS) writeText(STDOUT, "...");
  writeText(STDOUT, "\n");
  release(scratch);
}

/** Cosine similarity in doubles, as compiler/eval/stsb.ts computes it. */
function cosine(a: usize, b: usize, dim: i32): f64 {
  let dot: f64 = 0, aa: f64 = 0, bb: f64 = 0;
  for (let k = 0; k < dim; k++) {
    const x = <f64>load<f32>(a + <usize>k * 4), y = <f64>load<f32>(b + <usize>k * 4);
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  let norms = aa * bb;
  if (norms == 0 || isNaN(norms)) norms = 1;
  return dot / Math.sqrt(norms);
}

/** Bytes right-aligned in `width` columns, as padStart does. */
function writePadded(bytes: usize, length: i32, width: i32): void {
  for (let i = length; i < width; i++) writeText(STDOUT, " ");
  writeBytes(STDOUT, bytes, length);
}
