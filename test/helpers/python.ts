/** Debian's Python with PyTorch, the independent oracle of the gradient and companion tests. */
import { spawnSync } from "node:child_process";

export const PYTHON = "/usr/bin/python3";

/** Why PYTHON cannot import these modules (comma-separated), or undefined when it can. */
export function pythonMissing(modules: string): string | undefined {
  const r = spawnSync(PYTHON, ["-c", `import ${modules}`], { encoding: "utf8", timeout: 60_000 });
  if (r.error) return `${PYTHON} cannot run: ${r.error.message}`;
  if (r.status !== 0) return `${PYTHON} cannot import ${modules}: ${r.stderr.trim().split("\n").pop()}`;
  return undefined;
}
