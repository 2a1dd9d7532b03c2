// --target wasm: scalar MVP kernels only. The module must validate with SIMD turned off, and the
// real model must generate what the SIMD build generates.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import binaryen from "binaryen";
import { beforeAll, describe, expect, it } from "vitest";
import { seec } from "../../helpers/cli.js";
import { tmpDir } from "../../helpers/compile.js";
import { LLAMA2C } from "../../helpers/shared.js";

/** True when the module validates with every feature seec uses except SIMD. */
function validatesWithoutSimd(wasm: Uint8Array): boolean {
  const mod = binaryen.readBinary(wasm);
  try {
    const f = binaryen.Features;
    mod.setFeatures(f.MVP | f.BulkMemory | f.BulkMemoryOpt | f.SignExt | f.MutableGlobals | f.NontrappingFPToInt);
    return Boolean(mod.validate());
  } finally {
    mod.dispose();
  }
}

describe.skipIf(!LLAMA2C)("the scalar wasm target", () => {
  let work: string;
  beforeAll(async () => {
    work = await tmpDir();
    for (const target of ["wasm", "wasm-simd"]) expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--target", target, "-o", join(work, target))).code).toBe(0);
  });

  it("contains no SIMD instruction (and the check catches the SIMD build)", () => {
    expect(validatesWithoutSimd(readFileSync(join(work, "wasm", "model.wasm")))).toBe(true);
    expect(validatesWithoutSimd(readFileSync(join(work, "wasm-simd", "model.wasm")))).toBe(false);
  });

  it("generates llama2.c's documented greedy text", async () => {
    const r = await seec("run", join(work, "wasm"), "--temperature", "0", "--max-tokens", "256");
    expect(r.stdout).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
    expect(JSON.parse(readFileSync(join(work, "wasm", "manifest.json"), "utf8")).target).toBe("wasm");
  });
});
