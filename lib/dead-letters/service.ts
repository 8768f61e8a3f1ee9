import type { Clock } from "../clock.ts";
import { InvalidArgumentError, UnavailableError } from "../errors.ts";
import type { DeadLetter } from "../events/contract.ts";
import { salvageDeadLetter, splitDeadLetterRequest } from "../events/dead-letter.ts";
import { isOldDeadLetterHandOff, type OldDeadLetterHandOff, storedEnvelopeFields } from "../events/legacy.ts";
import type { EventValidators } from "../events/validators.ts";
import { missingTopicsOf } from "../kafka/errors.ts";
import { deadLetterMessage } from "../kafka/messages.ts";
import type { MessagePublisher } from "../kafka/publisher.ts";
import { type Log, silentLog } from "../logging.ts";
import { parseTraceparent, traceparentOrNew } from "../observability/trace-context.ts";
import { toRfc3339 } from "../time.ts";
import type { DeadLetterRepository, StoredDeadLetter } from "./repository.ts";

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
    // A drain of the previous release still nests the event (lib/events/legacy.ts).
    const candidate = isOldDeadLetterHandOff(request.letter)
      ? this.fromOldHandOff(request.letter)
      : request.letter;
    const check = this.deps.validators.deadLetter(candidate);
    if (!check.ok) throw new InvalidArgumentError("dead letter", check.error);
    const letter = check.value;
    // The event's trace, or (handed off without one, or a malformed one) a trace of its own.
    const traceparent = traceparentOrNew(request.traceparent);
    const recorded = await this.deps.repository.record(letter, traceparent, this.deps.clock.now());

    const published = await this.deps.repository.withLocked(
      letter.event_id,
      async (stored, markPublished) => {
        if (!stored || stored.publishedAt) return false;
        try {
          await this.deps.publisher.publish([
            deadLetterMessage(this.deps.dlqTopic, this.asStored(stored), stored.traceparent ?? traceparent),
          ]);
        } catch (error) {
          const missing = missingTopicsOf(error);
          // A DLQ topic nobody created is a deployment step left out, said at error level
          // (and alarmed: KafkaTopicMissing); the record waits for Lambda's retries either way.
          if (missing) {
            this.log.error(
              "kafka topic missing: dead letter recorded, not on its topic; create it with npm run topics",
              {
                eventId: letter.event_id,
                topics: missing,
              },
            );
          }
          throw new UnavailableError(
            `dead letter ${letter.event_id} recorded but not yet on ${this.deps.dlqTopic}${missing ? `: ${(error as Error).message}` : ""}`,
            error,
          );
        }
        await markPublished(this.deps.clock.now());
        return true;
      },
    );

    const outcome = { eventId: letter.event_id, recorded, published };
    this.log.info("dead letter handled", {
      ...outcome,
      error: letter.error,
      traceId: parseTraceparent(traceparent)?.traceId,
    });
    return outcome;
  }

  /**
   * What goes on the DLQ topic is what was recorded first: a second hand-off
   * of the same event does not replace it. A record of an older release is
   * read into the contract.
   */
  private asStored(stored: StoredDeadLetter): DeadLetter {
    return salvageDeadLetter(this.deps.validators, stored.eventId, storedEnvelopeFields(stored.event), {
      error: stored.error,
      failedAt: toRfc3339(stored.failedAt),
      retryCount: stored.retryCount,
    });
  }

  /** Its fields are only checked after this, with everything else: the casts stand until then. */
  private fromOldHandOff(old: OldDeadLetterHandOff): unknown {
    return salvageDeadLetter(this.deps.validators, old.event_id as string, storedEnvelopeFields(old.event), {
      error: old.error as string,
      failedAt: old.failed_at as string,
      retryCount: old.retry_count as number,
    });
  }
}
