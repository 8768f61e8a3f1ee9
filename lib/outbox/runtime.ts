/**
 * Container-wide wiring for the outbox Lambdas: one pool, one Kafka client
 * and producer, one Lambda client and one set of compiled validators per
 * container, created on first use and reused by every invocation.
 */
import { databaseConfig, kafkaConfig, lambdaClientConfig, outboxConfig } from "../config.ts";
import { createPool, type Pool } from "../db/pool.ts";
import { eventValidators } from "../events/validators.ts";
import { type KafkaLogSink, kafkaProducers } from "../kafka/client.ts";
import { KafkaPublisher } from "../kafka/publisher.ts";
import { AsyncLambdaInvoker } from "./async-invoke.ts";
import { systemClock } from "./clock.ts";
import { LambdaDeadLetterInvoker } from "./dead-letter-invoker.ts";
import { DeadLetterRepository } from "./dead-letter-repository.ts";
import { DeadLetterService } from "./dead-letter-service.ts";
import { OutboxDrain } from "./drain.ts";
import type { Log } from "./log.ts";
import { OutboxRepository } from "./outbox-repository.ts";

type RuntimeLog = Log & KafkaLogSink;

let pool: Pool | undefined;
let publisher: KafkaPublisher | undefined;
let drain: OutboxDrain | undefined;
let deadLetter: DeadLetterService | undefined;

function sharedPool(): Pool {
  pool ??= createPool(databaseConfig());
  return pool;
}

function sharedPublisher(log: RuntimeLog): KafkaPublisher {
  publisher ??= new KafkaPublisher(kafkaProducers(kafkaConfig(), log));
  return publisher;
}

export function outboxDrain(log: RuntimeLog): OutboxDrain {
  if (!drain) {
    const config = outboxConfig();
    drain = new OutboxDrain({
      repository: new OutboxRepository(sharedPool()),
      publisher: sharedPublisher(log),
      deadLetters: new LambdaDeadLetterInvoker(
        new AsyncLambdaInvoker(lambdaClientConfig()),
        config.deadLetterFunctionName,
      ),
      validators: eventValidators(),
      clock: systemClock,
      config,
      log,
      name: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? "drain",
    });
  }
  return drain;
}

export function deadLetterService(log: RuntimeLog): DeadLetterService {
  deadLetter ??= new DeadLetterService({
    repository: new DeadLetterRepository(sharedPool()),
    publisher: sharedPublisher(log),
    validators: eventValidators(),
    clock: systemClock,
    dlqTopic: outboxConfig().dlqTopic,
    log,
  });
  return deadLetter;
}
