// Prints the plain closing line CI reads: "N passed, N failed, N skipped".
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0,
      failed = 0,
      skipped = 0;
    for (const m of modules)
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    const moduleErrors = modules.filter((m) => m.state() === "failed" && [...m.children.allTests()].length === 0).length;
    process.stdout.write(`\n${passed} passed, ${failed + moduleErrors} failed, ${skipped} skipped\n`);
  }
}
