/**
 * The drain function's dependencies, built from the environment once per
 * container (at module scope in its handler) and reused by every invocation:
 * one pool, one Kafka producer, one Lambda client, one set of validators.
 */
import { AsyncLambdaInvoker } from "../aws/lambda-invoker.ts";
import { systemClock } from "../clock.ts";
import {
  databaseConfig,
  type Env,
  kafkaConfig,
  lambdaClientConfig,
  lambdaRuntimeConfig,
  outboxConfig,
} from "../config.ts";
import { createPool } from "../db/pool.ts";
import { LambdaDeadLetterInvoker } from "../dead-letters/invoker.ts";
import { createEventValidators } from "../events/validators.ts";
import { kafkaProducers } from "../kafka/client.ts";
import { KafkaPublisher } from "../kafka/publisher.ts";
import type { Log } from "../logging.ts";
import { BoundedDrain } from "./bounded-drain.ts";
import { OutboxDrain } from "./drain.ts";
import { DrainSlots } from "./drain-slots.ts";
import { DrainStateRepository } from "./drain-state.ts";
import { OutboxRepository } from "./outbox-repository.ts";
import type { PublishTracer } from "./publish-tracer.ts";

export function outboxDrainFromEnv(env: Env, log: Log, publishTracer?: PublishTracer): BoundedDrain {
  const config = outboxConfig(env);
  const pool = createPool(databaseConfig(env));
  const name = lambdaRuntimeConfig(env).logStreamName;
  const drain = new OutboxDrain({
    repository: new OutboxRepository(pool),
    publisher: new KafkaPublisher(kafkaProducers(kafkaConfig(env), log)),
    deadLetters: new LambdaDeadLetterInvoker(
      new AsyncLambdaInvoker(lambdaClientConfig(env)),
      config.deadLetterFunctionName,
    ),
    validators: createEventValidators(),
    clock: systemClock,
    config,
    log,
    name,
    ...(publishTracer && { publishTracer }),
  });
  return new BoundedDrain({
    drain,
    slots: new DrainSlots(pool, config.maxConcurrentDrains, config.drainSlotLeaseMs),
    state: new DrainStateRepository(pool),
    outagePauseMs: config.nudgeOutagePauseMs,
    nudgeIntervalMs: config.nudgeMinIntervalMs,
    name,
    log,
  });
}
