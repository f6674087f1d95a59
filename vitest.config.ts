import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Servers the tests spawn (the CLI's) check their answers against the OpenAPI document too.
    env: { SLICE_CHECK_RESPONSES: "1" },
  },
});
