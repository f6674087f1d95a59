import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Most files wait on servers, browsers and child processes rather than the CPU: on a
    // two-core machine the default (one worker) leaves it idle for half the run.
    maxWorkers: 3,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Servers the tests spawn (the CLI's) check their answers against the OpenAPI document too.
    env: { SLICE_CHECK_RESPONSES: "1" },
  },
});
