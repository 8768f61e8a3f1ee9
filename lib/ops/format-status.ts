/** `npm run status` for humans: a few aligned tables, widest first column first. */
import type { KafkaStatus } from "./kafka-status.ts";
import type { OutboxStatus } from "./outbox-status.ts";

export interface StatusReport {
  outbox: OutboxStatus;
  /** Absent when the broker could not be reached; `kafkaError` says why. */
  kafka?: KafkaStatus;
  kafkaError?: string;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd();
  return [line(headers), ...rows.map(line)];
}

function clip(text: string | null, max = 60): string {
  if (!text) return "";
  const one = text.replace(/\s+/g, " ");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export function formatStatus(report: StatusReport): string {
  const { outbox, kafka } = report;
  const out: string[] = [`status at ${outbox.at}`, ""];
  const oldest =
    outbox.pending.oldestAgeMs === null ? "" : ` (oldest ${formatDuration(outbox.pending.oldestAgeMs)})`;
  out.push(`outbox pending: ${outbox.pending.total}${oldest}`);
  out.push(
    ...table(
      ["age", "events"],
      outbox.pending.byAge.map((b) => [b.label, String(b.count)]),
    ),
  );
  out.push(
    "",
    `published: ${outbox.published.lastMinute} in the last minute, ${outbox.published.lastHour} in the last hour`,
    "",
    `retrying: ${outbox.retrying.total}`,
  );
  if (outbox.retrying.events.length > 0) {
    out.push(
      ...table(
        ["event id", "type", "attempts", "next attempt", "last error"],
        outbox.retrying.events.map((e) => [
          e.eventId,
          e.eventType,
          String(e.attempts),
          e.nextAttemptAt,
          clip(e.lastError),
        ]),
      ),
    );
  }
  out.push("", `dead letters not redriven: ${outbox.deadLetters.notRedriven}`);
  if (outbox.deadLetters.events.length > 0) {
    out.push(
      ...table(
        ["event id", "type", "retries", "failed at", "in dlq", "error"],
        outbox.deadLetters.events.map((d) => [
          d.eventId,
          d.eventType ?? "?",
          String(d.retryCount),
          d.failedAt,
          d.publishedToDlq ? "yes" : "no",
          clip(d.error),
        ]),
      ),
      "  after fixing the cause: npm run redrive -- --event-id <event id>",
    );
  }
  out.push("");
  if (kafka) {
    out.push(`kafka: consumer group ${kafka.groupId} is ${kafka.totalLag} messages behind`);
    out.push(
      ...table(
        ["topic", "end offset", "group lag"],
        kafka.topics.map((t) =>
          t.exists ? [t.topic, String(t.endOffset), String(t.groupLag)] : [t.topic, "(no topic yet)", ""],
        ),
      ),
    );
  } else {
    out.push(`kafka: not reachable (${report.kafkaError ?? "unknown error"})`);
  }
  return out.join("\n");
}
