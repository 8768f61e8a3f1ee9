import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { type DeadLetter, EVENT_TYPES, isEventType, type LedgerEvent } from "./contract.ts";
import {
  DEAD_LETTER_SCHEMA,
  DEFINITIONS_SCHEMA,
  EVENT_ENVELOPE_SCHEMA,
  EVENT_SCHEMAS,
} from "./gen/schemas.ts";

// ajv-formats ships CommonJS; its default export differs between loaders.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/**
 * A value checked against the contract. On failure, `fields` names the
 * top-level fields at fault (what a dead letter cannot carry as it was).
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string; fields: string[] };

export interface EventValidators {
  /** An event message: valid against its event type's own schema, which includes the envelope (event_envelope.json). */
  event(value: unknown): Checked<LedgerEvent>;
  /** A message for the DLQ topic (dead_letter.json). */
  deadLetter(value: unknown): Checked<DeadLetter>;
}

function detail(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties") return `: ${String(params.additionalProperty)}`;
  if (e.keyword === "const") return ` ${JSON.stringify(params.allowedValue)}`;
  if (e.keyword === "enum") return ` (${(params.allowedValues as unknown[]).join(", ")})`;
  return "";
}

/** Each fault once: the envelope and the event type's schema may both find it. */
function describe(errors: ErrorObject[]): string {
  const lines = errors.map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}${detail(e)}`);
  return [...new Set(lines)].join("; ");
}

/** The top-level field each error is about. */
function fieldsOf(errors: ErrorObject[]): string[] {
  const fields = errors.map((e) => {
    const params = e.params as Record<string, unknown>;
    if (e.instancePath) return decodeURIComponent(e.instancePath.split("/")[1] ?? "").replace(/~1/g, "/");
    if (e.keyword === "required") return String(params.missingProperty);
    if (e.keyword === "additionalProperties") return String(params.additionalProperty);
    return "";
  });
  return [...new Set(fields.filter((f) => f !== ""))];
}

function check<T>(validate: ValidateFunction): (value: unknown) => Checked<T> {
  return (value) => {
    if (validate(value)) return { ok: true, value: value as T };
    const errors = validate.errors ?? [];
    return { ok: false, error: describe(errors), fields: fieldsOf(errors) };
  };
}

/** Compiles every schema in schemas/. Costly: call once per container and keep the result. */
export function createEventValidators(): EventValidators {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  ajv.addSchema(DEFINITIONS_SCHEMA);
  // Compiled first: the event types' schemas refer to it by $id.
  const envelope = check<LedgerEvent>(ajv.compile(EVENT_ENVELOPE_SCHEMA));
  const byType = new Map(
    EVENT_TYPES.map((type) => [type, check<LedgerEvent>(ajv.compile(EVENT_SCHEMAS[type].schema))]),
  );
  return {
    event(value) {
      // One pass on the hot path: a known type's schema includes the envelope (allOf).
      const type =
        typeof value === "object" && value !== null
          ? (value as { event_type?: unknown }).event_type
          : undefined;
      const ofType = isEventType(type) ? byType.get(type) : undefined;
      if (ofType) return ofType(value);
      // No schema to pick: the envelope's errors say what is wrong, else the type is unknown.
      const asEnvelope = envelope(value);
      if (!asEnvelope.ok) return asEnvelope;
      return {
        ok: false,
        error: `/event_type ${JSON.stringify(type)} is none of this system's event types (${EVENT_TYPES.join(", ")})`,
        fields: ["event_type"],
      };
    },
    deadLetter: check<DeadLetter>(ajv.compile(DEAD_LETTER_SCHEMA)),
  };
}
