import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} from "kafkajs";
import { describe, expect, it } from "vitest";
import {
  classifyKafkaError,
  KafkaTopicMissingError,
  missingTopicsOf,
  protocolErrorType,
} from "../../lib/kafka/errors.ts";

function protocolError(type: string, code: number, retriable: boolean): KafkaJSProtocolError {
  return new KafkaJSProtocolError(Object.assign(new Error(`broker says ${type}`), { type, code, retriable }));
}

/** How kafkajs' retrier surfaces a non-retriable error: wrapped, with the protocol error as cause. */
function bailed(error: Error): KafkaJSNonRetriableError {
  return Object.assign(new KafkaJSNonRetriableError(error), { cause: error });
}

describe("classifyKafkaError", () => {
  it.each([
    ["MESSAGE_TOO_LARGE", 10],
    ["RECORD_LIST_TOO_LARGE", 18],
    ["INVALID_RECORD", 87],
    ["INVALID_TOPIC_EXCEPTION", 17],
    ["POLICY_VIOLATION", 44],
  ])("charges %s (code %i) to the event, found under the retrier's wrapper", (type, code) => {
    const error = bailed(protocolError(type, code, false));
    expect(classifyKafkaError(error)).toEqual({ kind: "event", type, message: `broker says ${type}` });
  });

  it("charges a retriable record error (CORRUPT_MESSAGE) that outlived the retries to the event", () => {
    const cause = protocolError("CORRUPT_MESSAGE", 2, true);
    const error = new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 3, retryTime: 100 });
    expect(classifyKafkaError(error).kind).toBe("event");
  });

  it.each([
    [
      "connection refused",
      new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9092"),
    ],
    ["request timeout", new KafkaJSRequestTimeoutError("Request Produce(key: 0, version: 7) timed out")],
    [
      "retries exhausted on a connection error",
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError("Connection error"), {
        retryCount: 3,
        retryTime: 100,
      }),
    ],
    [
      "not enough replicas",
      new KafkaJSNumberOfRetriesExceeded(protocolError("NOT_ENOUGH_REPLICAS", 19, true), {
        retryCount: 3,
        retryTime: 100,
      }),
    ],
    ["leader moved", protocolError("NOT_LEADER_FOR_PARTITION", 6, true)],
    ["cluster authorization", bailed(protocolError("CLUSTER_AUTHORIZATION_FAILED", 31, false))],
    ["a topic's write not granted", bailed(protocolError("TOPIC_AUTHORIZATION_FAILED", 29, false))],
    ["something unknown", new Error("socket hang up")],
    ["not even an Error", "boom"],
  ])("treats %s as the cluster being unavailable", (_label, error) => {
    expect(classifyKafkaError(error).kind).toBe("unavailable");
  });

  it("treats an unknown topic the publisher could not find listed as a missing topic, naming it", () => {
    const cause = new KafkaJSNumberOfRetriesExceeded(protocolError("UNKNOWN_TOPIC_OR_PARTITION", 3, true), {
      retryCount: 3,
      retryTime: 100,
    });
    const error = new KafkaTopicMissingError(["payments.paymentdeclined"], cause);
    expect(classifyKafkaError(error)).toEqual({
      kind: "missing-topic",
      type: "UNKNOWN_TOPIC_OR_PARTITION",
      message:
        "Kafka topic payments.paymentdeclined does not exist; topics are created on purpose: run npm run topics",
      topics: ["payments.paymentdeclined"],
    });
    expect(error.code).toBe("FAILED_PRECONDITION");
    // Found under a wrapper too (the dead-letter function's UNAVAILABLE).
    expect(missingTopicsOf(Object.assign(new Error("wrapped"), { cause: error }))).toEqual([
      "payments.paymentdeclined",
    ]);
    expect(new KafkaTopicMissingError(["a", "b"]).message).toContain("Kafka topics a, b do not exist");
  });

  it("treats an unknown topic nobody looked up (or that the cluster does list) as passing unavailability", () => {
    const error = new KafkaJSNumberOfRetriesExceeded(protocolError("UNKNOWN_TOPIC_OR_PARTITION", 3, true), {
      retryCount: 3,
      retryTime: 100,
    });
    expect(classifyKafkaError(error).kind).toBe("unavailable");
    expect(missingTopicsOf(error)).toBeUndefined();
  });

  it("names the failure by protocol type when there is one, else by error name", () => {
    expect(classifyKafkaError(bailed(protocolError("NOT_ENOUGH_REPLICAS", 19, true))).type).toBe(
      "NOT_ENOUGH_REPLICAS",
    );
    expect(classifyKafkaError(new KafkaJSConnectionError("down")).type).toBe("KafkaJSConnectionError");
  });

  it("survives a cyclic cause chain", () => {
    const a: { cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(protocolErrorType(a)).toBeUndefined();
  });
});
