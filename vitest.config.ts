import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The leak tests collect garbage before they measure.
    execArgv: ["--expose-gc"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
