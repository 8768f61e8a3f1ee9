/**
 * The one logger factory and the one logging interface. Every Lambda logs
 * JSON through Powertools under one service name (POWERTOOLS_SERVICE_NAME,
 * which serverless.ts sets), told apart by a `function` key.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { type Env, serviceName } from "./config.ts";

/**
 * The slice of a structured logger that code below the handlers writes to.
 * Powertools' Logger fits it, so does `silentLog`; modules take a Log, never
 * construct one.
 */
export interface Log {
  debug(message: string, ...attributes: Record<string, unknown>[]): void;
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export interface LoggerOptions {
  /** The Lambda (api, drainOutbox, deadLetter, migrate): a key on every line. */
  function: string;
  /** Default: Powertools' own (POWERTOOLS_LOG_LEVEL, else INFO). */
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR" | "SILENT";
  /** Where POWERTOOLS_SERVICE_NAME is read (lib/config/observability.ts); handlers pass process.env. */
  env: Env;
}

/**
 * A Powertools logger for one function; create it once per container. No log
 * buffer is configured: a line below the level is dropped, never kept, so the
 * api builds its per-call line only when the level prints it.
 */
export function createLogger(options: LoggerOptions): Logger {
  return new Logger({
    serviceName: serviceName(options.env),
    persistentKeys: { function: options.function },
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  });
}

/** Powertools logs an Error with its name, message and stack; anything else thrown is wrapped into one. */
export function loggable(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
