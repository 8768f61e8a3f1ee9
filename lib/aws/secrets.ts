/**
 * Secrets read at run time, never from the function's configuration: the
 * environment names a secret, and its value is fetched on first use, kept per
 * container for a short TTL, and fetched again at once when the service it
 * unlocks (Postgres, Kafka) rejects it. A rotated secret therefore takes
 * effect without a redeploy.
 */

/** Where secret values come from: AWS Secrets Manager in Lambda, anything else in tests. */
export interface SecretSource {
  /** The secret's current SecretString. */
  getSecretString(secretId: string): Promise<string>;
}

export class SecretError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SecretError";
  }
}

export interface SecretsManagerSourceOptions {
  /** Default: the SDK's (AWS_REGION in Lambda). */
  region?: string;
  /** Default: the SDK's (AWS, or AWS_ENDPOINT_URL[_SECRETS_MANAGER] such as LocalStack's). */
  endpoint?: string;
}

interface SecretsManagerClientLike {
  send(command: unknown): Promise<{ SecretString?: string }>;
}

/**
 * Secrets Manager through the AWS SDK the Lambda runtime ships. The SDK is
 * imported on the first fetch, not with this module, so a cold start that
 * never needs a secret (the local stage, a health check served from a warm
 * pool) does not pay for loading it.
 */
export class SecretsManagerSource implements SecretSource {
  private client: Promise<{ client: SecretsManagerClientLike; command: (id: string) => unknown }> | undefined;

  constructor(private readonly options: SecretsManagerSourceOptions = {}) {}

  async getSecretString(secretId: string): Promise<string> {
    const { client, command } = await this.loaded();
    const output = await client.send(command(secretId));
    if (typeof output.SecretString !== "string") {
      throw new SecretError(`secret ${secretId} has no SecretString (binary secrets are not supported)`);
    }
    return output.SecretString;
  }

  private loaded() {
    this.client ??= import("@aws-sdk/client-secrets-manager").then(
      ({ SecretsManagerClient, GetSecretValueCommand }) => ({
        client: new SecretsManagerClient({
          ...(this.options.region && { region: this.options.region }),
          ...(this.options.endpoint && { endpoint: this.options.endpoint }),
        }),
        command: (id: string) => new GetSecretValueCommand({ SecretId: id }),
      }),
    );
    // A failed import must not be cached.
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }
}

export interface CachedSecretOptions<T> {
  source: SecretSource;
  secretId: string;
  /** Turns the SecretString into what the caller needs; a throw is a SecretError. */
  parse: (secretString: string) => T;
  /** How long a fetched value is used before it is fetched again. */
  ttlMs: number;
  now?: () => number;
}

/**
 * One secret, cached per container. `get()` serves the cached value while it
 * is younger than the TTL; `refresh()` fetches now. Concurrent callers share
 * one fetch. When a TTL refetch fails (Secrets Manager unreachable), the
 * previous value keeps serving: it is most likely still valid, and failing
 * every request because of it would turn a control-plane blip into an outage.
 */
export class CachedSecret<T> {
  private cached: { value: T; fetchedAt: number } | undefined;
  private inFlight: Promise<T> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: CachedSecretOptions<T>) {
    this.now = options.now ?? Date.now;
  }

  get secretId(): string {
    return this.options.secretId;
  }

  async get(): Promise<T> {
    const cached = this.cached;
    if (cached && this.now() - cached.fetchedAt < this.options.ttlMs) return cached.value;
    if (!cached) return this.refresh();
    return this.refresh().catch(() => cached.value);
  }

  refresh(): Promise<T> {
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<T> {
    const { source, secretId, parse } = this.options;
    let raw: string;
    try {
      raw = await source.getSecretString(secretId);
    } catch (error) {
      throw new SecretError(`could not read secret ${secretId}`, { cause: error });
    }
    let value: T;
    try {
      value = parse(raw);
    } catch (error) {
      // The message names the secret, never its content.
      throw new SecretError(
        `secret ${secretId} is malformed: ${error instanceof Error ? error.message : "unreadable"}`,
      );
    }
    this.cached = { value, fetchedAt: this.now() };
    return value;
  }
}

/**
 * Runs `attempt` with the secret's current value. If the service rejects the
 * credentials (`isRejected`), the secret was probably rotated: fetch it once
 * more and try once more. A second rejection is final; this never loops, so a
 * wrong secret costs one extra fetch per call, not a storm of them.
 */
export async function withSecret<T, R>(
  secret: CachedSecret<T>,
  attempt: (value: T) => Promise<R>,
  isRejected: (error: unknown) => boolean,
): Promise<R> {
  const value = await secret.get();
  try {
    return await attempt(value);
  } catch (error) {
    if (!isRejected(error)) throw error;
    let fresh: T;
    try {
      fresh = await secret.refresh();
    } catch {
      // Secrets Manager is unreachable too: the rejection is the error worth reporting.
      throw error;
    }
    return attempt(fresh);
  }
}

/** Reads one string key of a JSON secret (`{"username": "...", "password": "..."}`). */
export function jsonSecretField(secret: Record<string, unknown>, key: string): string {
  const value = secret[key];
  if (typeof value !== "string" || value === "") throw new Error(`key "${key}" is missing or not a string`);
  return value;
}

/** Parses a SecretString that must be a JSON object. */
export function parseJsonSecret(secretString: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new Error("not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("not a JSON object");
  }
  return parsed as Record<string, unknown>;
}
