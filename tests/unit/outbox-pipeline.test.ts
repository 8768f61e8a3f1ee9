/**
 * How a drain run overlaps its batches (lib/outbox/drain.ts), on an outbox
 * kept in memory: the bounds on what is out at once, the order of sends, what
 * an outage leaves, and how a nudged run lingers. The table's own rules
 * (leases, per-aggregate order across drains) are tested on Postgres.
 */
import { describe, expect, it } from "vitest";
import { systemClock } from "../../lib/clock.ts";
import { outboxConfig } from "../../lib/config.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { newId } from "../../lib/ids.ts";
import type { MessagePublisher, OutgoingMessage } from "../../lib/kafka/publisher.ts";
import { type DrainSettings, OutboxDrain } from "../../lib/outbox/drain.ts";
import type { ClaimedEvent, FailedAttempt, Outbox } from "../../lib/outbox/outbox-repository.ts";

const validators = createEventValidators();
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

interface Row {
  event: ClaimedEvent;
  owner?: string;
  published: boolean;
}

/** An outbox in memory: each claim takes, in seq order, pending events no earlier pending event of their aggregate precedes outside the claim. */
class MemoryOutbox implements Outbox {
  readonly rows: Row[] = [];
  readonly log: string[] = [];
  /** Claims and marks out right now, and the most seen at once. */
  busy = 0;
  maxBusy = 0;
  claimDelayMs = 0;

  add(count: number, aggregateId?: string): void {
    for (let i = 0; i < count; i += 1) {
      const id = newId();
      const aggregate = aggregateId ?? newId();
      this.rows.push({
        published: false,
        event: {
          seq: BigInt(this.rows.length + 1),
          id,
          aggregateType: "Payment",
          aggregateId: aggregate,
          eventType: "PaymentAuthorized",
          payload: {
            payment_id: aggregate,
            payer_account_id: newId(),
            payee_account_id: newId(),
            amount_cents: 100,
            currency: "EUR",
          },
          createdAt: new Date().toISOString(),
          attempts: 0,
        },
      });
    }
  }

  private async busyFor<T>(work: () => T, delayMs = 0): Promise<T> {
    this.busy += 1;
    this.maxBusy = Math.max(this.maxBusy, this.busy);
    try {
      await tick(delayMs);
      return work();
    } finally {
      this.busy -= 1;
    }
  }

  claim(owner: string, limit: number): Promise<ClaimedEvent[]> {
    return this.busyFor(() => {
      const blocked = new Set<string>();
      const taken: ClaimedEvent[] = [];
      for (const row of this.rows) {
        if (row.published) continue;
        const aggregate = row.event.aggregateId;
        if (row.owner === undefined && !blocked.has(aggregate) && taken.length < limit) {
          row.owner = owner;
          taken.push(row.event);
        } else if (!taken.some((e) => e.aggregateId === aggregate)) blocked.add(aggregate);
      }
      this.log.push(`claim ${taken.length}`);
      return taken;
    }, this.claimDelayMs);
  }

  markPublished(seqs: readonly bigint[]): Promise<number> {
    return this.busyFor(() => {
      for (const row of this.rowsOf(seqs)) {
        row.published = true;
        row.owner = undefined;
      }
      this.log.push(`mark ${seqs.length}`);
      return seqs.length;
    });
  }

  release(seqs: readonly bigint[], owner: string): Promise<number> {
    return this.busyFor(() => {
      const rows = this.rowsOf(seqs).filter((row) => row.owner === owner);
      for (const row of rows) row.owner = undefined;
      if (rows.length > 0) this.log.push(`release ${rows.length}`);
      return rows.length;
    });
  }

  recordFailures(failures: readonly FailedAttempt[], owner: string): Promise<number> {
    if (failures.length === 0) return Promise.resolve(0);
    return this.release(
      failures.map((f) => f.seq),
      owner,
    );
  }

  async markDeadLettered(events: readonly unknown[]): Promise<number> {
    if (events.length > 0) throw new Error("these events are valid");
    return 0;
  }

  async oldestPendingCreatedAt(): Promise<Date | undefined> {
    return this.rows.some((row) => !row.published) ? new Date() : undefined;
  }

  private rowsOf(seqs: readonly bigint[]): Row[] {
    const wanted = new Set(seqs);
    return this.rows.filter((row) => wanted.has(row.event.seq));
  }
}

/** A producer that takes `sendMs` a send and logs what it sent; `down` makes every send fail as an outage does. */
class MemoryPublisher implements MessagePublisher {
  readonly sent: string[] = [];
  sends = 0;
  down = false;

  constructor(
    private readonly outbox: MemoryOutbox,
    private readonly sendMs = 5,
  ) {}

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    this.sends += 1;
    this.outbox.log.push(`send ${messages.length}`);
    await tick(this.sendMs);
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:9092");
    for (const m of messages) this.sent.push(m.headers.event_id as string);
  }

  async close(): Promise<void> {}
}

function drainOf(outbox: MemoryOutbox, publisher: MessagePublisher, settings: Partial<DrainSettings> = {}) {
  return new OutboxDrain({
    repository: outbox,
    publisher,
    deadLetters: {
      async deadLetter() {
        throw new Error("these events are valid");
      },
    },
    validators,
    clock: systemClock,
    config: { ...outboxConfig({ OUTBOX_TOPIC_PREFIX: "t.payments" }), ...settings },
  });
}

describe("a drain run's batches", () => {
  it("sends every event once, in claim order, with the claim of the next batch overlapping the send", async () => {
    const outbox = new MemoryOutbox();
    outbox.add(50);
    const publisher = new MemoryPublisher(outbox);
    const summary = await drainOf(outbox, publisher, { batchSize: 10, concurrency: 3 }).run();
    expect(summary).toMatchObject({ claimed: 50, published: 50, batches: 5, stoppedBy: "drained" });
    expect(publisher.sent).toEqual(outbox.rows.map((row) => row.event.id));
    // The second batch was claimed before the first send ended: claim, send, claim, …
    expect(outbox.log.slice(0, 3)).toEqual(["claim 10", "send 10", "claim 10"]);
  });

  it("keeps at most `concurrency` batches out, and at most one claimed ahead of the send", async () => {
    for (const concurrency of [1, 2, 3, 4]) {
      const outbox = new MemoryOutbox();
      outbox.add(60);
      outbox.claimDelayMs = 1;
      const publisher = new MemoryPublisher(outbox, 10);
      let unsent = 0;
      let maxUnsent = 0;
      const claim = outbox.claim.bind(outbox);
      outbox.claim = async (owner, limit) => {
        const events = await claim(owner, limit);
        if (events.length > 0) unsent += 1;
        maxUnsent = Math.max(maxUnsent, unsent);
        return events;
      };
      const publish = publisher.publish.bind(publisher);
      publisher.publish = async (messages) => {
        unsent -= 1;
        return publish(messages);
      };
      const summary = await drainOf(outbox, publisher, { batchSize: 10, concurrency }).run();
      expect(summary.published, `concurrency ${concurrency}`).toBe(60);
      // Claims and marks at once: a claim and up to concurrency - 1 marks.
      expect(outbox.maxBusy, `concurrency ${concurrency}`).toBeLessThanOrEqual(concurrency);
      // Claimed and not yet handed to the producer: the one ahead (none with concurrency 1).
      expect(maxUnsent, `concurrency ${concurrency}`).toBeLessThanOrEqual(1);
    }
  });

  it("meets an outage with at most two batches claimed, gives both back untouched, and stops", async () => {
    const outbox = new MemoryOutbox();
    outbox.add(100);
    const publisher = new MemoryPublisher(outbox);
    publisher.down = true;
    const summary = await drainOf(outbox, publisher, { batchSize: 10, concurrency: 3 }).run();
    expect(summary).toMatchObject({ published: 0, stoppedBy: "broker-unavailable" });
    expect(summary.batches).toBeLessThanOrEqual(2);
    expect(summary.released).toBe(summary.claimed);
    expect(publisher.sends).toBe(1);
    expect(outbox.rows.every((row) => row.owner === undefined && !row.published)).toBe(true);
  });

  it("gives back, unsent, a batch claimed ahead when the time budget is gone before its turn", async () => {
    const outbox = new MemoryOutbox();
    outbox.add(30);
    const publisher = new MemoryPublisher(outbox, 10);
    let claims = 0;
    let remaining = 60_000;
    const claim = outbox.claim.bind(outbox);
    outbox.claim = async (owner, limit) => {
      const events = await claim(owner, limit);
      // The budget runs out right after the batch ahead of the first send was claimed.
      claims += 1;
      if (claims === 2) remaining = 0;
      return events;
    };
    const drain = drainOf(outbox, publisher, { batchSize: 10, concurrency: 3, timeMarginMs: 1_000 });
    const summary = await drain.run({ remainingMs: () => remaining });
    expect(claims).toBe(2);
    expect(publisher.sends).toBe(1);
    expect(summary).toMatchObject({ claimed: 20, published: 10, released: 10, stoppedBy: "time" });
    expect(outbox.rows.filter((row) => row.published)).toHaveLength(10);
    expect(outbox.rows.every((row) => row.owner === undefined)).toBe(true);
  });

  it("ends with the caller's stop reason: a batch claimed ahead goes back unsent, and the run says why", async () => {
    const outbox = new MemoryOutbox();
    outbox.add(30);
    const publisher = new MemoryPublisher(outbox, 10);
    let claims = 0;
    let slotHeld = true;
    const claim = outbox.claim.bind(outbox);
    outbox.claim = async (owner, limit) => {
      const events = await claim(owner, limit);
      claims += 1;
      if (claims === 2) slotHeld = false;
      return events;
    };
    const drain = drainOf(outbox, publisher, { batchSize: 10, concurrency: 3 });
    const summary = await drain.run({
      remainingMs: () => 60_000,
      stopWhen: () => (slotHeld ? undefined : "slot-lost"),
    });
    expect(summary).toMatchObject({ claimed: 20, published: 10, released: 10, stoppedBy: "slot-lost" });
    expect(outbox.rows.every((row) => row.owner === undefined)).toBe(true);
  });

  it("sends nothing of a first claim during which the run lost its slot (a slow claim, nothing out)", async () => {
    const outbox = new MemoryOutbox();
    outbox.add(5);
    const publisher = new MemoryPublisher(outbox, 10);
    let slotHeld = true;
    const claim = outbox.claim.bind(outbox);
    outbox.claim = async (owner, limit) => {
      const events = await claim(owner, limit);
      // Postgres answered only after the slot's lease ran out.
      slotHeld = false;
      return events;
    };
    const drain = drainOf(outbox, publisher, { batchSize: 10, concurrency: 3 });
    const summary = await drain.run({ stopWhen: () => (slotHeld ? undefined : "slot-lost") });
    expect(summary).toMatchObject({ claimed: 5, published: 0, released: 5, stoppedBy: "slot-lost" });
    expect(publisher.sent).toEqual([]);
    expect(outbox.rows.every((row) => row.owner === undefined && !row.published)).toBe(true);
  });

  it("lingering, ends with the caller's stop reason rather than as drained", async () => {
    const outbox = new MemoryOutbox();
    const publisher = new MemoryPublisher(outbox, 1);
    const drain = drainOf(outbox, publisher, { pollIntervalMs: 5, nudgeMinIntervalMs: 60_000 });
    let slotHeld = true;
    const running = drain.run({ linger: true, stopWhen: () => (slotHeld ? undefined : "slot-lost") });
    await tick(20);
    slotHeld = false;
    expect(await running).toMatchObject({ claimed: 0, stoppedBy: "slot-lost" });
  });

  it("looks once more after the batches out have settled, when a claim made meanwhile found nothing", async () => {
    const outbox = new MemoryOutbox();
    // One aggregate: its second event is not claimable until the first is marked.
    const aggregate = newId();
    outbox.add(1, aggregate);
    outbox.add(1, aggregate);
    const publisher = new MemoryPublisher(outbox);
    const summary = await drainOf(outbox, publisher, { batchSize: 1, concurrency: 3 }).run();
    expect(summary).toMatchObject({ claimed: 2, published: 2, stoppedBy: "drained" });
    expect(publisher.sent).toEqual(outbox.rows.map((row) => row.event.id));
  });

  it("ends at once when nothing is due, unless it lingers", async () => {
    const outbox = new MemoryOutbox();
    const publisher = new MemoryPublisher(outbox);
    const drain = drainOf(outbox, publisher, { pollIntervalMs: 5, nudgeMinIntervalMs: 60 });
    expect(await drain.run()).toMatchObject({ claimed: 0, stoppedBy: "drained" });
    expect(outbox.log).toEqual(["claim 0"]);
  });

  it("lingering, sends what comes while it looks, and ends after nothing came for the nudge interval, looking once more after beforeLastLook", async () => {
    const outbox = new MemoryOutbox();
    const publisher = new MemoryPublisher(outbox, 1);
    const drain = drainOf(outbox, publisher, { pollIntervalMs: 5, nudgeMinIntervalMs: 60 });
    const order: string[] = [];
    const running = drain.run({
      linger: true,
      beforeLastLook: async () => {
        // The first time, one is committed while the throttle was held: the last look must find it,
        // and the run goes on looking until it lingers out again.
        if (order.length === 0) outbox.add(1);
        order.push(`before the last look, after ${outbox.log.length} steps`);
      },
    });
    await tick(30);
    outbox.add(3);
    const summary = await running;
    expect(summary).toMatchObject({ claimed: 4, published: 4, stoppedBy: "drained" });
    expect(publisher.sent).toEqual(outbox.rows.map((row) => row.event.id));
    // It lingered out twice: once before the event beforeLastLook committed, once after.
    expect(order).toHaveLength(2);
    // At least one empty look before each lingering out, and the last look.
    expect(outbox.log.filter((step) => step === "claim 0").length).toBeGreaterThanOrEqual(3);
  });

  it("with no poll interval, a nudged run ends as soon as nothing is due", async () => {
    const outbox = new MemoryOutbox();
    const publisher = new MemoryPublisher(outbox);
    const drain = drainOf(outbox, publisher, { pollIntervalMs: 0, nudgeMinIntervalMs: 60 });
    expect(await drain.run({ linger: true })).toMatchObject({ claimed: 0, stoppedBy: "drained" });
    expect(outbox.log).toEqual(["claim 0"]);
  });
});
