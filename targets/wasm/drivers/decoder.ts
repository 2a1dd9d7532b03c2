// `_start` for a decoder under WASI: seec run's flags in, the prompt and its continuation out,
// token for token what `seec run` prints for the same flags.
import { encode, printed, Vocabulary } from "./bpe";
import { parseDecimal, parseInteger } from "./numbers";
import { sample, seed } from "./sampler";
import { argAt, cstrEquals, cstrLength, errorLine, exit, EXIT_INPUT, EXIT_RUNTIME, EXIT_USAGE, fail, readArgs, STDERR, STDOUT, take, writeBytes, writeInteger, writeText } from "./wasi";

/** Where the compiled model keeps what the driver reads and writes. */
export class DecoderModel {
  tokens: usize = 0;
  pos: usize = 0;
  logits: usize = 0;
  vocab: i32 = 0;
  context: i32 = 0;
  /** Most tokens one forward call takes. */
  chunk: i32 = 1;
  /** The tokenizer table embedded in the module. */
  tokenizer: usize = 0;
}

const USAGE =
  "usage: <program> [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--seed N]\n" +
  "Generates from the prompt (empty: from BOS alone) and prints the prompt and its continuation.\n" +
  "  -p, --prompt TEXT      the prompt (default empty)\n" +
  "  -n, --max-tokens N     new tokens to generate (default 256)\n" +
  "  --temperature T        0 = greedy; default 1\n" +
  "  --top-p P              nucleus sampling threshold; 0 or 1 samples from all tokens (default 0.9)\n" +
  "  --seed N               llama2.c's generator seed (default 42)\n";

export function runDecoder(model: DecoderModel, forward: (T: i32) => void): void {
  const args = readArgs();
  let prompt: usize = 0;
  let maxTokens: i64 = 256;
  let temperature: f64 = 1;
  let topP: f64 = 0.9;
  let rngSeed: i64 = 42;
  for (let i = 1; i < args.count; i++) {
    const flag = argAt(args, i);
    if (cstrEquals(flag, "--help") || cstrEquals(flag, "-h")) {
      writeText(STDOUT, USAGE);
      return;
    }
    if (i + 1 >= args.count) fail(EXIT_USAGE, "usage.argument", "a flag without its value, or an unknown argument: ", flag);
    const value = argAt(args, ++i);
    if (cstrEquals(flag, "--prompt") || cstrEquals(flag, "-p")) prompt = value;
    else if (cstrEquals(flag, "--max-tokens") || cstrEquals(flag, "-n")) maxTokens = parseInteger(value);
    else if (cstrEquals(flag, "--temperature")) temperature = parseDecimal(value);
    else if (cstrEquals(flag, "--top-p")) topP = parseDecimal(value);
    else if (cstrEquals(flag, "--seed")) rngSeed = parseInteger(value);
    else fail(EXIT_USAGE, "usage.flag", "unknown flag ", flag);
    if (maxTokens < 0 || rngSeed < 0 || !(temperature >= 0 && temperature <= 100) || !(topP >= 0 && topP <= 1))
      fail(EXIT_USAGE, "usage.value", "expected an integer >= 0 for --max-tokens and --seed, 0..100 for --temperature, 0..1 for --top-p; got ", value);
  }
  seed(<u64>rngSeed);

  const vocab = new Vocabulary(model.tokenizer);
  const promptLength = prompt ? cstrLength(prompt) : 0;
  // Encoding is quadratic in the prompt: a prompt that cannot fit the context is refused before it.
  const fewest = 1 + (promptLength + (promptLength > 0 ? 1 : 0) + vocab.longest - 1) / vocab.longest;
  if (fewest > model.context) contextError("at least ", fewest, model.context);
  const tokens = take(<usize>(promptLength + 2) * 4);
  const count = encode(vocab, prompt, promptLength, tokens, take(<usize>promptLength * 8 + 64));
  if (count < 0) fail(EXIT_INPUT, "input.tokenizer", "the tokenizer has no piece for \" \"");
  if (count > model.context) contextError("", count, model.context);

  // Prefill in the chunks the module was planned for, as the JavaScript runtime does.
  for (let i = 0; i < count; i += model.chunk) {
    const n = min(model.chunk, count - i);
    memory.copy(model.tokens, tokens + <usize>i * 4, <usize>n * 4);
    store<i32>(model.pos, i);
    forward(n);
  }
  const piece = take(4);
  for (let i = 1; i < count; i++) {
    const length = printed(vocab, load<i32>(tokens + <usize>(i - 1) * 4), load<i32>(tokens + <usize>i * 4), piece);
    writeBytes(STDOUT, load<u32>(piece), length);
  }

  const probs = take(<usize>model.vocab * 4);
  const order = take(<usize>model.vocab * 8);
  let token = load<i32>(tokens + <usize>(count - 1) * 4);
  let pos = count;
  for (let n: i64 = 0; n < maxTokens; n++, pos++) {
    const next = sample(model.logits, model.vocab, temperature, topP, probs, order);
    if (next == vocab.bos || next == vocab.eos) break;
    const length = printed(vocab, token, next, piece);
    writeBytes(STDOUT, load<u32>(piece), length);
    token = next;
    if (n + 1 == maxTokens || pos >= model.context) break;
    store<i32>(model.tokens, token);
    store<i32>(model.pos, pos);
    forward(1);
  }
  writeText(STDOUT, "\n");
}

/** `error[runtime.context]: the prompt is <qualifier><tokens> tokens; the context holds <context>`, exit 7. */
function contextError(qualifier: string, tokens: i32, context: i32): void {
  errorLine("runtime.context");
  writeText(STDERR, "the prompt is ");
  writeText(STDERR, qualifier);
  writeInteger(STDERR, tokens);
  writeText(STDERR, " tokens; the context holds ");
  writeInteger(STDERR, context);
  exit(EXIT_RUNTIME);
}
