import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The leak tests collect garbage before they measure.
    execArgv: ["--expose-gc"],
    // One temporary directory per run, removed at its end (test/helpers/temp-root.ts).
    globalSetup: ["./test/helpers/temp-root.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
