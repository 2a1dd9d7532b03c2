/** Option parsers and output helpers the subcommands share. */
import { InvalidArgumentError, type Command } from "commander";
import { SeecError } from "../../runtime/errors.js";
import type { InputShape } from "../frontends/onnx/index.js";
import type { Graph } from "../ir/graph.js";
import { parseBytes } from "../util/units.js";

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    return n;
  };
}

/** A byte size: a count, or with a unit (K/KiB, M/MiB, KB/MB for powers of ten). */
export function byteSize(text: string): number {
  const n = parseBytes(text);
  if (n === undefined || n <= 0) throw new InvalidArgumentError("expected a size in bytes, e.g. 1048576, 1MiB or 512KiB");
  return n;
}

export function real(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
    return n;
  };
}

/** The options every command that reads a model takes. */
export function modelOptions(cmd: Command): Command {
  return cmd
    .argument(
      "<model>",
      "the model: a llama2.c checkpoint (.bin), a GGUF file (.gguf, llama architecture), a TF.js graph model (model.json or its folder), or an ONNX graph (.onnx)",
    )
    .option(
      "--tokenizer <file>",
      "the tokenizer, for formats that keep it apart (llama2.c: tokenizer.bin; ONNX: the Hugging Face tokenizer.json, with the chat template of a tokenizer_config.json or chat_template.jinja beside it, or for a decoder a llama2.c tokenizer.bin)",
    )
    .option(
      "--shape <input=dims...>",
      "ONNX: an input's shape at build time, e.g. input_ids=1x128; input_ids=1x?128 for any length up to 128 in one artifact, ?8x?128 for 1 to 8 rows of it too (the batch run row by row); repeat per input; unbound symbolic dimensions are 1",
      collectShape,
      {},
    )
    .option(
      "--max-chunk <n>",
      "most tokens one forward call takes (prompt chunks; decoders: 32 unless given, at most the context); sizes activation memory",
      integer(1, 65536),
    )
    .option("--context <n>", "context length (KV cache rows), at most the model's", integer(1, 1 << 20));
}

/**
 * "name=2x128" into { name: [2, 128] }, accumulated over repeated flags; "?128" keeps a dimension
 * symbolic up to 128 ({ max: 128 }).
 */
export function collectShape(text: string, shapes: Record<string, InputShape>): Record<string, InputShape> {
  const m = /^(.+)=(\??\d+(?:x\??\d+)*)?$/.exec(text);
  if (!m)
    throw new InvalidArgumentError(
      `expected <input>=<dims>, e.g. input_ids=1x128, or 1x?128 for any length up to 128 (a scalar: input=), got "${text}"`,
    );
  if (Object.hasOwn(shapes, m[1])) throw new InvalidArgumentError(`the shape of ${m[1]} is given twice: give each input's shape once`);
  const dims = m[2] ? m[2].split("x").map((d) => (d.startsWith("?") ? { max: Number(d.slice(1)) } : Number(d))) : [];
  return { ...shapes, [m[1]]: dims };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress lines on stderr, only where a person is watching. */
export function progress(enabled: boolean): ((stage: string) => void) | undefined {
  return enabled && process.stderr.isTTY ? (stage) => process.stderr.write(`seec: ${stage}...\n`) : undefined;
}

/** A cosine-similarity matrix as text: a header of column numbers, then one numbered row per text. */
export function similarityTable(matrix: number[][], indent = ""): string[] {
  return [
    `${indent}     ${matrix.map((_, i) => String(i + 1).padStart(7)).join("")}`,
    ...matrix.map((row, i) => `${indent}${String(i + 1).padStart(4)} ${row.map((c) => c.toFixed(3).padStart(7)).join("")}`),
  ];
}

/**
 * Refuses an option given on the command line where it would do nothing (usage.option): `idle`
 * names why, for an option's attribute name, or returns undefined where it applies. Run as asked,
 * such a command would do something other than what its user believes.
 */
export function refuseIdleOptions(cmd: Command, idle: (key: string) => string | undefined): void {
  for (const option of cmd.options) {
    const key = option.attributeName();
    const why = cmd.getOptionValueSource(key) === "cli" ? idle(key) : undefined;
    if (!why) continue;
    const flag = option.long ?? option.short ?? key;
    throw new SeecError("usage.option", `${flag} ${why}: given here it would do nothing`, {
      at: flag,
      hint: `leave ${flag} out; seec ${cmd.name()} --help says what each option is for`,
    });
  }
}

/** Why `key` does nothing for this model's family (--context sizes a decoder's KV cache), for refuseIdleOptions. */
export function idleForFamily(key: string, graph: Graph): string | undefined {
  if (key === "context" && graph.model.family !== "decoder") return `sets a decoder's KV cache rows; ${graph.name} is not one`;
  return undefined;
}

/** "an encoder", "a decoder". */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
}
