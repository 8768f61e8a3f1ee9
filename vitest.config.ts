import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Two cores: more workers only contend with Postgres and the broker.
    maxWorkers: 2,
  },
});
