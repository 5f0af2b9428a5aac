import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/lab/temp-root.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // files run in parallel (each daemon a test starts listens on a port the system picks), the tests of a file in order
    fileParallelism: true,
    // two files at once even on a 2-core machine: the longest ones (the soak, the kill -9 churn) mostly
    // wait on child processes, and one worker ran the suite file after file
    maxWorkers: 2,
    reporters: ["default"],
  },
});
