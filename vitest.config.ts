import { configDefaults, defineConfig } from "vitest/config";

const LOCALSTACK_FILES = "tests/e2e/localstack/**/*.test.ts";
const common = {
  testTimeout: 60_000,
  hookTimeout: 300_000,
};
// Two cores: more workers only contend with Postgres and the broker.
const MAX_WORKERS = 2;

export default defineConfig({
  test: {
    // The run's Postgres, pooler and broker, shared by every project's files.
    globalSetup: ["tests/support/global-setup.ts"],
    maxWorkers: MAX_WORKERS,
    projects: [
      {
        test: {
          ...common,
          name: "default",
          maxWorkers: MAX_WORKERS,
          include: ["tests/**/*.test.ts"],
          exclude: [...configDefaults.exclude, LOCALSTACK_FILES],
        },
      },
      {
        // One LocalStack for all of these files, started by the first that runs and deployed once
        // per stage (tests/support/localstack-global-setup.ts); one file at a time, after the
        // others, since their tests change the stages they share.
        test: {
          ...common,
          name: "localstack",
          include: [LOCALSTACK_FILES],
          globalSetup: ["tests/support/localstack-global-setup.ts"],
          fileParallelism: false,
        },
      },
    ],
  },
});
