/**
 * Data from ../shared (or $SEEC_SHARED): real models and eval sets, never copied into the
 * project. Tests that need a file skip, saying why, when it is absent; CI always has it.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const SHARED = resolve(process.env.SEEC_SHARED ?? fileURLToPath(new URL("../../../shared", import.meta.url)));

export function sharedPath(relative: string): string | undefined {
  const p = resolve(SHARED, relative);
  if (existsSync(p)) return p;
  console.warn(`skipping tests that need ${relative}: not found under ${SHARED} (set SEEC_SHARED to the shared data folder)`);
  return undefined;
}

const dir = sharedPath("models/llama2c");
export const LLAMA2C = dir
  ? { model: `${dir}/stories260K.bin`, tokenizer: `${dir}/tok512.bin`, greedy256: `${dir}/greedy_256.txt` }
  : undefined;
