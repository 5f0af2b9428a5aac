import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/lab/temp-root.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // interop tests start daemons on fixed loopback ports per file; run files in parallel, tests in order
    fileParallelism: true,
    reporters: ["default"],
  },
});
