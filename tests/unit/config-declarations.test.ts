/**
 * Every setting is declared once (lib/config/), and nothing disagrees with
 * the declarations: the code reads no variable that is not declared, every
 * declared setting is read, every default is within its bounds, and the
 * stages forward or set exactly what the functions read. (Which function
 * reads what: config-function-reads.test.ts; the reference: config-reference.test.ts.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { deploymentFrom } from "../../infra/deployment.ts";
import { esbuildOptions } from "../../infra/esbuild.ts";
import { functions } from "../../infra/functions.ts";
import { STAGES, stageSettings } from "../../infra/stages.ts";
import { isFunction, LOCAL_STAGE_SETTINGS, SETTINGS } from "../../lib/config/catalogue.ts";
import { ConfigError, type Env, read } from "../../lib/config/declare.ts";
import * as config from "../../lib/config.ts";
import serverless from "../../serverless.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Where the product reads its environment: the functions, lib/, the deploy config and the tools. */
const SOURCES = ["lib", "functions", "infra", "scripts", "web/dev", "serverless.ts"];
const GENERATED = ["lib/gen", "lib/events/gen"];
/** Set by Lambda for each invocation: not configuration. */
const RUNTIME_VARIABLES = new Set(["_X_AMZN_TRACE_ID"]);

function sourceFiles(path: string): string[] {
  const full = join(ROOT, path);
  if (path.endsWith(".ts")) return [full];
  if (GENERATED.includes(path)) return [];
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(path, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(full, entry.name)]
        : [],
  );
}

const files = SOURCES.flatMap(sourceFiles).map((file) => ({
  path: relative(ROOT, file),
  text: readFileSync(file, "utf8"),
}));
const byName = new Map(SETTINGS.map((setting) => [setting.name, setting]));
/** Every setting set to a valid value. */
const EXAMPLES: Env = Object.fromEntries(SETTINGS.map((s) => [s.name, s.parser.example]));

/** An environment that remembers which variables were read. */
function recording(values: Env = {}): { env: Env; names: Set<string> } {
  const names = new Set<string>();
  const env = new Proxy(
    { ...values },
    {
      get(target, key) {
        if (typeof key === "string") names.add(key);
        return target[key as string];
      },
    },
  );
  return { env, names };
}

/** The config readers lib/config.ts exports: every function but the error class. */
const readers = Object.entries(config as Record<string, unknown>).filter(
  (entry): entry is [string, (env: Env) => unknown] =>
    typeof entry[1] === "function" && entry[1] !== config.ConfigError,
);

function readEverything(env: Env): void {
  for (const [, reader] of readers) reader(env);
  for (const stage of STAGES) stageSettings(stage, env);
  deploymentFrom(["node", "serverless", "package"], env);
  esbuildOptions(env);
}

describe("the declarations", () => {
  it("name each setting once, in the catalogue", () => {
    const names = SETTINGS.map((s) => s.name);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    const declared = files
      .filter((f) => f.path.startsWith("lib/config/"))
      .flatMap((f) => [...f.text.matchAll(/\bdeclare\(\s*"([A-Z0-9_]+)"/g)].map((m) => m[1]));
    expect([...new Set(declared)].sort()).toEqual([...names].sort());
    for (const setting of SETTINGS) {
      expect(setting.name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(setting.readBy.length, setting.name).toBeGreaterThan(0);
      expect(setting.doc.trim().length, setting.name).toBeGreaterThan(0);
      if (setting.needs) expect(byName.get(setting.needs.name), setting.name).toBe(setting.needs);
    }
  });

  it("keep every default within its bounds", () => {
    for (const setting of SETTINGS) {
      const value = read({}, setting);
      if (value === undefined || value === null) continue;
      const raw = setting.parser.format(value);
      if (raw === "") continue;
      expect(setting.parser.parse(raw, setting.name, {}), setting.name).toEqual(value);
    }
  });

  it("give every setting an example value that every reader takes", () => {
    expect(() => readEverything(EXAMPLES)).not.toThrow();
  });
});

describe("what the code reads", () => {
  it("is declared: no variable is read by name outside lib/config/", () => {
    const reads =
      /\b(?:process\.env|env)(?:\?\.|\.)([A-Z_][A-Z0-9_]*)|\b(?:process\.env|env)\[\s*"([A-Z_][A-Z0-9_]*)"\s*\]/g;
    const undeclared = files.flatMap((f) =>
      [...f.text.matchAll(reads)]
        .map((m) => m[1] ?? m[2] ?? "")
        .filter((name) => !byName.has(name) && !RUNTIME_VARIABLES.has(name))
        .map((name) => `${f.path}: ${name}`),
    );
    expect(undeclared).toEqual([]);
    const computed = files
      .filter((f) => f.path !== "lib/config/declare.ts" && /\b(?:process\.env|env)\[(?!\s*")/.test(f.text))
      .map((f) => f.path);
    expect(computed, "a variable read by a computed name escapes these checks").toEqual([]);
  });

  it("covers every declared setting: each is read by a reader some code calls", () => {
    const { env, names } = recording();
    readEverything(env);
    const examples = recording(EXAMPLES);
    readEverything(examples.env);
    const read = new Set([...names, ...examples.names]);
    const unread = SETTINGS.filter((s) => !s.readByLibrary && !read.has(s.name)).map((s) => s.name);
    expect(unread).toEqual([]);

    const callers = files.filter((f) => !f.path.startsWith("lib/config"));
    const uncalled = readers
      .map(([name]) => name)
      .filter((name) => !callers.some((f) => f.text.includes(`${name}(`)));
    expect(uncalled).toEqual([]);
  });
});

describe("the readers", () => {
  const refusal = (read: () => unknown) => {
    try {
      read();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error("no ConfigError");
  };

  it("refuse a malformed value at start-up, naming the variable", () => {
    expect(refusal(() => config.databaseConfig({ DB_POOL_MAX: "0" }))).toBe(
      'DB_POOL_MAX must be an integer between 1 and 1000, got "0"',
    );
    expect(refusal(() => config.databaseConfig({ DB_STATEMENT_TIMEOUT_MS: "1.5" }))).toBe(
      'DB_STATEMENT_TIMEOUT_MS must be an integer between 0 and 9007199254740991, got "1.5"',
    );
    expect(refusal(() => config.outboxConfig({ OUTBOX_NUDGE_ENABLED: "yes" }))).toBe(
      'OUTBOX_NUDGE_ENABLED must be true or false, got "yes"',
    );
    expect(refusal(() => config.retentionConfig({ OUTBOX_RETENTION: "0d" }))).toBe(
      'OUTBOX_RETENTION must be a positive duration such as 7d, 12h, 30m or 45s, got "0d"',
    );
    expect(refusal(() => config.kafkaConfig({ KAFKA_SASL_MECHANISM: "gssapi" }))).toBe(
      "KAFKA_SASL_MECHANISM must be one of plain, scram-sha-256, scram-sha-512",
    );
    expect(refusal(() => config.kafkaConfig({ KAFKA_LOG_LEVEL: "loud" }))).toBe(
      "KAFKA_LOG_LEVEL must be one of nothing, error, warn, info, debug",
    );
    expect(refusal(() => config.authConfig({ JWT_JWKS_URL: "not a url" }))).toBe(
      'JWT_JWKS_URL is not a URL: "not a url"',
    );
    expect(refusal(() => config.authConfig({ JWT_SECRET: "short" }))).toBe(
      "JWT_SECRET must be at least 32 characters",
    );
    expect(refusal(() => config.pageTokenConfig({ PAGE_TOKEN_SECRET: "short" }))).toBe(
      "PAGE_TOKEN_SECRET must be at least 32 characters",
    );
    expect(refusal(() => config.devConfig({ DEV_ALLOWED_HOSTS: "ok.example, evil.example:8080" }))).toBe(
      'DEV_ALLOWED_HOSTS takes host names without port or scheme, got "evil.example:8080"',
    );
  });

  it("keep the rules between settings", () => {
    expect(
      refusal(() => config.outboxConfig({ OUTBOX_BACKOFF_BASE_MS: "5000", OUTBOX_BACKOFF_MAX_MS: "1000" })),
    ).toBe('OUTBOX_BACKOFF_MAX_MS must be an integer between 5000 and 9007199254740991, got "1000"');
    expect(
      refusal(() => config.kafkaConfig({ KAFKA_RETRY_INITIAL_MS: "500", KAFKA_RETRY_MAX_MS: "100" })),
    ).toBe('KAFKA_RETRY_MAX_MS must be an integer between 500 and 9007199254740991, got "100"');
    expect(refusal(() => config.kafkaConfig({ KAFKA_SASL_SECRET_ARN: "payment-ledger/dev/kafka" }))).toBe(
      "KAFKA_SASL_SECRET_ARN needs KAFKA_SASL_MECHANISM",
    );
    expect(config.outboxConfig({ OUTBOX_TOPIC_PREFIX: "t1.payments" }).dlqTopic).toBe("t1.payments.dlq");
    // A secret's cache TTL is read only where a secret is named.
    expect(config.databaseConfig({ SECRETS_CACHE_TTL_SECONDS: "soon" }).secret).toBeUndefined();
    expect(
      config.databaseConfig({ DATABASE_SECRET_ARN: "db", SECRETS_CACHE_TTL_SECONDS: "60" }).secret,
    ).toEqual({
      id: "db",
      ttlMs: 60_000,
    });
    expect(config.kafkaConfig({ KAFKA_SASL_MECHANISM: "SCRAM-SHA-512" }).saslMechanism).toBe("scram-sha-512");
  });

  it("read the forms each parser takes; unset and empty mean the default", () => {
    expect(config.retentionConfig({ OUTBOX_RETENTION: " 12h ", INBOX_RETENTION: "500ms" })).toMatchObject({
      outboxMs: 43_200_000,
      inboxMs: 500,
      redrivenDeadLetterMs: 30 * 86_400_000,
    });
    expect(config.kafkaConfig({ KAFKA_BROKERS: " b1:9092, ,b2:9092 ", KAFKA_SSL: "1" })).toMatchObject({
      brokers: ["b1:9092", "b2:9092"],
      ssl: true,
    });
    expect(config.authConfig({ JWT_MAX_TOKEN_AGE_SECONDS: "0" }).maxTokenAgeSeconds).toBeUndefined();
    expect(config.authConfig({ JWT_MAX_TOKEN_AGE_SECONDS: "600" }).maxTokenAgeSeconds).toBe(600);
    expect(config.databaseConfig({ DB_POOL_MAX: "" }).poolMax).toBe(5);
    expect(config.migrationsConfig({ MIGRATIONS_DIR: "" }).dir).toBeUndefined();
    expect(config.devConfig({ DEV_ALLOWED_HOSTS: "Box.Example" }).allowedHosts).toEqual([
      ...config.LOOPBACK_HOSTS,
      "box.example",
    ]);
    // A list default is a copy: changing one reader's list changes no other's.
    config.kafkaConfig({}).brokers.push("changed:1");
    expect(config.kafkaConfig({}).brokers).toEqual(["127.0.0.1:9092"]);
  });
});

describe("the stages", () => {
  const NOT_SETTINGS = {
    PATH: "/bin",
    KAFKA_JARS_DIR: "/opt/jars",
    KAFKA_SCRAM_ADMIN_PASSWORD: "admin",
    DB_HOST: "x",
  };

  it("local forwards from the shell exactly the settings functions read that nothing else sets, in the shell's order", () => {
    const shell: Env = { ...NOT_SETTINGS, ...EXAMPLES, OUTBOX_BATCH_SIZE: "" };
    const forwarded = stageSettings("local", shell).environment;
    const expected = Object.keys(shell).filter(
      (name) => LOCAL_STAGE_SETTINGS.has(name) && shell[name] !== "",
    );
    expect(Object.keys(forwarded)).toEqual(expected);
    // Less the one left empty, and the retired ones (their only valid value is unset).
    const retired = SETTINGS.filter(
      (s) => LOCAL_STAGE_SETTINGS.has(s.name) && s.parser.example === "",
    ).length;
    expect(expected.length).toBe(LOCAL_STAGE_SETTINGS.size - 1 - retired);
    for (const name of expected) expect(forwarded[name]).toBe(shell[name]);
    // Read by the api, and forwarded since the declarations decide (the old name list had left it out).
    expect(LOCAL_STAGE_SETTINGS.has("LEDGER_ROLL_UP_EVERY")).toBe(true);
    for (const setting of SETTINGS) {
      const functionReads = setting.readBy.some(isFunction);
      expect(LOCAL_STAGE_SETTINGS.has(setting.name), setting.name).toBe(functionReads && !setting.setBy);
    }
  });

  it("local: what serverless.ts says it sets, it sets", () => {
    const set = new Set([
      ...Object.keys(serverless.provider.environment ?? {}),
      ...Object.values(serverless.functions ?? {}).flatMap((fn) => Object.keys(fn.environment ?? {})),
    ]);
    const claimed = SETTINGS.filter((s) => s.setBy === "serverless.ts" && s.readBy.some(isFunction));
    expect(claimed.filter((s) => !set.has(s.name)).map((s) => s.name)).toEqual([]);
  });

  it.each(STAGES)(
    "%s: every variable set on a function is declared and read by a function that gets it",
    (stage) => {
      const deployment = deploymentFrom(["node", "serverless", "package", "--stage", stage], {});
      const shared = Object.keys(deployment.settings.environment);
      const misplaced = [
        ...shared
          .filter((name) => !byName.get(name)?.readBy.some(isFunction))
          .map((name) => `every function: ${name}`),
        ...Object.entries(functions(deployment)).flatMap(([fn, definition]) =>
          Object.keys(definition.environment ?? {})
            .filter((name) => !(byName.get(name)?.readBy as readonly string[] | undefined)?.includes(fn))
            .map((name) => `${fn}: ${name}`),
        ),
      ];
      expect(misplaced).toEqual([]);
    },
  );
});
