/**
 * Vitest global setup: every test run writes its temporary files under one directory of its own
 * (TMPDIR, which os.tmpdir() and the CLI processes the tests start both read), removed when the run
 * ends, so that a run leaves nothing behind in the system's temporary directory.
 * SEEC_KEEP_TMP=1 keeps it, for reading a failed run's files.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "seec-tests-"));
  // mkdtemp makes it 0700; the package test runs the installed commands as another user (nobody) under it.
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  return () => {
    if (process.env.SEEC_KEEP_TMP) console.log(`seec tests: temporary files kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  };
}
