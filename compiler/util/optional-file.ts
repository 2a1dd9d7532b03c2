import { readFile } from "node:fs/promises";
import { SeecError } from "../../runtime/errors.js";

/**
 * A text file that may be absent (a configuration beside a model or tokenizer): its content, or
 * undefined where there is no such file; any other failure to read it is io.read, `cannot read
 * <what>`, with `hint` where given.
 */
export async function readOptionalText(file: string, what: string, hint?: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SeecError("io.read", `cannot read ${what}: ${(e as Error).message}`, { file, ...(hint ? { hint } : {}) });
  }
}
