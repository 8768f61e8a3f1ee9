/**
 * The replaced system's own schemas (tests/contract/grpc-payment-ledger,
 * vendored unedited), compiled as its consumers use them: draft-07, formats
 * checked. Tests validate what reaches the broker against these, never
 * against our own copies.
 */
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

const DIR = new URL("../contract/grpc-payment-ledger/schemas/", import.meta.url);

/** The file each topic's messages must pass, besides event_envelope.json for event topics. */
export const OLD_SCHEMA_OF_EVENT_TYPE: Readonly<Record<string, string>> = {
  PaymentAuthorized: "payment_authorized.json",
  PaymentDeclined: "payment_declined.json",
};

function load(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, DIR), "utf8")) as Record<string, unknown>;
}

// Not strict: these files are not ours to tidy for ajv's strict mode.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validators = new Map(
  ["event_envelope.json", "payment_authorized.json", "payment_declined.json", "dead_letter.json"].map(
    (file) => [file, ajv.compile(load(file))],
  ),
);

function errorsOf(file: string, value: unknown): string[] {
  const validate = validators.get(file);
  if (!validate) throw new Error(`no vendored schema ${file}`);
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (e: ErrorObject) => `${file}: ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`,
  );
}

/**
 * Why the old system's consumers would refuse this event message ([] when
 * they accept it): the envelope and its event type's schema.
 */
export function oldEventErrors(message: unknown): string[] {
  const type = (message as { event_type?: unknown } | null)?.event_type;
  const file = typeof type === "string" ? OLD_SCHEMA_OF_EVENT_TYPE[type] : undefined;
  if (!file) return [`the old system knows no event type ${JSON.stringify(type)}`];
  return [...errorsOf("event_envelope.json", message), ...errorsOf(file, message)];
}

/** Why the old system's consumers would refuse this payments.dlq message ([] when they accept it). */
export function oldDeadLetterErrors(message: unknown): string[] {
  return errorsOf("dead_letter.json", message);
}
