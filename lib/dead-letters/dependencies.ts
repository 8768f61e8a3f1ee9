import { systemClock } from "../clock.ts";
import { databaseConfig, type Env, kafkaConfig, outboxConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { createEventValidators } from "../events/validators.ts";
import { kafkaProducers } from "../kafka/client.ts";
import { KafkaPublisher } from "../kafka/publisher.ts";
import type { Log } from "../logging.ts";
import { DeadLetterRepository } from "./repository.ts";
import { DeadLetterService } from "./service.ts";

/** The dead-letter function's service, built from the environment once per container. */
export function deadLetterServiceFromEnv(env: Env, log: Log): DeadLetterService {
  return new DeadLetterService({
    repository: new DeadLetterRepository(createPool(databaseConfig(env))),
    publisher: new KafkaPublisher(kafkaProducers(kafkaConfig(env), log)),
    validators: createEventValidators(),
    clock: systemClock,
    dlqTopic: outboxConfig(env).dlqTopic,
    log,
  });
}
