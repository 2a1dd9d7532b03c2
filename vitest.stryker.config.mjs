// The vitest config Stryker runs (stryker.config.mjs): only the test files of the areas being
// mutated (SEEC_MUTATION_TESTS), in Stryker's worker threads, without the summary reporter.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: JSON.parse(process.env.SEEC_MUTATION_TESTS ?? '["test/**/*.test.ts"]'),
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
