/**
 * Where tests keep secrets: LocalStack's Secrets Manager when LOCALSTACK_ENDPOINT
 * is set (the real API), else an in-process store. Both implement the loader's
 * own SecretSource interface, and both count the reads, so tests can assert how
 * often the loader went to the source.
 */
import { type SecretSource, SecretsManagerSource } from "../../lib/aws/secrets.ts";

export interface TestSecretStore extends SecretSource {
  /** Where the values live, for the test log. */
  readonly kind: string;
  /** Creates the secret or stores a new version of it (a rotation). */
  put(secretId: string, value: string): Promise<void>;
  /** GetSecretValue calls so far, per secret. */
  reads(secretId: string): number;
  close(): Promise<void>;
}

/** A SecretSource kept in memory: what Secrets Manager would answer, minus the network. */
export class InProcessSecretStore implements TestSecretStore {
  readonly kind = "in-process secret store";
  private readonly values = new Map<string, string>();
  private readonly counts = new Map<string, number>();

  async put(secretId: string, value: string): Promise<void> {
    this.values.set(secretId, value);
  }

  async getSecretString(secretId: string): Promise<string> {
    this.counts.set(secretId, this.reads(secretId) + 1);
    const value = this.values.get(secretId);
    if (value === undefined) throw new Error(`ResourceNotFoundException: ${secretId}`);
    return value;
  }

  reads(secretId: string): number {
    return this.counts.get(secretId) ?? 0;
  }

  async close(): Promise<void> {}
}

/** LocalStack's Secrets Manager, read through the same SecretsManagerSource the functions use. */
class LocalStackSecretStore implements TestSecretStore {
  readonly kind: string;
  private readonly reader: SecretsManagerSource;
  private readonly counts = new Map<string, number>();

  constructor(private readonly endpoint: string) {
    this.kind = `LocalStack Secrets Manager at ${endpoint}`;
    this.reader = new SecretsManagerSource({ region: "us-east-1", endpoint });
  }

  async put(secretId: string, value: string): Promise<void> {
    const sm = await import("@aws-sdk/client-secrets-manager");
    const client = new sm.SecretsManagerClient({ region: "us-east-1", endpoint: this.endpoint });
    try {
      await client.send(new sm.CreateSecretCommand({ Name: secretId, SecretString: value }));
    } catch (error) {
      if ((error as { name?: string }).name !== "ResourceExistsException") throw error;
      await client.send(new sm.PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
    } finally {
      client.destroy();
    }
  }

  getSecretString(secretId: string): Promise<string> {
    this.counts.set(secretId, this.reads(secretId) + 1);
    return this.reader.getSecretString(secretId);
  }

  reads(secretId: string): number {
    return this.counts.get(secretId) ?? 0;
  }

  async close(): Promise<void> {}
}

export function testSecretStore(): TestSecretStore {
  const endpoint = process.env.LOCALSTACK_ENDPOINT;
  if (endpoint) {
    // LocalStack accepts any credentials; the SDK only needs some.
    process.env.AWS_ACCESS_KEY_ID ??= "test";
    process.env.AWS_SECRET_ACCESS_KEY ??= "test";
    return new LocalStackSecretStore(endpoint);
  }
  return new InProcessSecretStore();
}
