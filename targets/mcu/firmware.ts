/**
 * An mcu artifact as Cortex-M firmware: wasm2c turns model.wasm into C, seec adds a small
 * harness (targets/mcu/cortex-m/: vector table, a static-memory wasm2c runtime, greedy
 * generation over the module's step() export), arm-none-eabi-gcc builds it for a Cortex-M4, and
 * QEMU's mps2-an386 runs it with semihosting for output.
 *
 * The C keeps Wasm's float semantics: -ffp-contract=off (no fused multiply-add the module does
 * not have) and no fast-math; the FPU does single precision, libgcc doubles.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { packageFile } from "../../compiler/util/paths.js";
import { SeecError } from "../../runtime/errors.js";
import type { Manifest } from "../../runtime/manifest.js";
import { printedPieces, type Llama2cTokenizerSpec } from "../../runtime/tokenizers/llama2c-bpe.js";

const run = promisify(execFile);
const HARNESS = fileURLToPath(packageFile("targets/mcu/cortex-m/"));
const HARNESS_SOURCES = ["main.c", "startup.c", "wasm-rt-mcu.c"];
/** wabt's runtime header, from Debian's wabt package. */
const WASM_RT_INCLUDE = "/usr/src/wasm2c";

export const CFLAGS = [
  "-mcpu=cortex-m4",
  "-mthumb",
  "-mfloat-abi=hard",
  "-mfpu=fpv4-sp-d16",
  "-O2",
  "-DNDEBUG",
  "-ffp-contract=off",
  "-fno-math-errno",
  "-ffunction-sections",
  "-fdata-sections",
  "-Wno-unused-function",
  "-Wno-unused-variable",
  "-Wno-unused-but-set-variable",
];

/** Debian packages that provide each tool. */
export const TOOLS = {
  wasm2c: "wabt",
  "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
  "arm-none-eabi-size": "binutils-arm-none-eabi",
  "qemu-system-arm": "qemu-system-arm",
};

/** The tools (all, or those building needs, without QEMU) that are missing from PATH, with the packages to install. */
export async function missingTools({ run: running = true } = {}): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(TOOLS)) {
    if (!running && tool === "qemu-system-arm") continue;
    const found = await run("sh", ["-c", `command -v ${tool}`]).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(`${tool} (apt-get install ${pkg})`);
  }
  if (
    !(await readFile(join(WASM_RT_INCLUDE, "wasm-rt.h")).then(
      () => true,
      () => false,
    ))
  )
    missing.push(`${WASM_RT_INCLUDE}/wasm-rt.h (apt-get install wabt)`);
  return missing;
}

export interface Firmware {
  elf: string;
  /** Bytes, from arm-none-eabi-size: flash = text + data, RAM = data + bss (the stack comes on top). */
  flash: number;
  ram: number;
  steps: number;
}

/**
 * Builds firmware.elf in `out` from an mcu artifact (`seec firmware` checks it first, as seec inspect
 * does: what reaches wasm2c and gcc is what seec build wrote). A failure removes `out` where this call
 * created it. `run`: QEMU will run it, so its absence fails first.
 */
export async function buildFirmware(artifact: string, out: string, { steps = 64, run: running = false } = {}): Promise<Firmware> {
  const missing = await missingTools({ run: running });
  if (missing.length)
    throw new SeecError("io.tool", `building firmware needs ${missing.join(", ")}`, { hint: "install the Debian packages named" });
  const manifest = JSON.parse(await readFile(join(artifact, "manifest.json"), "utf8")) as Manifest;
  if (manifest.target !== "mcu")
    throw new SeecError("usage.target", `${artifact} was built for ${manifest.target}; firmware needs an mcu artifact`, {
      hint: "rebuild with seec build --target mcu",
    });
  if (manifest.tokenizer?.type !== "llama2c-bpe")
    throw new SeecError("unsupported.target", "the Cortex-M harness generates text: it needs a decoder with llama2.c's tokenizer");
  const tokenizer = JSON.parse(await readFile(join(artifact, manifest.tokenizer.file), "utf8")) as Llama2cTokenizerSpec;

  const created = !existsSync(out);
  await mkdir(out, { recursive: true });
  try {
    return await compileFirmware(artifact, out, manifest, tokenizer, steps);
  } catch (e) {
    if (created) await rm(out, { recursive: true, force: true });
    throw e;
  }
}

async function compileFirmware(
  artifact: string,
  out: string,
  manifest: Manifest,
  tokenizer: Llama2cTokenizerSpec,
  steps: number,
): Promise<Firmware> {
  await run("wasm2c", [join(artifact, "model.wasm"), "-n", "seec_model", "-o", join(out, "model.c")]);
  const hasInit = (await readFile(join(out, "model.h"), "utf8")).includes("Z_seec_modelZ_init(");
  await writeFile(join(out, "seec_model.h"), modelHeader(manifest, tokenizer, steps, hasInit));
  const elf = join(out, "firmware.elf");
  await run(
    "arm-none-eabi-gcc",
    [
      ...CFLAGS,
      `-DSEEC_MEMORY_PAGES=${manifest.memory.pages}`,
      `-I${out}`,
      `-I${HARNESS}`,
      `-I${WASM_RT_INCLUDE}`,
      ...HARNESS_SOURCES.map((f) => join(HARNESS, f)),
      join(out, "model.c"),
      "-nostartfiles",
      "--specs=nano.specs",
      `-T${join(HARNESS, "mps2-an386.ld")}`,
      "-Wl,--gc-sections",
      "-lm",
      "-lc",
      "-lgcc",
      "-o",
      elf,
    ],
    { maxBuffer: 16 << 20 },
  );
  const { stdout } = await run("arm-none-eabi-size", ["-A", elf]);
  const section = (name: string) => Number(new RegExp(`^\\${name}\\s+(\\d+)`, "m").exec(stdout)?.[1] ?? 0);
  return { elf, flash: section(".text") + section(".ARM.exidx") + section(".data"), ram: section(".data") + section(".bss"), steps };
}

export interface FirmwareRun {
  /** What the device printed before its report lines. */
  text: string;
  ids: number[];
  instructionsPerToken: number;
  stackBytes: number;
  /** Host seconds QEMU ran, start-up included. */
  seconds: number;
}

/** Runs firmware under QEMU (instruction-counting mode, so SysTick measures instructions). */
export async function runFirmware(elf: string, { timeoutMs = 300_000 } = {}): Promise<FirmwareRun> {
  const t0 = performance.now();
  const { stdout } = await run(
    "qemu-system-arm",
    [
      "-M",
      "mps2-an386",
      "-nographic",
      "-monitor",
      "none",
      "-serial",
      "none",
      "-semihosting-config",
      "enable=on,target=native",
      "-icount",
      "shift=0",
      "-kernel",
      elf,
    ],
    { timeout: timeoutMs, maxBuffer: 16 << 20 },
  ).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new SeecError(
      "runtime.firmware",
      `the firmware failed under QEMU: ${(e.stdout ?? "").trim().split("\n").at(-1) || e.stderr?.trim() || e.message}`,
    );
  });
  const seconds = (performance.now() - t0) / 1000;
  const field = (name: string) => new RegExp(`^seec-${name}:(.*)$`, "m").exec(stdout)?.[1].trim();
  const ids = field("ids");
  if (ids === undefined)
    throw new SeecError("runtime.firmware", `the firmware did not report its tokens; it printed: ${stdout.slice(-500)}`);
  return {
    text: stdout.slice(0, stdout.indexOf("\nseec-ids:")),
    ids: ids ? ids.split(/\s+/).map(Number) : [],
    instructionsPerToken: Number(field("instructions-per-token")),
    stackBytes: Number(field("stack-bytes")),
    seconds,
  };
}

/** The model's constants and its printable pieces, with llama2.c's decoding rules, as C. */
function modelHeader(m: Manifest, tok: Llama2cTokenizerSpec, steps: number, hasInit: boolean): string {
  const pieces = printedPieces(tok.pieces);
  const starts: number[] = [0];
  for (const p of pieces) starts.push(starts.at(-1)! + p.length);
  const bytes = pieces.flatMap((p) => [...p]);
  const rows = (xs: number[], perRow: number) =>
    Array.from({ length: Math.ceil(xs.length / perRow) }, (_, i) => `  ${xs.slice(i * perRow, (i + 1) * perRow).join(", ")},`).join("\n");
  return `/* ${m.name} for the Cortex-M harness. Generated by seec ${m.seec}; rebuild rather than edit. */
#ifndef SEEC_MODEL_H
#define SEEC_MODEL_H
#include <stdint.h>
#include "semihost.h"

#define SEEC_BOS ${tok.bosId}u
#define SEEC_EOS ${tok.eosId}u
#define SEEC_VOCAB ${tok.pieces.length}u
#define SEEC_CONTEXT ${m.model.config.contextLength}u
#define SEEC_STEPS ${steps}u
#define SEEC_HAS_INIT ${hasInit ? 1 : 0}

/* Each piece's printed bytes (byte pieces <0xNN> are the byte itself). */
static const uint8_t seec_piece_bytes[] = {
${rows(bytes, 24)}
};
static const uint32_t seec_piece_start[SEEC_VOCAB + 1] = {
${rows(starts, 16)}
};

/* llama2.c's decode + safe_printf: no leading space after BOS, no lone control bytes. */
static void seec_print_piece(uint32_t prev, uint32_t token) {
  const uint8_t* p = seec_piece_bytes + seec_piece_start[token];
  uint32_t n = seec_piece_start[token + 1] - seec_piece_start[token];
  if (prev == SEEC_BOS && n > 0 && p[0] == ' ') {
    p++;
    n--;
  }
  if (n == 1 && (p[0] < 0x20 || p[0] == 0x7f) && !(p[0] >= 0x09 && p[0] <= 0x0d)) return;
  host_write(p, n);
}

#endif
`;
}
