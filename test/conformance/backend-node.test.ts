// ONNX's backend node test suite (issue 24): every case built by seec at its inputs' shapes,
// compiled for wasm-simd, run, and compared with ONNX's reference outputs (1e-4 abs / 1e-3 rel).
// A case seec refuses must be refused by the frontend with a SeecError that is not internal; a
// case it builds must be right, unless KNOWN_FAILURES lists it with the reason. The pass count
// may not fall below PASS_FLOOR. The per-family table is printed and written as JSON to a temp dir.
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sharedPath } from "../helpers/shared.js";
import { runAlone, runSuite, summarize, type CaseResult, type Summary } from "./backend-node.js";

const ROOT = sharedPath("onnx/backend-node");
/** SEEC_CONFORMANCE_ONLY=relu runs only the cases whose name contains it (the floor is then not checked). */
const ONLY = process.env.SEEC_CONFORMANCE_ONLY;

/** Measured: raise it when ops are added; it may never fall. */
const PASS_FLOOR = 573;

/** Cases seec builds but gets wrong or cannot compile, with the reason. Each is a bug to fix, not a refusal. None today. */
const KNOWN_FAILURES: Readonly<Record<string, string>> = {};

describe.skipIf(!ROOT)("ONNX backend node tests (../shared/onnx/backend-node)", () => {
  let results: CaseResult[] = [];
  let summary: Summary;

  beforeAll(async () => {
    const t0 = performance.now();
    results = await runSuite(ROOT!, ONLY ? (n) => n.includes(ONLY) : undefined);
    summary = summarize(results);
    const seconds = (performance.now() - t0) / 1000;
    const rows = Object.entries(summary.families)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([f, s]) =>
          `  ${f.padEnd(28)} ${String(s.pass).padStart(3)}/${String(s.cases).padEnd(3)} refused ${s.refused} wrong ${s.wrong} error ${s.error}`,
      );
    const out = join(await mkdtemp(join(tmpdir(), "seec-conformance-report-")), "backend-node.json");
    await writeFile(out, `${JSON.stringify({ seconds, ...summary, results }, null, 2)}\n`);
    console.log(
      [
        `backend-node: ${summary.counts.pass}/${summary.total} pass, ${summary.counts.refused} refused, ${summary.counts.wrong} wrong, ${summary.counts.error} errors in ${seconds.toFixed(1)} s`,
        ...rows,
        ...results.filter((r) => r.status === "wrong" || r.status === "error").map((r) => `  ${r.status} ${r.name}: ${r.detail}`),
        `with the values that decide shapes fixed at build time: ${summary.frozen.pass} of ${summary.frozen.pass + summary.frozen.refused + summary.frozen.wrong + summary.frozen.error} more pass`,
        ...results
          .filter((r) => r.frozen === "wrong" || r.frozen === "error")
          .map((r) => `  fixed, ${r.frozen} ${r.name}: ${r.frozenDetail}`),
        `written to ${out} (kept after the run with SEEC_KEEP_TMP=1)`,
      ].join("\n"),
    );
  }, 900_000);

  it("passes at least PASS_FLOOR cases", () => {
    expect(summary.counts.pass).toBeGreaterThanOrEqual(ONLY ? 0 : PASS_FLOOR);
  });

  it.skipIf(ONLY)("is what the README says: its case count and pass counts", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const claim of [
      `test suite (${summary.total} cases,`,
      `**${summary.counts.pass} pass**`,
      `with those values fixed at build time, as exporters write them, ${summary.frozen.pass} of them pass`,
    ])
      expect(readme.includes(claim), `README.md should say: ${claim}`).toBe(true);
  });

  it("gets no case wrong with its shape-deciding values fixed at build time, and never errors", () => {
    const bad = results.filter((r) => r.frozen === "wrong" || r.frozen === "error");
    expect(bad.map((r) => `${r.name} (fixed, ${r.frozen}): ${r.frozenDetail}`)).toEqual([]);
  });

  it("refuses only with a SeecError that is not internal, before compiling", () => {
    const refused = results.filter((r) => r.status === "refused");
    for (const r of refused) expect(r.detail, r.name).toMatch(/^unsupported\./);
  });

  it("computes in a case's own artifact (seec build) what it computes batched, on a sample", async () => {
    const sample = results.filter((r) => r.status === "pass").filter((_, i) => i % 60 === 0);
    for (const r of sample) expect(await runAlone(ROOT!, r.name), r.name).toMatchObject({ status: "pass" });
  }, 300_000);

  it("gets no case it builds wrong, and never errors, except the known failures", () => {
    const bad = results.filter((r) => (r.status === "wrong" || r.status === "error") && !Object.hasOwn(KNOWN_FAILURES, r.name));
    expect(bad.map((r) => `${r.name} (${r.status}): ${r.detail}`)).toEqual([]);
  });
});
