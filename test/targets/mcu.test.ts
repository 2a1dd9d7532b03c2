// --target mcu: stories260K with SEE factors, int8 weights and a 256-token context in a 1 MiB
// budget; the same module generating the same tokens in Node, under wasm-interp, and as C
// (wasm2c) on an emulated Cortex-M4 (QEMU mps2-an386).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import binaryen from "binaryen";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFirmware, runFirmware } from "../../targets/mcu/firmware.js";
import { greedyHashUnderWasmInterp, tokenHash } from "../../targets/mcu/wasm-interp.js";
import { SeecError } from "../../runtime/errors.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const CROSS = ["wasm2c", "arm-none-eabi-gcc", "qemu-system-arm"].every(has);
const INTERP = has("wasm-interp");
if (!CROSS)
  console.warn(
    "skipping the Cortex-M test: needs wasm2c, arm-none-eabi-gcc and qemu-system-arm (apt-get install wabt gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)",
  );
if (!INTERP) console.warn("skipping the wasm-interp test: needs wasm-interp (apt-get install wabt)");

const STEPS = 64;
const BUDGET = "1048576";

/** Greedy ids from the module's own step() export, instantiated directly: the module, nothing else. */
function stepIds(wasm: Uint8Array<ArrayBuffer>, steps: number): number[] {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(wasm), {});
  const step = exports.step as (token: number, pos: number) => number;
  const ids: number[] = [];
  for (let pos = 0, token = 1; pos < steps; pos++) ids.push((token = step(token, pos)));
  return ids;
}

describe.skipIf(!LLAMA2C)("the mcu target", () => {
  let work: string, mcu: string, wasm: Uint8Array<ArrayBuffer>, buildOutput: string;
  const settings = () => ["--see", join(work, "f.see"), "--quantize", "int8", "--context", "256"];

  beforeAll(async () => {
    work = await tmpDir();
    mcu = join(work, "mcu");
    const m = LLAMA2C!;
    expect((await seec("factorize", m.model, "--tokenizer", m.tokenizer, "--ratio", "8", "-o", join(work, "f.see"))).code).toBe(0);
    const r = await seec(
      "build",
      m.model,
      "--tokenizer",
      m.tokenizer,
      ...settings(),
      "--target",
      "mcu",
      "--memory-budget",
      BUDGET,
      "-o",
      mcu,
    );
    expect(r.code).toBe(0);
    buildOutput = r.stdout;
    wasm = new Uint8Array(readFileSync(join(mcu, "model.wasm")));
    expect(
      (await seec("build", m.model, "--tokenizer", m.tokenizer, ...settings(), "--embed-head", "stream", "-o", join(work, "simd"))).code,
    ).toBe(0);
  }, 120_000);

  it("fits 1 MiB and prints its memory plan", () => {
    expect(buildOutput).toMatch(/memory plan:\n(.*\n)*\s+weights\s+[\d.]+ KiB\n\s+SEE factors\s+[\d.]+ KiB\n\s+KV cache\s+320\.0 KiB\n/);
    expect(buildOutput).toMatch(/total\s+[\d.]+ KiB of a 1\.00 MiB budget/);
  });

  it("prints the memory plan the README shows, line for line", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const plan = (text: string) => text.match(/memory plan:\n(?: {2}.*\n)+/)?.[0];
    expect(plan(readme), "README's memory plan block").toBeDefined();
    expect(plan(buildOutput)).toBe(plan(readme));
  });

  it("is a fixed-memory module with no imports, no SIMD and no memory.grow, weights in its data segment", () => {
    const mod = new WebAssembly.Module(wasm);
    expect(WebAssembly.Module.imports(mod)).toEqual([]);
    expect(
      WebAssembly.Module.exports(mod)
        .map((e) => e.name)
        .sort(),
    ).toEqual(["forward", "memory", "step"]);
    const manifest = JSON.parse(readFileSync(join(mcu, "manifest.json"), "utf8"));
    expect(manifest.memory).toMatchObject({ fixed: true, weights: { embedded: true } });
    expect(manifest.files["weights.bin"]).toBeUndefined();
    const m = binaryen.readBinary(wasm);
    try {
      const f = binaryen.Features;
      m.setFeatures(f.MVP | f.BulkMemory | f.BulkMemoryOpt | f.SignExt | f.MutableGlobals | f.NontrappingFPToInt);
      expect(m.validate()).toBeTruthy(); // no SIMD
      const memory = m.getMemoryInfo() as { initial: number; max?: number };
      expect(memory.max).toBe(memory.initial);
      expect(m.emitText()).not.toContain("memory.grow");
    } finally {
      m.dispose();
    }
  });

  it("fails the same budget in fp32, printing the plan and what to shrink", async () => {
    const m = LLAMA2C!;
    const r = await seec(
      "build",
      m.model,
      "--tokenizer",
      m.tokenizer,
      "--see",
      join(work, "f.see"),
      "--context",
      "256",
      "--target",
      "mcu",
      "--memory-budget",
      BUDGET,
      "-o",
      join(work, "fp32"),
    );
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /^seec: error\[budget\.memory\] @ --memory-budget: the model needs [\d.]+ MiB, [\d.]+ KiB over the 1\.00 MiB budget; largest: weights/,
    );
    expect(r.stderr).toMatch(/KV cache\s+320\.0 KiB/);
    // The README quotes this figure beside the plan ("the fp32 build of the same model needs ...").
    const needs = r.stderr.match(/the model needs ([\d.]+ MiB)/)![1];
    expect(readFileSync(new URL("../../README.md", import.meta.url), "utf8")).toContain(`the fp32 build of the same model needs ${needs}`);
    expect(r.stderr).toContain("--quantize int8");
  });

  it("generates in Node what the wasm-simd build with the same settings generates", async () => {
    const run = (dir: string) => seec("run", dir, "--temperature", "0", "-n", String(STEPS));
    const [a, b] = await Promise.all([run(mcu), run(join(work, "simd"))]);
    expect(a.stdout.length).toBeGreaterThan(STEPS);
    expect(a.stdout).toBe(b.stdout);
    // Scalar and SIMD kernels sum in different orders, and the SIMD int8 kernels round each
    // matmul's input rows to 16-bit integers (kernels/linear-q8.ts): the logits differ by 2.6e-3
    // (measured; both builds are deterministic), held to about twice that.
    const [scalar, simd] = await Promise.all([loadWasm(mcu), loadWasm(join(work, "simd"))]);
    let worst = 0;
    for (let pos = 0, token = 1; pos < STEPS; pos++) {
      const x = await scalar.step([token], pos),
        y = await simd.step([token], pos);
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
      token = x.indexOf(Math.max(...x));
    }
    console.log(`mcu vs wasm-simd, same settings: largest logit difference over ${STEPS} steps ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(6e-3);
  });

  it.skipIf(!INTERP)(
    "runs under wasm-interp (not V8) to the same tokens",
    async () => {
      const steps = 16;
      expect(await greedyHashUnderWasmInterp(wasm, 1, steps)).toBe(tokenHash(stepIds(wasm, steps)));
    },
    120_000,
  );

  it.skipIf(!CROSS)(
    "runs as C on an emulated Cortex-M4, token for token as in Node",
    async () => {
      const fw = await buildFirmware(mcu, join(work, "firmware"), { steps: STEPS });
      const device = await runFirmware(fw.elf);
      expect(device.ids).toEqual(stepIds(wasm, STEPS));
      const node = await seec("run", mcu, "--temperature", "0", "-n", String(STEPS));
      expect(`${device.text}\n`).toBe(node.stdout);
      expect(fw.ram).toBeLessThan(1 << 20);
      console.log(
        `Cortex-M4 (QEMU mps2-an386): flash ${fw.flash} B, RAM ${fw.ram} B + stack ${device.stackBytes} B, ` +
          `${device.instructionsPerToken} instructions per token, ${device.seconds.toFixed(1)} s for ${STEPS} tokens in the emulator`,
      );
    },
    300_000,
  );

  it("io.tool: firmware without its tools", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const e = await buildFirmware(mcu, join(work, "none")).catch((x) => x);
      expect(e).toBeInstanceOf(SeecError);
      expect((e as SeecError).code).toBe("io.tool");
    } finally {
      process.env.PATH = path;
    }
  });

  it.skipIf(!CROSS)("runtime.firmware, usage.target: firmware from a bad ELF, from a non-mcu artifact", async () => {
    expect(((await runFirmware(join(mcu, "manifest.json")).catch((x) => x)) as SeecError).code).toBe("runtime.firmware");
    expect(((await buildFirmware(join(work, "simd"), join(work, "fw2")).catch((x) => x)) as SeecError).code).toBe("usage.target");
  });

  it.skipIf(!CROSS)(
    "seec firmware checks its input: no path, not an artifact, a manifest cut short, a changed model.wasm; nothing left behind",
    async () => {
      const firmware = async (dir: string, out: string) => {
        const r = await seec("firmware", dir, "-o", join(work, out));
        expect(existsSync(join(work, out))).toBe(false);
        return [r.code, r.stderr.trimEnd()];
      };
      expect(await firmware(join(work, "absent"), "fw-a")).toEqual([
        8,
        `seec: error[io.not_found] ${join(work, "absent")}: no such artifact (the path does not exist)`,
      ]);
      expect(await firmware(join(mcu, "manifest.json"), "fw-b")).toEqual([2, expect.stringContaining("error[usage.artifact]")]);
      const damaged = join(work, "damaged-mcu");
      cpSync(mcu, damaged, { recursive: true });
      const module = readFileSync(join(damaged, "model.wasm"));
      module[8] ^= 0xff;
      writeFileSync(join(damaged, "model.wasm"), module);
      expect(await firmware(damaged, "fw-c")).toEqual([
        3,
        `seec: error[input.artifact] ${damaged} @ model.wasm: model.wasm (sha256 differs): not as seec build wrote it, by the manifest's record (hint: build the artifact again, or copy it again from where it was built)`,
      ]);
      writeFileSync(join(damaged, "manifest.json"), readFileSync(join(mcu, "manifest.json")).subarray(0, 1000));
      expect(await firmware(damaged, "fw-d")).toEqual([
        3,
        expect.stringContaining(`error[input.json] ${join(damaged, "manifest.json")}: manifest.json is not valid JSON`),
      ]);
    },
  );

  it("usage.embed_head, unsupported.target: mcu streams the head; wasi needs the tokenizer", async () => {
    const m = LLAMA2C!;
    const a = await seec(
      "build",
      m.model,
      "--tokenizer",
      m.tokenizer,
      "--see",
      join(work, "f.see"),
      "--embed-head",
      "materialize",
      "--target",
      "mcu",
      "-o",
      join(work, "x"),
    );
    expect(a.stderr).toContain("error[usage.embed_head]");
    expect(a.code).toBe(2);
    const b = await seec("build", m.model, "--target", "wasi", "-o", join(work, "y"));
    expect(b.stderr).toContain("error[unsupported.target]");
    expect(b.code).toBe(4);
  });
});

const LLAMA_ONNX = sharedPath("onnx/llama_tiny_fp16_genai_builder/model.onnx");
describe.skipIf(!LLAMA_ONNX)("the mcu target, an ONNX decoder", () => {
  it("builds one token a call, and its step() export walks the greedy path of the wasm-simd build", async () => {
    const work = await tmpDir();
    const mcu = join(work, "mcu"),
      simd = join(work, "simd");
    const a = await seec("build", LLAMA_ONNX!, "--decoder", "--context", "16", "--target", "mcu", "-o", mcu);
    expect(a.code, a.stderr).toBe(0);
    const b = await seec("build", LLAMA_ONNX!, "--decoder", "--context", "16", "-o", simd);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(mcu, "manifest.json"), "utf8")).model.config.maxChunk).toBe(1);
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(mcu, "model.wasm"))), {});
    const step = exports.step as (token: number, pos: number) => number;
    (exports.init as (() => void) | undefined)?.();
    const model = await loadWasm(simd);
    for (let pos = 0, token = 1; pos < 12; pos++) {
      const logits = await model.step([token], pos);
      const want = logits.indexOf(Math.max(...logits));
      expect(step(token, pos), `step ${pos}`).toBe(want);
      token = want;
    }
  }, 120_000);
});
