/** Runs the seec command as a user would: a child process of bin/seec.mjs. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/seec.mjs", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function seec(...args: string[]): Promise<CliResult> {
  return seecIn(undefined, ...args);
}

/** seec run from the directory `cwd` (the test's own process stays where it is). */
export function seecIn(cwd: string | undefined, ...args: string[]): Promise<CliResult> {
  return runCommand(process.execPath, [BIN, ...args], { cwd });
}

/** Any command run to its end, asynchronously (vitest's timers keep running), its output kept. */
export function runCommand(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let stdout = "",
      stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * A model built through the CLI twice into `work`: with f32 weights (`f32`), and with --quantize
 * `how`, scored with --nll on the first 50 paragraphs of `text` so that the build measures what the
 * quantization costs (`quantized`, directory `how`); the quantized build's --json report.
 */
export async function buildQuantized<Report>(
  work: string,
  model: string[],
  how: string,
  text: string,
): Promise<{ f32: string; quantized: string; report: Report }> {
  const f32 = join(work, "f32"),
    quantized = join(work, how);
  const plain = await seec("build", ...model, "-o", f32);
  if (plain.code !== 0) throw new Error(`the f32 build failed: ${plain.stderr}`);
  const r = await seec("build", ...model, "--quantize", how, "--nll", text, "--limit", "50", "--json", "-o", quantized);
  if (r.code !== 0 || r.stderr !== "") throw new Error(`the ${how} build failed (exit ${r.code}): ${r.stderr}`);
  return { f32, quantized, report: JSON.parse(r.stdout) as Report };
}
