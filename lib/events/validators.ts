import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import deadLetterSchema from "../../schemas/dead_letter.json" with { type: "json" };
import definitionsSchema from "../../schemas/definitions.json" with { type: "json" };
import envelopeSchema from "../../schemas/envelope.json" with { type: "json" };
import paymentAuthorizedSchema from "../../schemas/payment_authorized.json" with { type: "json" };
import paymentDeclinedSchema from "../../schemas/payment_declined.json" with { type: "json" };

// ajv-formats ships CommonJS; its default export differs between loaders.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

export type ValidationResult = { ok: true } | { ok: false; error: string };

export interface EventValidators {
  envelope(value: unknown): ValidationResult;
  deadLetter(value: unknown): ValidationResult;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`).join("; ");
}

function check(validate: ValidateFunction): (value: unknown) => ValidationResult {
  return (value) => (validate(value) ? { ok: true } : { ok: false, error: describe(validate.errors) });
}

/** Compiles every schema in schemas/. Costly: call once per container and keep the result. */
export function createEventValidators(): EventValidators {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  ajv.addSchema([definitionsSchema, paymentAuthorizedSchema, paymentDeclinedSchema]);
  return {
    envelope: check(ajv.compile(envelopeSchema)),
    deadLetter: check(ajv.compile(deadLetterSchema)),
  };
}
