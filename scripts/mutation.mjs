#!/usr/bin/env node
// Runs Stryker (stryker.config.mjs) over areas one after another: `node scripts/mutation.mjs
// [sample | full | AREA...] [-- stryker options, e.g. --incremental]`. Prints each area's time.
import { spawnSync } from "node:child_process";
import { AREAS, GROUPS } from "../stryker.config.mjs";

const dash = process.argv.indexOf("--");
const names = (dash < 0 ? process.argv.slice(2) : process.argv.slice(2, dash)).flatMap((n) => GROUPS[n] ?? [n]);
const extra = dash < 0 ? [] : process.argv.slice(dash + 1);
for (const name of names.length ? names : GROUPS.full) {
  if (!AREAS[name])
    throw new Error(`${name} is not an area (${Object.keys(AREAS).join(", ")}) or group (${Object.keys(GROUPS).join(", ")})`);
  const start = Date.now();
  const run = spawnSync("npx", ["stryker", "run", ...extra], { stdio: "inherit", env: { ...process.env, SEEC_MUTATION_AREA: name } });
  console.log(`mutation: ${name} took ${((Date.now() - start) / 1000).toFixed(0)} s (report: out/mutation/${name}.html)`);
  if (run.status !== 0) process.exit(run.status ?? 1);
}
