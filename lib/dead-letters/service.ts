import type { Clock } from "../clock.ts";
import { InvalidArgumentError, UnavailableError } from "../errors.ts";
import { type DeadLetterEnvelope, splitDeadLetterRequest } from "../events/envelope.ts";
import type { EventValidators } from "../events/validators.ts";
import { missingTopicsOf } from "../kafka/errors.ts";
import { deadLetterMessage } from "../kafka/messages.ts";
import type { MessagePublisher } from "../kafka/publisher.ts";
import { type Log, silentLog } from "../logging.ts";
import { parseTraceparent, traceparentOrNew } from "../observability/trace-context.ts";
import type { DeadLetterRepository } from "./repository.ts";

export interface DeadLetterOutcome {
  eventId: string;
  /** This call stored the record (false: it was already there). */
  recorded: boolean;
  /** This call put it on the DLQ topic (false: it already was). */
  published: boolean;
}

export interface DeadLetterDependencies {
  repository: DeadLetterRepository;
  publisher: MessagePublisher;
  validators: EventValidators;
  clock: Clock;
  dlqTopic: string;
  log?: Log;
}

/**
 * Takes an event the drain could not deliver: record it, then publish it to
 * the DLQ topic, then mark it published. Idempotent by event id. When Kafka
 * is down, or the DLQ topic does not exist, the record stays and the call
 * throws, so Lambda's async retries publish it later; nothing is lost either way.
 */
export class DeadLetterService {
  private readonly log: Log;

  constructor(private readonly deps: DeadLetterDependencies) {
    this.log = deps.log ?? silentLog;
  }

  async handle(input: unknown): Promise<DeadLetterOutcome> {
    const request = splitDeadLetterRequest(input);
    const check = this.deps.validators.deadLetter(request.envelope);
    if (!check.ok) throw new InvalidArgumentError("dead letter", check.error);
    const envelope = request.envelope as DeadLetterEnvelope;
    // The event's trace, or (handed off without one, or a malformed one) a trace of its own.
    const traceparent = traceparentOrNew(request.traceparent);
    const recorded = await this.deps.repository.record(envelope, traceparent, this.deps.clock.now());

    const published = await this.deps.repository.withLocked(
      envelope.event_id,
      async (stored, markPublished) => {
        if (!stored || stored.publishedAt) return false;
        try {
          await this.deps.publisher.publish([
            deadLetterMessage(this.deps.dlqTopic, stored.envelope, stored.traceparent ?? traceparent),
          ]);
        } catch (error) {
          const missing = missingTopicsOf(error);
          // A DLQ topic nobody created is a deployment step left out, said at error level
          // (and alarmed: KafkaTopicMissing); the record waits for Lambda's retries either way.
          if (missing) {
            this.log.error(
              "kafka topic missing: dead letter recorded, not on its topic; create it with npm run topics",
              {
                eventId: envelope.event_id,
                topics: missing,
              },
            );
          }
          throw new UnavailableError(
            `dead letter ${envelope.event_id} recorded but not yet on ${this.deps.dlqTopic}${missing ? `: ${(error as Error).message}` : ""}`,
            error,
          );
        }
        await markPublished(this.deps.clock.now());
        return true;
      },
    );

    const outcome = { eventId: envelope.event_id, recorded, published };
    this.log.info("dead letter handled", {
      ...outcome,
      error: envelope.error,
      traceId: parseTraceparent(traceparent)?.traceId,
    });
    return outcome;
  }
}
