// Prints the plain closing line CI reads: "N passed, N failed, N skipped".
//
// With SEEC_CI=1 (set by .ci/run) a skipped test fails the run, for CI has every file and tool the
// tests look for: a test that skips there has silently stopped testing. Tests that run only when a
// longer mode is asked for name its variable in their title ("... (SEEC_LONG=1, ~25 minutes)") and
// may skip.
import type { Reporter, TestCase, TestModule } from "vitest/node";

const OPT_IN = /\bSEEC_[A-Z_]+=/;

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0,
      failed = 0;
    const skipped: TestCase[] = [];
    for (const m of modules)
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped.push(t);
      }
    const moduleErrors = modules.filter((m) => m.state() === "failed" && [...m.children.allTests()].length === 0).length;
    const unexpected = process.env.SEEC_CI === "1" ? skipped.filter((t) => !OPT_IN.test(t.fullName)) : [];
    if (unexpected.length > 0) {
      process.stdout.write(`\nSEEC_CI=1: ${unexpected.length} test(s) skipped that CI must run (is ../shared or a tool missing?):\n`);
      for (const t of unexpected) process.stdout.write(`  ${t.module.moduleId.replace(process.cwd() + "/", "")} > ${t.fullName}\n`);
      process.exitCode = 1;
    }
    process.stdout.write(
      `\n${passed} passed, ${failed + moduleErrors + unexpected.length} failed, ${skipped.length - unexpected.length} skipped\n`,
    );
  }
}
