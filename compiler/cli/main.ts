/** The seec command line: one subcommand a file, errors printed as one line with a meaningful exit code. */
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { SeecError, ERROR_CLASSES, oneLine } from "../../runtime/errors.js";
import { SEEC_VERSION } from "../version.js";
import { buildCommand } from "./build.js";
import { demoCommand } from "./demo.js";
import { distillCommand } from "./distill.js";
import { firmwareCommand } from "./firmware.js";
import { evalCommand } from "./eval.js";
import { exportGgufCommand } from "./export-gguf.js";
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

program
  .addCommand(buildCommand())
  .addCommand(runCommand())
  .addCommand(inspectCommand())
  .addCommand(factorizeCommand())
  .addCommand(distillCommand())
  .addCommand(evalCommand())
  .addCommand(serveCommand())
  .addCommand(demoCommand())
  .addCommand(firmwareCommand())
  .addCommand(exportOnnxCommand())
  .addCommand(exportGgufCommand());
// Commander's own errors (unknown option, missing argument, a value its parser refused) are printed
// below as seec's one-line usage errors, not by commander.
const quiet = { outputError: () => {} };
program.configureOutput(quiet);
for (const cmd of program.commands) cmd.exitOverride().configureHelp({ helpWidth: 100 }).configureOutput(quiet);

try {
  // Commander answers `seec help <unknown>` with the whole help and a bare "(outputHelp)" error.
  const [first, topic] = process.argv.slice(2);
  if (first === "help" && topic !== undefined && !program.commands.some((c) => c.name() === topic))
    throw new SeecError("usage.unknown_command", `unknown command '${topic}'`, { hint: "seec --help lists the commands" });
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = exitCodeFor(e, program.opts().verbose === true || process.argv.includes("--verbose"), process.argv.includes("--json"));
}

/** commander.unknownOption -> usage.unknown_option, its message on one line, with where to look. */
function usageError(e: CommanderError): SeecError {
  const code = e.code.replace(/^commander\./, "").replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const command = process.argv.slice(2).find((a) => program.commands.some((c) => c.name() === a));
  const message = e.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
  return new SeecError(`usage.${code}`, message, { hint: `seec ${command ? `${command} ` : ""}--help lists the options` });
}

/**
 * The error as the command line shows it: the runtime names an artifact's files by file: URL, and
 * the line by the path, once (the runtime's messages name the file too).
 */
function shownError(e: SeecError): { error: SeecError; line: string } {
  if (!e.file?.startsWith("file:")) return { error: e, line: e.toLine() };
  const path = fileURLToPath(e.file);
  const message = e.message.replaceAll(e.file, path);
  const error = new SeecError(e.code, message, { file: path, at: e.at, hint: e.hint });
  return { error, line: message.includes(path) ? new SeecError(e.code, message, { at: e.at, hint: e.hint }).toLine() : error.toLine() };
}

/** Prints the error (one line, or one JSON object with --json) on stderr; returns the exit code it means. */
function exitCodeFor(e: unknown, verbose: boolean, json: boolean): number {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return 0; // --help, --version
    if (e.code === "commander.help") return ERROR_CLASSES.usage; // `seec` alone: the help is the answer (on stderr)
    e = usageError(e);
  }
  if (!(e instanceof SeecError)) {
    const message = oneLine(String((e as Error)?.message ?? e));
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: "internal", exitCode: ERROR_CLASSES.internal, message } })}\n`);
    else process.stderr.write(`seec: internal error: ${message}\n`);
    if (verbose) process.stderr.write(`${(e as Error)?.stack}\n`);
    else if (!json) process.stderr.write("seec: this is a bug in seec; rerun with --verbose for the stack trace\n");
    return ERROR_CLASSES.internal;
  }
  const shown = shownError(e);
  process.stderr.write(json ? `${JSON.stringify(shown.error.toJSON())}\n` : `seec: ${shown.line}\n`);
  if (verbose) process.stderr.write(`${e.stack}\n`);
  return e.exitCode;
}
