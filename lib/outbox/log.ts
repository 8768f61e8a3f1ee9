/** The slice of a structured logger (the powertools Logger fits) the outbox code writes to. */
export interface Log {
  info(message: string, ...attributes: Record<string, unknown>[]): void;
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

export const silentLog: Log = { info() {}, warn() {}, error() {} };
