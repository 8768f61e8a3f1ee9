/**
 * How a setting is declared and read. Each setting is declared once, in the
 * lib/config/ module of its concern, with one of the builders below: its
 * name, parser and bounds, default, documentation, who reads it and who sets
 * it. Everything else derives from that declaration: the typed readers
 * (readAll over a group), docs/configuration.md (npm run docs:config), the
 * settings the local stage forwards from the shell (infra/stages.ts), and the
 * checks of tests/unit/config-*.test.ts.
 *
 * A malformed value fails loudly at start-up (ConfigError, naming the
 * variable) instead of being ignored. An unset or empty variable takes the
 * default.
 */

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The Lambda functions (infra/functions.ts), as readers of settings. */
export const FUNCTION_NAMES = ["api", "drainOutbox", "deadLetter", "maintenance", "migrate"] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/**
 * Who reads a setting: a Lambda function (checked: tests/unit/config-function-reads.test.ts),
 * the command-line tools and local servers (scripts/, bench/, web/dev/), or
 * serverless.ts while it builds a template.
 */
export type Reader = FunctionName | "scripts" | "serverless.ts";

/** Who sets a setting on the functions instead of the operator; the local stage does not forward it. */
export type SetBy = "serverless.ts" | "Lambda";

/** Turns a variable's text into its value; throws ConfigError naming the variable when it cannot. */
export interface Parser<T> {
  /** What values it takes, for the reference (e.g. "integer 1–1000"). */
  readonly type: string;
  /** `raw` is never empty (empty means unset); `env` is there for bounds taken from other settings. */
  parse(raw: string, name: string, env: Env): T;
  /** A value as it would be written in the environment (parse(format(v)) is v). */
  format(value: NonNullable<T>): string;
  /** A valid value to set it to, for tests that set every setting. */
  readonly example: string;
}

export interface Setting<T> {
  readonly name: string;
  readonly parser: Parser<T>;
  /** The value when unset; a function when it follows another setting. */
  readonly default: T | ((env: Env) => T);
  /** How the reference shows the default, when the value alone would not say it. */
  readonly defaultText: string | undefined;
  /** What it does, and why its default is what it is. */
  readonly doc: string;
  readonly readBy: readonly Reader[];
  readonly setBy: SetBy | undefined;
  /** Read by this library rather than by our code (e.g. "Powertools Logger"). */
  readonly readByLibrary: string | undefined;
  /** A setting this one cannot work without (checked when this one is set). */
  readonly needs: Setting<unknown> | undefined;
}

/** What a setting declares besides its parser. `D` is `undefined` when unset means none. */
export interface Declaration<D> {
  default: D | ((env: Env) => D);
  defaultText?: string;
  doc: string;
  readBy: readonly Reader[];
  setBy?: SetBy;
  readByLibrary?: string;
  needs?: Setting<unknown>;
}

/** A concern's settings, by the field of its config object they fill. */
export type SettingGroup = Record<string, Setting<unknown>>;

/** The config object a group reads into. */
export type ConfigOf<G extends SettingGroup> = {
  -readonly [K in keyof G]: G[K] extends Setting<infer T> ? T : never;
};

/**
 * Builds a setting from its parser and declaration. Its type is the parser's,
 * and may be undefined when the declared default is (unset means none).
 */
export function declare<T>(name: string, parser: Parser<T>, d: Declaration<NoInfer<T>>): Setting<T>;
export function declare<T>(
  name: string,
  parser: Parser<T>,
  d: Declaration<undefined>,
): Setting<T | undefined>;
/* @__NO_SIDE_EFFECTS__ */
export function declare<T>(
  name: string,
  parser: Parser<T>,
  d: Declaration<T | undefined>,
): Setting<T | undefined> {
  return {
    name,
    parser,
    default: d.default,
    defaultText: d.defaultText,
    doc: d.doc,
    readBy: d.readBy,
    setBy: d.setBy,
    readByLibrary: d.readByLibrary,
    needs: d.needs,
  };
}

export function isSet(env: Env, setting: Setting<unknown>): boolean {
  const raw = env[setting.name];
  return raw !== undefined && raw !== "";
}

/** One setting's value from `env`: its default when unset or empty. */
export function read<T>(env: Env, setting: Setting<T>): T {
  const raw = env[setting.name];
  if (raw === undefined || raw === "") {
    const fallback = setting.default;
    if (typeof fallback === "function") return (fallback as (env: Env) => T)(env);
    // A fresh copy: a caller may change its list without changing the default.
    return Array.isArray(fallback) ? ([...fallback] as T) : fallback;
  }
  const value = setting.parser.parse(raw, setting.name, env);
  if (setting.needs && !isSet(env, setting.needs)) {
    throw new ConfigError(`${setting.name} needs ${setting.needs.name}`);
  }
  return value;
}

/** A group's config object: every setting of it read from `env`, in declaration order. */
export function readAll<G extends SettingGroup>(env: Env, group: G): ConfigOf<G> {
  const config: Record<string, unknown> = {};
  for (const [field, setting] of Object.entries(group)) config[field] = read(env, setting);
  return config as ConfigOf<G>;
}

// Parsers. Their messages are what an operator sees when a function refuses to start.

const MAX = Number.MAX_SAFE_INTEGER;

/** A whole number within bounds; the lower bound may be another setting's value (e.g. a ceiling ≥ its base). */
/* @__NO_SIDE_EFFECTS__ */
export function integer(min: number | Setting<number> = 0, max = MAX): Parser<number> {
  const lower = typeof min === "number" ? String(min) : min.name;
  return {
    type: max === MAX ? `integer ≥ ${lower}` : `integer ${lower}–${max}`,
    parse(raw, name, env) {
      const low = typeof min === "number" ? min : read(env, min);
      const value = Number(raw);
      if (!Number.isSafeInteger(value) || value < low || value > max) {
        throw new ConfigError(`${name} must be an integer between ${low} and ${max}, got "${raw}"`);
      }
      return value;
    },
    format: String,
    example: typeof min === "number" ? String(min) : min.parser.example,
  };
}

export const boolean: Parser<boolean> = {
  type: "true or false",
  parse(raw, name) {
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  },
  format: String,
  example: "true",
};

const DURATION_UNITS_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;

/** A duration such as 7d, 12h, 30m, 45s or 500ms, in milliseconds. */
export const duration: Parser<number> = {
  type: "duration: 7d, 12h, 30m, 45s, 500ms",
  parse(raw, name) {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
    const unit = match?.[2] as keyof typeof DURATION_UNITS_MS | undefined;
    const value = match && unit ? Number(match[1]) * DURATION_UNITS_MS[unit] : Number.NaN;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigError(`${name} must be a positive duration such as 7d, 12h, 30m or 45s, got "${raw}"`);
    }
    return value;
  },
  format(ms) {
    const [unit, size] = Object.entries(DURATION_UNITS_MS).find(([, size]) => ms % size === 0) ?? ["ms", 1];
    return `${ms / size}${unit}`;
  },
  example: "1d",
};

/** Comma-separated values, trimmed, empty ones dropped. */
/* @__NO_SIDE_EFFECTS__ */
export function list(example: string): Parser<string[]> {
  return {
    type: "comma-separated list",
    parse: (raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    format: (values) => values.join(","),
    example,
  };
}

/** One of a fixed set of values; `caseInsensitive` takes any case and gives the value as listed. */
/* @__NO_SIDE_EFFECTS__ */
export function oneOf<const V extends string>(values: readonly V[], caseInsensitive = false): Parser<V> {
  return {
    type: values.join(" | "),
    parse(raw, name) {
      const value = caseInsensitive ? raw.toLowerCase() : raw;
      if (!(values as readonly string[]).includes(value)) {
        throw new ConfigError(`${name} must be one of ${values.join(", ")}`);
      }
      return value as V;
    },
    format: String,
    example: values[0] ?? "",
  };
}

/** Any text; with `minLength`, at least that many characters (keys and shared secrets). */
/* @__NO_SIDE_EFFECTS__ */
export function text({
  minLength = 0,
  example = "x",
}: {
  minLength?: number;
  example?: string;
} = {}): Parser<string> {
  return {
    type: minLength > 0 ? `text, at least ${minLength} characters` : "text",
    parse(raw, name) {
      if (raw.length < minLength) throw new ConfigError(`${name} must be at least ${minLength} characters`);
      return raw;
    },
    format: String,
    example: example.padEnd(minLength, "x"),
  };
}

export const url: Parser<string> = {
  type: "URL",
  parse(raw, name) {
    if (!URL.canParse(raw)) throw new ConfigError(`${name} is not a URL: "${raw}"`);
    return raw;
  },
  format: String,
  example: "https://example.com/",
};

/** An integer setting where unset, empty or 0 means none. */
/* @__NO_SIDE_EFFECTS__ */
export function optional(parser: Parser<number>): Parser<number | undefined> {
  return {
    ...parser,
    parse: (raw, name, env) => parser.parse(raw, name, env) || undefined,
  };
}

/**
 * A setting no longer read: set, it stops the function at start-up with
 * `instead`, so a deployment that still sets it learns the setting is gone
 * rather than having it silently ignored. Its value is always undefined.
 */
/* @__NO_SIDE_EFFECTS__ */
export function retired(instead: string): Parser<undefined> {
  return {
    type: "no longer read: leave unset",
    parse(_raw, name) {
      throw new ConfigError(`${name} is no longer read: ${instead}; unset it`);
    },
    format: () => "",
    example: "",
  };
}
