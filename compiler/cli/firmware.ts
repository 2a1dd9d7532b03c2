import { Command } from "commander";
import { buildFirmware, runFirmware } from "../../targets/mcu/firmware.js";
import { formatBytes } from "../units.js";
import { integer, printJson } from "./options.js";

export function firmwareCommand(): Command {
  return new Command("firmware")
    .summary("turn an mcu artifact into Cortex-M4 firmware (wasm2c + arm-none-eabi-gcc), and run it in QEMU")
    .description(
      "wasm2c turns the artifact's model.wasm into C; seec's harness (targets/mcu/cortex-m/) adds a vector table, a static-memory wasm2c runtime and greedy generation over the module's step() export; arm-none-eabi-gcc builds firmware.elf for QEMU's mps2-an386 (Cortex-M4, semihosting for output). --run runs it and reports what it generated, instructions per token and stack depth.\n" +
        "Needs Debian's wabt, gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm.\n\n" +
        "Example:\n  seec build stories260K.bin --tokenizer tok512.bin --target mcu --see f.see --quantize int8 --context 256 -o out/mcu\n  seec firmware out/mcu -o out/fw --run",
    )
    .argument("<dir>", "an artifact built with --target mcu")
    .requiredOption("-o, --out <dir>", "where the C sources and firmware.elf go")
    .option("--steps <n>", "tokens to generate from BOS", integer(1, 1 << 20), 64)
    .option("--run", "run the firmware under qemu-system-arm")
    .option("--json", "print the report as JSON")
    .action(async (dir: string, flags: { out: string; steps: number; run?: boolean; json?: boolean }) => {
      const fw = await buildFirmware(dir, flags.out, { steps: flags.steps });
      const device = flags.run ? await runFirmware(fw.elf) : undefined;
      if (flags.json) return printJson({ firmware: fw, run: device });
      const lines = [`${fw.elf}: flash ${formatBytes(fw.flash)}, RAM ${formatBytes(fw.ram)} (static; the stack comes on top)`];
      if (device)
        lines.push(
          device.text,
          `${device.ids.length} tokens, ${device.instructionsPerToken.toLocaleString("en")} instructions per token, stack ${formatBytes(device.stackBytes)}, ${device.seconds.toFixed(1)} s in the emulator`,
        );
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
