/** The seec command line: one subcommand a file, errors printed as one line with a meaningful exit code. */
import { Command, CommanderError } from "commander";
import { SeecError, ERROR_CLASSES } from "../../runtime/errors.js";
import { SEEC_VERSION } from "../version.js";
import { buildCommand } from "./build.js";
import { demoCommand } from "./demo.js";
import { distillCommand } from "./distill.js";
import { firmwareCommand } from "./firmware.js";
import { evalCommand } from "./eval.js";
import { exportOnnxCommand } from "./export-onnx.js";
import { factorizeCommand } from "./factorize.js";
import { inspectCommand } from "./inspect.js";
import { runCommand } from "./run.js";
import { serveCommand } from "./serve.js";

const program = new Command("seec")
  .description("Compile transformers with SEE-compressed embeddings into small, fast WebAssembly.")
  .version(SEEC_VERSION)
  .option("--verbose", "print stack traces with errors")
  .configureHelp({ helpWidth: 100 })
  .exitOverride();

program.addCommand(buildCommand()).addCommand(runCommand()).addCommand(inspectCommand()).addCommand(factorizeCommand()).addCommand(distillCommand()).addCommand(evalCommand()).addCommand(serveCommand()).addCommand(demoCommand()).addCommand(firmwareCommand()).addCommand(exportOnnxCommand());
// Commander's own errors (unknown option, missing argument, a value its parser refused) are printed
// below as seec's one-line usage errors, not by commander.
const quiet = { outputError: () => {} };
program.configureOutput(quiet);
for (const cmd of program.commands) cmd.exitOverride().configureHelp({ helpWidth: 100 }).configureOutput(quiet);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = exitCodeFor(e, program.opts().verbose === true || process.argv.includes("--verbose"));
}

/** commander.unknownOption -> usage.unknown_option, its message on one line, with where to look. */
function usageError(e: CommanderError): SeecError {
  const code = e.code.replace(/^commander\./, "").replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const command = process.argv.slice(2).find((a) => program.commands.some((c) => c.name() === a));
  const message = e.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
  return new SeecError(`usage.${code}`, message, { hint: `seec ${command ? `${command} ` : ""}--help lists the options` });
}

function exitCodeFor(e: unknown, verbose: boolean): number {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return 0; // --help, --version
    e = usageError(e);
  }
  if (e instanceof SeecError) {
    process.stderr.write(`seec: ${e.toLine()}\n`);
    if (verbose) process.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  process.stderr.write(`seec: internal error: ${(e as Error)?.message ?? e}\n`);
  if (verbose) process.stderr.write(`${(e as Error)?.stack}\n`);
  else process.stderr.write("seec: this is a bug in seec; rerun with --verbose for the stack trace\n");
  return ERROR_CLASSES.internal;
}
