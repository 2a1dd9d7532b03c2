import { readFile } from "node:fs/promises";
import { SeecError } from "../../runtime/errors.js";

/**
 * A tokenizer's JSON file, parsed: a missing file is io.not_found, one that is not JSON
 * input.tokenizer, each naming the file (`what` names it in the message) with the hint given.
 */
export async function readTokenizerJson(file: string, what: string, where: { at?: string; hint: string }): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new SeecError(
      (e as NodeJS.ErrnoException).code === "ENOENT" ? "io.not_found" : "input.tokenizer",
      `cannot read ${what}: ${(e as Error).message}`,
      { file, ...where },
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // JSON.parse quotes the text it stopped at: of a binary file, bytes no terminal should print.
    const message = /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text.slice(0, 4096))
      ? "it is not text (a binary file?)"
      : (e as Error).message;
    throw new SeecError("input.tokenizer", `cannot read ${what} as JSON: ${message}`, { file, ...where });
  }
}
