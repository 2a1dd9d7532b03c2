import { readFile } from "node:fs/promises";
import { SeecError } from "../../runtime/errors.js";

/**
 * A tokenizer's JSON file, parsed: a missing file is io.not_found, one that is not JSON
 * input.tokenizer, each naming the file (`what` names it in the message) with the hint given.
 */
export async function readTokenizerJson(file: string, what: string, where: { at?: string; hint: string }): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new SeecError(
      (e as NodeJS.ErrnoException).code === "ENOENT" ? "io.not_found" : "input.tokenizer",
      `cannot read ${what}: ${(e as Error).message}`,
      { file, ...where },
    );
  }
}
