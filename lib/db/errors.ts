import { SecretError } from "../aws/secrets.ts";
import { ServiceError, UnavailableError } from "../errors.ts";
import { isCredentialsRejected } from "./credentials.ts";

interface PgLikeError {
  code?: unknown;
  message?: unknown;
}

// Node socket errors and Postgres SQLSTATE classes that mean "the database is
// not there right now" rather than "this request is wrong": 57P01 a fast
// shutdown or pg_terminate_backend ended the session, 57P02 a crash, 57P03
// starting up or shutting down, 53xxx out of connections or resources, and
// class 08 (connection exceptions; PgBouncer reports its own failures, such as
// "server conn crashed?", as 08P01).
const UNAVAILABLE_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "53000"]);

function codeOf(error: unknown): string | undefined {
  const code = (error as PgLikeError | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function isUnavailable(error: unknown): boolean {
  // The database's secret could not be read (Secrets Manager unreachable, secret missing or
  // malformed): no connection can be made, and the caller can only retry later.
  if (error instanceof SecretError) return true;
  // Postgres refused the secret's credentials even after the pool fetched it again (a rotation
  // half done, a wrong secret): nothing the caller can fix, and it heals once the secret does.
  if (isCredentialsRejected(error)) return true;
  const code = codeOf(error);
  if (
    code &&
    (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08"))
  ) {
    return true;
  }
  const message = (error as PgLikeError | null)?.message;
  return typeof message === "string" && UNAVAILABLE_MESSAGES.some((text) => message.includes(text));
}

// What pg says, without a code, when the connection is gone: the server or the
// pooler closed it (a restart, a failover, a killed backend) or it never opened.
const UNAVAILABLE_MESSAGES = [
  "timeout exceeded when trying to connect",
  // "Connection terminated unexpectedly", "… due to connection timeout"
  "Connection terminated",
  "connect ECONNREFUSED",
  // A query on a client whose connection already failed (or ended).
  "is not queryable",
];

/** Serialization failures and deadlocks: safe to retry the whole transaction. */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code === "40001" || code === "40P01";
}

/**
 * A lock wait that gave up (lock_timeout) or a deadlock, possibly wrapped by a
 * library (its `cause`): the transaction can run again once the other side is done.
 */
export function isLockConflict(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = codeOf(e);
    if (code === "55P03" || code === "40P01") return true;
  }
  return false;
}

/**
 * Turns a driver error into a ServiceError the caller may see. Anything not
 * recognised is rethrown untouched so the edge reports INTERNAL and logs it.
 */
export function translateDbError(error: unknown): never {
  if (error instanceof ServiceError) throw error;
  if (isUnavailable(error))
    throw new UnavailableError("the ledger database is unavailable; retry later", error);
  // 57014: a statement or deadline cancelled it; 55P03: a lock wait outlasted the call's deadline.
  if (codeOf(error) === "57014" || codeOf(error) === "55P03") {
    throw new ServiceError("DEADLINE_EXCEEDED", "the ledger database did not answer in time", {
      cause: error,
    });
  }
  throw error;
}
