/**
 * schemas/ against the replaced system's schemas (vendored, unedited, under
 * tests/contract/grpc-payment-ledger): same files, same field names and
 * types, and never looser; and what is generated from schemas/ against
 * schemas/ itself.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  aggregateTypeOf,
  EVENT_TYPES,
  type LedgerEvent,
  type PaymentAuthorized,
  type PaymentDeclined,
  type PaymentDeclinedPayload,
  schemaNameOf,
} from "../../lib/events/contract.ts";
import { createEventValidators } from "../../lib/events/validators.ts";
import { eventTopics, topicFor } from "../../lib/kafka/messages.ts";
import type { DeclineCode } from "../../lib/payments/model.ts";
import { oldDeadLetterErrors, oldEventErrors } from "../support/old-contract.ts";

const validators = createEventValidators();
const OLD = new URL("../contract/grpc-payment-ledger/", import.meta.url);
const OURS = new URL("../../schemas/", import.meta.url);

type Schema = Record<string, unknown> & {
  properties?: Record<string, Schema>;
  required?: string[];
  definitions?: Record<string, Schema>;
};

const read = (base: URL, file: string): Schema =>
  JSON.parse(readFileSync(new URL(file, base), "utf8")) as Schema;
const old = (file: string) => read(new URL("schemas/", OLD), file);
const ours = (file: string) => read(OURS, file);
const definitions = ours("definitions.json").definitions ?? {};

/** A property of ours with its $ref to definitions.json followed (one level: all ours need). */
function resolved(property: Schema): Schema {
  const ref = property.$ref;
  if (typeof ref !== "string") return property;
  const name = /#\/definitions\/(\w+)$/.exec(ref)?.[1];
  const target = name ? definitions[name] : undefined;
  if (!target) throw new Error(`cannot follow ${ref}`);
  return { ...target, ...property, $ref: undefined };
}

/** Field name → what a field is on the wire: its JSON type, const or enum. */
function shape(schema: Schema): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([name, property]) => {
      const p = resolved(property);
      return [name, { type: p.type, const: p.const, enum: p.enum }];
    }),
  );
}

/** Our event type's schema: the envelope's fields refined by its own (allOf). */
function ourEventSchema(file: string): Schema {
  const envelope = ours("event_envelope.json");
  const own = ours(file);
  return {
    properties: { ...envelope.properties, ...own.properties, payload: own.definitions?.payload ?? {} },
    required: [...new Set([...(envelope.required ?? []), ...(own.required ?? [])])],
  };
}

/** `const` implies the type; the old files sometimes leave it out. */
function withConstTypes(s: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(s).map(([name, f]) => {
      const field = f as { type?: unknown; const?: unknown; enum?: unknown };
      return [
        name,
        { ...field, type: field.type ?? (field.const === undefined ? undefined : typeof field.const) },
      ];
    }),
  );
}

describe("the vendored schemas are the replaced system's, unedited", () => {
  it("each file hashes to the git blob its README names", () => {
    const readme = readFileSync(new URL("README.md", OLD), "utf8");
    const rows = [...readme.matchAll(/\| `(schemas\/\w+\.json)`\s*\| `([0-9a-f]{40})`/g)];
    expect(rows.map((r) => r[1]).sort()).toEqual(
      readdirSync(new URL("schemas/", OLD))
        .map((f) => `schemas/${f}`)
        .sort(),
    );
    for (const [, file, blob] of rows) {
      const bytes = readFileSync(new URL(file as string, OLD));
      const hash = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
      expect(hash, file).toBe(blob);
    }
  });
});

describe("schemas/ carries the replaced system's contract", () => {
  it("under the same file names", () => {
    const files = readdirSync(OURS);
    for (const file of readdirSync(new URL("schemas/", OLD))) expect(files).toContain(file);
  });

  it("the envelope: the same fields, required and typed alike, no others", () => {
    const theirs = old("event_envelope.json");
    const mine = ours("event_envelope.json");
    expect(mine.additionalProperties).toBe(false);
    expect(Object.keys(mine.properties ?? {})).toEqual(Object.keys(theirs.properties ?? {}));
    expect([...(mine.required ?? [])].sort()).toEqual([...(theirs.required ?? [])].sort());
    const typeOf = (s: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(s).map(([k, v]) => [k, (v as { type: unknown }).type]));
    expect(typeOf(shape(mine))).toEqual(typeOf(shape(theirs)));
  });

  it.each(["payment_authorized.json", "payment_declined.json"])(
    "%s: the same envelope constants and payload fields, required and typed alike, no others",
    (file) => {
      const theirs = old(file);
      const mine = ourEventSchema(file);
      const theirPayload = theirs.properties?.payload as Schema;
      const myPayload = mine.properties?.payload as Schema;
      expect(withConstTypes(shape(mine))).toMatchObject(
        Object.fromEntries(
          Object.entries(withConstTypes(shape(theirs))).map(([k, v]) => [
            k,
            k === "payload" ? { type: "object" } : v,
          ]),
        ),
      );
      expect(Object.keys(shape(mine)).sort()).toEqual(Object.keys(shape(theirs)).sort());
      expect([...(mine.required ?? [])].sort()).toEqual([...(theirs.required ?? [])].sort());
      expect(myPayload.additionalProperties).toBe(false);
      expect(shape(myPayload)).toEqual(
        Object.fromEntries(
          Object.entries(shape(theirPayload)).map(([k, v]) => [k, { ...(v as object), const: undefined }]),
        ),
      );
      expect([...(myPayload.required ?? [])].sort()).toEqual([...(theirPayload.required ?? [])].sort());
    },
  );

  it("dead_letter.json: the same flat fields, required and typed alike, no others", () => {
    const theirs = old("dead_letter.json");
    const mine = ours("dead_letter.json");
    expect(mine.additionalProperties).toBe(false);
    expect(shape(mine)).toEqual(shape(theirs));
    expect([...(mine.required ?? [])].sort()).toEqual([...(theirs.required ?? [])].sort());
  });

  it("every decline code the ledger can give is one the old consumers know", () => {
    // Compile-time: DeclineCode (lib/payments) is within the schema's enum.
    const within: DeclineCode extends PaymentDeclinedPayload["error_code"] ? true : false = true;
    expect(within).toBe(true);
    const enumOf = (payload: Schema | undefined) => payload?.properties?.error_code?.enum;
    const oldCodes = enumOf(old("payment_declined.json").properties?.payload);
    const ourCodes = enumOf(ours("payment_declined.json").definitions?.payload);
    expect(ourCodes).toHaveLength(5);
    expect(ourCodes).toEqual(oldCodes);
  });
});

const authorized: PaymentAuthorized = {
  event_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T2",
  aggregate_type: "Payment",
  aggregate_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
  event_type: "PaymentAuthorized",
  payload: {
    payment_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
    payer_account_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T4",
    payee_account_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T5",
    amount_cents: 9_007_199_254_740_991,
    currency: "EUR",
    description: "coffee",
  },
  timestamp: "2026-01-02T03:04:05.678Z",
};

const declined: PaymentDeclined = {
  ...authorized,
  event_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T6",
  event_type: "PaymentDeclined",
  payload: {
    payment_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T3",
    payer_account_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T4",
    payee_account_id: "01JDQ7K3J8Z5X9V2M4N6P8R0T5",
    amount_cents: 1,
    currency: "EUR",
    error_code: "INSUFFICIENT_FUNDS",
    error_message: "payer account has insufficient funds",
  },
};

const samples: Record<string, LedgerEvent> = { PaymentAuthorized: authorized, PaymentDeclined: declined };

describe("a message typed by the generated types", () => {
  it.each(Object.entries(samples))("%s validates against schemas/ and the old schemas", (_, event) => {
    expect(validators.event(event)).toEqual({ ok: true, value: event });
    expect(oldEventErrors(event)).toEqual([]);
  });

  it("without its optional fields too", () => {
    const { description: _, ...payload } = authorized.payload;
    const { payment_id: __, ...declinedPayload } = declined.payload;
    for (const event of [
      { ...authorized, payload },
      { ...declined, payload: declinedPayload },
    ]) {
      expect(validators.event(event)).toMatchObject({ ok: true });
      expect(oldEventErrors(event)).toEqual([]);
    }
  });
});

/** Changes to a valid message; whatever the old schemas refuse, ours must refuse too. */
const MUTATIONS: Record<string, (event: LedgerEvent) => unknown> = {
  "an extra envelope field": (e) => ({ ...e, schema: "payment_authorized" }),
  "the old field names": (e) => {
    const { timestamp, ...rest } = e;
    return { ...rest, occurred_at: timestamp };
  },
  "lower-case aggregate type": (e) => ({ ...e, aggregate_type: "payment" }),
  "an extra payload field": (e) => ({ ...e, payload: { ...e.payload, authorized_at: e.timestamp } }),
  "no event_id": (e) => {
    const { event_id: _, ...rest } = e;
    return rest;
  },
  "a bad event_id": (e) => ({ ...e, event_id: "not-a-ulid" }),
  "a bad timestamp": (e) => ({ ...e, timestamp: "yesterday" }),
  "an amount as a string": (e) => ({ ...e, payload: { ...e.payload, amount_cents: "100" } }),
  "a zero amount": (e) => ({ ...e, payload: { ...e.payload, amount_cents: 0 } }),
  "a fractional amount": (e) => ({ ...e, payload: { ...e.payload, amount_cents: 1.5 } }),
  "a lower-case currency": (e) => ({ ...e, payload: { ...e.payload, currency: "eur" } }),
  "no payer": (e) => {
    const { payer_account_id: _, ...payload } = e.payload;
    return { ...e, payload };
  },
  "an unknown decline code": (e) =>
    e.event_type === "PaymentDeclined"
      ? { ...e, payload: { ...e.payload, error_code: "NOPE" } }
      : { ...e, x: 1 },
  "the other type's payload": (e) => ({
    ...e,
    payload: (e.event_type === "PaymentAuthorized" ? declined : authorized).payload,
  }),
};

describe("schemas/ is never looser than the old schemas", () => {
  for (const [type, event] of Object.entries(samples)) {
    it.each(Object.keys(MUTATIONS))(`${type} with %s is refused by both`, (name) => {
      const changed = (MUTATIONS[name] as (e: LedgerEvent) => unknown)(event);
      expect(oldEventErrors(changed), "the old schemas accept it: pick a mutation they refuse").not.toEqual(
        [],
      );
      expect(validators.event(changed).ok).toBe(false);
    });
  }

  it("refuses an event type it does not define, naming the ones it does", () => {
    const check = validators.event({ ...authorized, event_type: "PaymentSettled" });
    expect(check).toEqual({
      ok: false,
      error: `/event_type "PaymentSettled" is none of this system's event types (${EVENT_TYPES.join(", ")})`,
      fields: ["event_type"],
    });
  });

  it("a dead letter: the old schema and ours agree on a valid one and on broken ones", () => {
    const letter = {
      ...authorized,
      retry_count: 3,
      failed_at: "2026-01-02T03:05:00.000Z",
      error: "MESSAGE_TOO_LARGE: too big",
    };
    expect(validators.deadLetter(letter)).toMatchObject({ ok: true });
    expect(oldDeadLetterErrors(letter)).toEqual([]);
    for (const broken of [
      { ...letter, extra: 1 },
      { ...letter, retry_count: -1 },
      { ...letter, payload: [] },
      { ...letter, failed_at: "soon" },
      (({ timestamp: _, ...rest }) => rest)(letter),
      {
        event_id: letter.event_id,
        event: authorized,
        retry_count: 3,
        failed_at: letter.failed_at,
        error: "x",
      },
    ]) {
      expect(oldDeadLetterErrors(broken)).not.toEqual([]);
      expect(validators.deadLetter(broken).ok).toBe(false);
    }
  });
});

describe("what derives from schemas/", () => {
  it("one event type per event schema file, named after it, each on its own topic", () => {
    const shared = ["dead_letter.json", "definitions.json", "event_envelope.json"];
    const eventFiles = readdirSync(OURS).filter((f) => !shared.includes(f));
    expect(EVENT_TYPES.map((type) => `${schemaNameOf(type)}.json`).sort()).toEqual(eventFiles.sort());
    for (const type of EVENT_TYPES) {
      const schema = ours(`${schemaNameOf(type)}.json`);
      expect(schema.properties?.event_type?.const).toBe(type);
      expect(schema.properties?.aggregate_type?.const).toBe(aggregateTypeOf(type));
    }
    expect(eventTopics("payments")).toEqual([
      "payments.paymentauthorized",
      "payments.paymentcaptured",
      "payments.paymentdeclined",
      "payments.paymentexpired",
      "payments.paymentheld",
      "payments.paymentrefunddeclined",
      "payments.paymentrefunded",
      "payments.paymentvoided",
    ]);
    expect(topicFor("payments", "PaymentDeclined")).toBe("payments.paymentdeclined");
  });
});
