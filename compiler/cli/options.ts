/** Option parsers and output helpers the subcommands share. */
import { InvalidArgumentError, type Command } from "commander";
import { parseBytes } from "../units.js";

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
    .argument("<model>", "the model: a llama2.c checkpoint (.bin), or a TF.js graph model (model.json or its folder)")
    .option("--tokenizer <file>", "the tokenizer, for formats that keep it apart (llama2.c: tokenizer.bin)")
    .option("--max-chunk <n>", "most tokens one forward call takes (prompt chunks); sizes activation memory", integer(1, 65536))
    .option("--context <n>", "context length (KV cache rows), at most the model's", integer(1, 1 << 20));
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
