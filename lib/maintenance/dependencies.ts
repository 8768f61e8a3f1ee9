import { systemClock } from "../clock.ts";
import { databaseConfig, type Env, retentionConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import type { Log } from "../logging.ts";
import { RetentionJob } from "./retention.ts";
import { RetentionRepository } from "./retention-repository.ts";

/** The maintenance function's job, built from the environment once per container. */
export function retentionJobFromEnv(env: Env, log: Log): RetentionJob {
  return new RetentionJob({
    repository: new RetentionRepository(createPool(databaseConfig(env))),
    clock: systemClock,
    config: retentionConfig(env),
    log,
  });
}
