// Killing a build at any moment leaves the previous artifact whole, and the next build leaves nothing behind.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

const BIN = fileURLToPath(new URL("../../bin/seec.mjs", import.meta.url));

const digest = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.includes("."))
      .map((f) => [
        f,
        createHash("sha256")
          .update(readFileSync(join(dir, f)))
          .digest("hex"),
      ]),
  );

describe.skipIf(!LLAMA2C)("an interrupted build", () => {
  it("leaves the previous artifact intact, whenever it is killed", async () => {
    const work = await tmpDir();
    const out = join(work, "artifact");
    expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "-o", out)).code).toBe(0);
    const before = digest(out);
    for (const delay of [300, 900, 1500, 2100, 2700]) {
      const child = spawn(process.execPath, [BIN, "build", USE_DIR, "-o", out], { stdio: "ignore" });
      // Listen before waiting: a build that finishes inside the delay has closed by the time of the kill.
      const closed = new Promise((r) => child.on("close", r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill("SIGKILL");
      await closed;
      const now = digest(out);
      // Either the kill came first (the old artifact is whole) or the build had finished (a whole new one).
      if (now["manifest.json"] === before["manifest.json"]) expect(now).toEqual(before);
      else expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).name).toBe("model-embeddings-en");
    }
    expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "-o", out)).code).toBe(0);
    expect(digest(out)).toEqual(before);
    expect(readdirSync(work)).toEqual(["artifact"]);
  });
});
