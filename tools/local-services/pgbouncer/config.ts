/** What a PgBouncer of ours is configured with: its ini and its auth file, for any of its homes. */

export interface User {
  name: string;
  password: string;
}

/**
 * The ini: Debian's defaults except where it listens, where it finds the
 * server and the users, the pooling mode, and max_client_conn (Debian's 100
 * would fail a test run that opens many small client pools; the bound that
 * matters, server connections per database and user, stays default_pool_size
 * = 20). No ignore_startup_parameters: startup parameters are refused.
 */
export function pgbouncerIni(options: {
  server: string;
  listenAddr: string;
  listenPort: number;
  authFile: string;
}): string {
  const [host, port] = options.server.split(":");
  return [
    "[databases]",
    `* = host=${host} port=${port}`,
    "",
    "[pgbouncer]",
    `listen_addr = ${options.listenAddr}`,
    `listen_port = ${options.listenPort}`,
    "unix_socket_dir =",
    "auth_type = md5",
    `auth_file = ${options.authFile}`,
    "pool_mode = transaction",
    "max_client_conn = 1000",
    "",
  ].join("\n");
}

export function userlist(user: User): string {
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  return `${quote(user.name)} ${quote(user.password)}\n`;
}
