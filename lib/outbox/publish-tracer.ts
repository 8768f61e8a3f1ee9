/**
 * Where the drain reports what it delivered, so each payment's trace shows
 * its publish (the X-Ray implementation is lib/observability/xray-publish-tracer.ts). The
 * drain calls it after Kafka acknowledged a batch and the rows are marked;
 * it must never throw or wait: tracing can fail, delivery must not.
 */

/** A delivered event, as much of it as a trace needs. */
export interface PublishedEvent {
  event: {
    id: string;
    eventType: string;
    /** The W3C traceparent stored with the event; none for events written before tracing. */
    traceparent?: string | undefined;
  };
  message: { topic: string };
}

/** Epoch milliseconds of one batch's delivery. */
export interface PublishTiming {
  /** The drain claimed the batch. */
  startedAt: number;
  /** The Kafka send began and ended (splits and retries of the batch included). */
  sendStartedAt: number;
  sendEndedAt: number;
  /** The events were marked published. */
  endedAt: number;
}

export interface PublishTracer {
  published(events: readonly PublishedEvent[], timing: PublishTiming): void;
}
