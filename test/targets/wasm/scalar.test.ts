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

describe.skipIf(!LLAMA2C)("the scalar wasm target, and wasm-relaxed's fallback", () => {
  let work: string;
  beforeAll(async () => {
    work = await tmpDir();
    for (const target of ["wasm", "wasm-simd", "wasm-relaxed"])
      expect(
        (await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--target", target, "-o", join(work, target))).code,
      ).toBe(0);
  });

  it("contains no SIMD instruction (and the check catches a SIMD instruction)", () => {
    expect(validatesWithoutSimd(readFileSync(join(work, "wasm", "model.wasm")))).toBe(true);
    // The negative control is a one-instruction module: Binaryen prints every failure it finds, and the
    // SIMD model would fill the log with thousands of them.
    const simd = binaryen.parseText('(module (func (export "f") (result v128) (v128.const i32x4 0 0 0 0)))');
    simd.setFeatures(binaryen.Features.All);
    const bytes = simd.emitBinary();
    simd.dispose();
    expect(validatesWithoutSimd(bytes)).toBe(false);
  });

  it("generates llama2.c's documented greedy text", async () => {
    const r = await seec("run", join(work, "wasm"), "--temperature", "0", "--max-tokens", "256");
    expect(r.stdout).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
    expect(JSON.parse(readFileSync(join(work, "wasm", "manifest.json"), "utf8")).target).toBe("wasm");
  });
});

describe.skipIf(!LLAMA2C)("wasm-relaxed", () => {
  it("falls back to the SIMD128 module where the engine refuses relaxed SIMD (Node 20 without its flag)", async () => {
    const work = await tmpDir();
    const out = join(work, "relaxed");
    expect((await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--target", "wasm-relaxed", "-o", out)).code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.modules).toEqual([
      { backend: "wasm-relaxed", file: "model.relaxed.wasm" },
      { backend: "wasm-simd", file: "model.wasm" },
    ]);
    const r = await seec("run", out, "--temperature", "0", "--max-tokens", "256", "--json");
    const json = JSON.parse(r.stdout);
    expect(json.backend).toBe("wasm-simd");
    expect(`${json.text}\n`).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
  });
});
