import type pg from "pg";

/** What every transaction of the functions runs under, whatever connection it lands on. */
export interface RoleSettings {
  /** statement_timeout in milliseconds; 0: none. */
  statementTimeoutMs: number;
}

/**
 * Makes `settings` the defaults of `role` in the database `client` is
 * connected to (ALTER ROLE … IN DATABASE … SET), so every new server
 * connection of that role starts with them.
 *
 * Why a role default and not the alternatives: a startup parameter is refused
 * by transaction-mode poolers (PgBouncer: "unsupported startup parameter";
 * RDS Proxy: no command-line options); a session SET leaks, through such a
 * pooler, to whichever client gets the server connection next; and any SET,
 * even SET LOCAL, pins the session to one server connection on RDS Proxy and
 * costs a round trip per transaction. A role default costs nothing per call and
 * is the same on a direct connection, through PgBouncer and through RDS Proxy.
 * It takes effect on server connections opened after it is set.
 */
export async function applyRoleSettings(
  client: pg.ClientBase,
  role: string,
  settings: RoleSettings,
): Promise<void> {
  const { rows } = await client.query<{ db: string }>("SELECT current_database() AS db");
  const target = `ALTER ROLE ${client.escapeIdentifier(role)} IN DATABASE ${client.escapeIdentifier(rows[0]?.db ?? "")}`;
  const timeout = settings.statementTimeoutMs;
  if (!Number.isSafeInteger(timeout) || timeout < 0) throw new Error(`invalid statement timeout ${timeout}`);
  try {
    // ALTER ROLE takes no parameters; the value is a validated integer.
    await client.query(
      timeout > 0 ? `${target} SET statement_timeout = ${timeout}` : `${target} RESET statement_timeout`,
    );
  } catch (error) {
    if ((error as { code?: unknown }).code !== "42501") throw error;
    throw new Error(
      `migrate may not set the default statement timeout of role "${role}" (${target} SET statement_timeout): ` +
        "run migrate as that role, as a superuser, or as a role with CREATEROLE and ADMIN OPTION on it",
      { cause: error },
    );
  }
}
