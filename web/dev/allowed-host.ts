/**
 * The Host check of the servers on a developer's machine, against DNS
 * rebinding: a page on attacker.example whose name is made to resolve to
 * 127.0.0.1 talks to them as its own origin (so CORS never applies), but its
 * requests still carry `Host: attacker.example`. Only the loopback names and
 * DEV_ALLOWED_HOSTS (lib/config.ts) are served, as Vite and
 * webpack-dev-server do. serverless offline applies the same list
 * (patches/serverless-offline*.patch).
 */

/** The host name of a Host header, without its port, lower case ("" when absent). */
export function hostName(header: string | undefined): string {
  // The same split as offline's HTTP server (hapi): everything before an optional :port.
  return (/^(.*?)(?::\d+)?$/.exec((header ?? "").trim())?.[1] ?? "").toLowerCase();
}

/** Whether a request with this Host header may be served. */
export function isAllowedHost(header: string | undefined, allowedHosts: readonly string[]): boolean {
  const name = hostName(header);
  return name !== "" && allowedHosts.includes(name);
}

export const BLOCKED_HOST_MESSAGE =
  "Blocked request: this Host is not allowed. Allow more host names with DEV_ALLOWED_HOSTS.";
