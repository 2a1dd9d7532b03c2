/** Runs the seec command as a user would: a child process of bin/seec.mjs. */
import { spawn } from "node:child_process";
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
