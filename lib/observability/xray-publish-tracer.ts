/**
 * The drain's X-Ray segments, on the stages that turn X-Ray on
 * (XRAY_TRACING_ENABLED; serverless.ts sets it beside Lambda's active tracing
 * on dev and prod). aws-xray-sdk-core is loaded with a dynamic import, and
 * only then: with tracing off, a cold start neither reads it nor pays for the
 * async hooks it installs on Lambda.
 *
 * For every sampled event it delivered, the drain puts an `outbox.publish`
 * segment with a `kafka.send` subsegment into the event's trace, under the
 * span stored with the event (the api's segment when the api started the
 * trace from X-Ray's; see xray-ids.ts).
 */
import { type Env, tracingConfig } from "../config.ts";
import { type Log, silentLog } from "../logging.ts";
import type { PublishedEvent, PublishTiming, PublishTracer } from "../outbox/publish-tracer.ts";
import { parseTraceparent } from "./trace-context.ts";
import { isSampled, xrayTraceId } from "./xray-ids.ts";

export const PUBLISH_SEGMENT = "outbox.publish";
export const SEND_SUBSEGMENT = "kafka.send";

type XRaySdk = typeof import("aws-xray-sdk-core");

/**
 * The drain's PublishTracer: X-Ray segments when tracing is on; undefined
 * (and nothing loaded) when off, as lambdaTracingFromEnv.
 */
export async function publishTracerFromEnv(
  env: Env,
  log: Log = silentLog,
): Promise<PublishTracer | undefined> {
  const config = tracingConfig(env);
  if (!config.enabled || config.publishSegmentsPerBatch === 0) return undefined;
  // A CommonJS module: Node's import() gives its exports as the default, a bundle may spread them too.
  const module: XRaySdk & { default?: XRaySdk } = await import("aws-xray-sdk-core");
  return new XRayPublishTracer(module.default ?? module, config.publishSegmentsPerBatch, log);
}

/**
 * Sends one `outbox.publish` segment per delivered, sampled event (at most
 * `maxPerBatch` per call) to the X-Ray daemon over UDP, in the event's trace
 * (the W3C trace id in X-Ray form) with the stored span as its parent. Events
 * without a traceparent or not sampled record nothing.
 */
export class XRayPublishTracer implements PublishTracer {
  constructor(
    private readonly sdk: Pick<XRaySdk, "Segment">,
    private readonly maxPerBatch: number,
    private readonly log: Log = silentLog,
  ) {}

  published(events: readonly PublishedEvent[], timing: PublishTiming): void {
    let sent = 0;
    let capped = 0;
    for (const item of events) {
      const context = parseTraceparent(item.event.traceparent);
      const traceId = context && isSampled(context) ? xrayTraceId(context.traceId) : undefined;
      if (!context || !traceId) continue;
      if (sent === this.maxPerBatch) {
        capped += 1;
        continue;
      }
      this.emit(item, traceId, context.spanId, timing);
      sent += 1;
    }
    if (capped > 0) this.log.debug("x-ray publish segments capped", { sent, capped });
  }

  private emit(item: PublishedEvent, traceId: string, parentId: string, timing: PublishTiming): void {
    const segment = new this.sdk.Segment(PUBLISH_SEGMENT, traceId, parentId);
    segment.start_time = timing.startedAt / 1000;
    const annotate = (target: { addAnnotation(key: string, value: string): void }) => {
      target.addAnnotation("event_type", item.event.eventType);
      target.addAnnotation("topic", item.message.topic);
    };
    annotate(segment);
    segment.addAnnotation("event_id", item.event.id);
    const send = segment.addNewSubsegment(SEND_SUBSEGMENT);
    send.start_time = timing.sendStartedAt / 1000;
    // A call to another service: X-Ray draws Kafka as a node of its own.
    send.namespace = "remote";
    annotate(send);
    send.close();
    // close() stamps the current time; the send ended earlier (end_time is missing from the SDK's types).
    Object.assign(send, { end_time: timing.sendEndedAt / 1000 });
    segment.end_time = timing.endedAt / 1000;
    // With end_time set, close() keeps it and sends the segment, subsegment inside, to the daemon.
    segment.close();
  }
}
