// compiler/frontends/onnx/generation-config.ts: a decoder's end tokens from generation_config.json
// (Optimum) or genai_config.json (ONNX Runtime GenAI) beside model.onnx, which comes first, what is
// skipped, and each refusal's code, message, file, `at` and hint.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generationEos } from "../../compiler/frontends/onnx/generation-config.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A folder with these files (JSON values written out, strings as they are); returns its model.onnx's path. */
async function beside(files: Record<string, unknown>): Promise<string> {
  const dir = await tmpDir();
  dirs.push(dir);
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  return join(dir, "model.onnx");
}

describe("generationEos", () => {
  it("none: no file, or files without an eos_token_id (null counts as none), or JSON that is not an object", async () => {
    expect(await generationEos(await beside({}))).toBeUndefined();
    expect(
      await generationEos(await beside({ "generation_config.json": { bos_token_id: 1 }, "genai_config.json": { model: {} } })),
    ).toBeUndefined();
    expect(await generationEos(await beside({ "generation_config.json": { eos_token_id: null } }))).toBeUndefined();
    expect(await generationEos(await beside({ "genai_config.json": { eos_token_id: 2 } }))).toBeUndefined(); // not under model
    expect(await generationEos(await beside({ "generation_config.json": "7", "genai_config.json": "null" }))).toBeUndefined();
  });

  it("one id or a list, from generation_config.json first, else genai_config.json's model.eos_token_id", async () => {
    const one = await beside({ "generation_config.json": { eos_token_id: 2 } });
    expect(await generationEos(one)).toEqual({
      eosIds: [2],
      name: "generation_config.json",
      file: join(one, "..", "generation_config.json"),
    });
    const list = await beside({
      "generation_config.json": { eos_token_id: [0, 32000, 32007] },
      "genai_config.json": { model: { eos_token_id: 9 } },
    });
    expect(await generationEos(list)).toEqual({
      eosIds: [0, 32000, 32007],
      name: "generation_config.json",
      file: join(list, "..", "generation_config.json"),
    });
    const genai = await beside({
      "generation_config.json": { pad_token_id: 0 },
      "genai_config.json": { model: { eos_token_id: [151645, 151643] } },
    });
    expect(await generationEos(genai)).toEqual({
      eosIds: [151645, 151643],
      name: "genai_config.json",
      file: join(genai, "..", "genai_config.json"),
    });
  });

  it.each([
    [[], "[]"],
    [-1, "-1"],
    [1.5, "1.5"],
    ["2", '"2"'],
    [[2, "3"], '[2,"3"]'],
    [2 ** 53, "9007199254740992"],
    [{ id: 2 }, '{"id":2}'],
  ])("refuses eos_token_id %j", async (value, shown) => {
    const model = await beside({ "generation_config.json": { eos_token_id: value } });
    const e = await rejectsSeec(() => generationEos(model));
    expect([e.code, e.message, e.file, e.at, e.hint]).toEqual([
      "input.json",
      `generation_config.json: eos_token_id must be a token id or a list of them, not ${shown}`,
      join(model, "..", "generation_config.json"),
      "eos_token_id",
      "fix the file, or give --eos",
    ]);
  });

  it("refuses a file that is not JSON, and one that cannot be read (a folder by that name)", async () => {
    const junk = await beside({ "genai_config.json": "{ model: " });
    const e = await rejectsSeec(() => generationEos(junk));
    expect([e.code, e.file, e.hint]).toEqual([
      "input.json",
      join(junk, "..", "genai_config.json"),
      "fix the file, or move it away and give --eos",
    ]);
    expect(e.message).toMatch(/^genai_config\.json beside the model is not valid JSON: \S/);

    const folder = await beside({});
    mkdirSync(join(folder, "..", "generation_config.json"));
    const r = await rejectsSeec(() => generationEos(folder));
    expect([r.code, r.message, r.file, r.hint]).toEqual([
      "io.read",
      "cannot read generation_config.json beside the model: EISDIR: illegal operation on a directory, read",
      join(folder, "..", "generation_config.json"),
      "move it away and give --eos",
    ]);
  });
});
