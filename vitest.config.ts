import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Most files wait on servers, browsers and child processes rather than the CPU: on a
    // two-core machine the default (one worker) leaves it idle for half the run.
    maxWorkers: 3,
    // A worker runs its files in one module graph instead of importing everything afresh
    // for each file (about 2.4 s a file, 412 s of a run's CPU); no test mocks modules,
    // the one fake clock is put back after each test, and each file starts its own
    // servers and stores.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Servers the tests spawn (the CLI's) check their answers against the OpenAPI document too.
    env: { SLICE_CHECK_RESPONSES: "1" },
  },
});
