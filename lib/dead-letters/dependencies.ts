import { systemClock } from "../clock.ts";
import { databaseConfig, kafkaConfig, outboxConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { createEventValidators } from "../events/validators.ts";
import { createKafka, type KafkaLogSink } from "../kafka/client.ts";
import { KafkaPublisher } from "../kafka/publisher.ts";
import type { Log } from "../outbox/log.ts";
import { DeadLetterRepository } from "./repository.ts";
import { DeadLetterService } from "./service.ts";

/** The dead-letter function's service, built from the environment once per container. */
export function deadLetterServiceFromEnv(
  env: Record<string, string | undefined>,
  log: Log & KafkaLogSink,
): DeadLetterService {
  return new DeadLetterService({
    repository: new DeadLetterRepository(createPool(databaseConfig(env))),
    publisher: new KafkaPublisher(createKafka(kafkaConfig(env), log)),
    validators: createEventValidators(),
    clock: systemClock,
    dlqTopic: outboxConfig(env).dlqTopic,
    log,
  });
}
